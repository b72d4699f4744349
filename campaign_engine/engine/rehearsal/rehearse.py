"""`campaign rehearse` and the console's Rehearse button: a whole campaign in simulated time on
a scratch copy of the database, into a local sink; the real database is only read.

The copy is launched with the options of a real launch, then the real tick's campaign work
(late joiners, planner, send-time checks, frequency cap, dispatcher) runs in simulated time, so
the rehearsal sends to exactly whom and on exactly the local days the real run would, given the
same data. Its tracking links, unsubscribe links and reply tags are signed with a key of its
own: a click in a rehearsal email never counts in (or changes) the real campaign.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from campaign_engine.core.config import Settings
from campaign_engine.core.errors import CampaignEngineError
from campaign_engine.engine.launch import launch, plan_launch
from campaign_engine.engine.rehearsal.findings import (
    calendar,
    conflicts,
    enrolled_contacts,
    other_campaigns,
    recipient_plans,
)
from campaign_engine.engine.rehearsal.model import Conflict, LaunchOptions, Rehearsal
from campaign_engine.engine.rehearsal.samples import pick_samples, sample_emails
from campaign_engine.engine.rehearsal.scratch import scratch_copy
from campaign_engine.engine.rehearsal.simulate import simulate
from campaign_engine.engine.rehearsal.sink import RehearsalSink
from campaign_engine.sending.campaigns import sequence_of
from campaign_engine.sending.lint import lint_sequence
from campaign_engine.sending.mime import wire_address
from campaign_engine.sending.relay_state import clear_pause
from campaign_engine.store.db import Database

__all__ = ["SAMPLES_DIR", "rehearse"]

SAMPLES_DIR = "samples"  # where in a rehearsal's directory its sample emails are
_SLACK = timedelta(days=60)  # simulated past the last planned step (frequency cap, catch-up)


def rehearse(
    db: Database,
    settings: Settings,
    options: LaunchOptions,
    now: datetime,
    directory: Path,
    samples_per_group: int = 2,
    spam: bool = True,
    on_tick: Callable[[datetime], None] | None = None,
) -> Rehearsal:
    """Rehearse launching `options` at `now`; its sample emails go to `directory`/samples;
    `on_tick` hears each simulated moment.

    Raises what `campaign launch` would raise (unknown sequence, taken name...) and
    CampaignEngineError when nobody would be enrolled.
    """
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "scratch.db"
    scratch = scratch_copy(db, path)
    try:
        return _rehearse(
            scratch, settings, options, now, directory, samples_per_group, spam, on_tick
        )
    finally:
        scratch.dispose()
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


def _rehearse(
    scratch: Database,
    settings: Settings,
    options: LaunchOptions,
    now: datetime,
    directory: Path,
    samples_per_group: int,
    spam: bool,
    on_tick: Callable[[datetime], None] | None,
) -> Rehearsal:
    own_keys = replace(settings, secret=secrets.token_hex(32))
    clear_pause(scratch)  # a paused relay is the relay's matter, not the campaign's
    plan = plan_launch(
        scratch, own_keys, options.sequence, options.start, now, options.name,
        options.timezone, options.allow_overlap, options.late,
    )  # fmt: skip
    if not plan.enrollments:
        raise CampaignEngineError(f"nothing to rehearse: {plan.why_nobody()}")
    with scratch.session() as session:
        running = other_campaigns(session, None)
    campaign_id = launch(
        scratch, own_keys, options.sequence, options.start, now, plan=plan
    ).campaign_id
    campaign, sequence = plan.campaign, sequence_of(plan.campaign)
    with scratch.session() as session:
        people = enrolled_contacts(session, campaign_id)
    chosen = pick_samples(people, sequence, samples_per_group)
    sink = RehearsalSink({wire_address(p.email).address for p in chosen})
    first_day = max(now.date(), plan.schedule.launch_first_day)
    horizon = datetime.combine(first_day, now.timetz()) + timedelta(days=sequence.steps[-1].day)
    simulated = asyncio.run(
        simulate(scratch, own_keys, sink, campaign_id, now, horizon + _SLACK, on_tick)
    )
    with scratch.session() as session:
        plans = recipient_plans(
            session, campaign_id, people, sequence, simulated.held, campaign.timezone
        )
        days = calendar(session, campaign_id)
        samples = sample_emails(
            session, campaign_id, chosen, sequence, sink.kept, directory / SAMPLES_DIR
        )
    lint = lint_sequence(settings, options.sequence, spam=spam)
    found = conflicts(
        plans, people, plan.overlapping, options.allow_overlap, running, campaign.timezone
    )
    if plan.starts_in_the_past:
        found.insert(0, Conflict(
            "start in the past", plan.due_at_once,
            f"the start {options.start.isoformat()} is in the past: {plan.due_at_once} email(s) "
            "go out at the first tick, not on their planned day",
        ))  # fmt: skip
    if lint.errors:
        found.append(Conflict("lint", lint.errors, f"{lint.errors} lint error(s) in the emails"))
    enrolled: Counter[str] = Counter(
        {f"{segment} {channel}": n for (segment, channel), n in plan.enrolled.items()}
    )
    return Rehearsal(
        id=directory.name,
        options=options,
        campaign=campaign.name,
        rehearsed_at=now,
        simulated_until=simulated.until or now,
        timezone=campaign.timezone,
        window=f"{campaign.window_start}-{campaign.window_end}",
        send_days=campaign.send_days,
        enrolled=dict(sorted(enrolled.items())),
        not_enrolled=plan.not_enrolled,
        overlapping=plan.overlapping,
        due_at_once=plan.due_at_once,
        emails=sum(day.emails for day in days),
        calendar=days,
        recipients=plans,
        samples=samples,
        lint=lint,
        conflicts=found,
        warmup=plan.warmup,
    )
