"""Launching campaigns: validate the sequence, snapshot it, enrol the eligible contacts."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlmodel import select

from campaign_engine.core.config import Settings
from campaign_engine.core.errors import CampaignEngineError
from campaign_engine.engine.enrolment import enrol_contacts
from campaign_engine.sending.campaigns import renderer_for, schedule_for
from campaign_engine.sending.planner import parse_send_days
from campaign_engine.sending.sequences import load_sequence
from campaign_engine.store.db import Database
from campaign_engine.store.models import Campaign

__all__ = ["LateJoiners", "LaunchResult", "launch"]


@dataclass(frozen=True)
class LateJoiners:
    """Launch options for contacts who become eligible after launch."""

    enabled: bool = True
    until: date | None = None  # last local day one may start; None: the day of the last step
    send_days: str | None = None  # "mon-fri"...; None: the sequence's own (every day if none)


@dataclass(frozen=True)
class LaunchResult:
    campaign_id: int
    name: str
    enrolled: Counter[tuple[str, str]] = field(default_factory=Counter)  # (segment, channel)
    not_enrolled: int = 0  # outreach mode A
    first_sends: dict[str, datetime] = field(default_factory=dict)  # zone -> first email (UTC)


def launch(
    db: Database,
    settings: Settings,
    sequence_key: str,
    start: date,
    now: datetime,
    name: str | None = None,
    timezone: str | None = None,
    late: LateJoiners | None = None,
) -> LaunchResult:
    """Create the campaign and enrol every contact not in mode A; all or nothing."""
    late = late or LateJoiners()
    sequence = load_sequence(settings.sequences_dir, sequence_key)
    renderer = renderer_for(settings, sequence)  # refuses broken templates before any write
    name = name or f"{sequence_key} {start.isoformat()}"
    send_days = sequence.send_days if late.send_days is None else late.send_days
    try:
        parse_send_days(send_days)
    except ValueError as exc:
        raise CampaignEngineError(str(exc)) from None
    campaign = Campaign(
        name=name,
        sequence_key=sequence_key,
        sequence_json=sequence.to_json(),
        links_json=json.dumps(renderer.link_registry),
        start_date=start,
        timezone=timezone or settings.timezone,
        window_start=settings.window_start.isoformat(
            "minutes" if not settings.window_start.second else "seconds"
        ),
        window_end=settings.window_end.isoformat(
            "minutes" if not settings.window_end.second else "seconds"
        ),
        send_days=send_days,
        late_joiners=late.enabled,
        enroll_until=late.until or start + timedelta(days=sequence.steps[-1].day),
        created_at=now,
    )
    schedule_for(campaign, sequence)  # validates the time zone and window
    with db.session() as session:
        if session.exec(select(Campaign.id).where(Campaign.name == name)).first() is not None:
            raise CampaignEngineError(f"a campaign named {name!r} exists already; pick --name")
        session.add(campaign)
        session.flush()
        assert campaign.id is not None
        enrolled = enrol_contacts(session, settings, campaign, now)
        return LaunchResult(
            campaign.id, name, enrolled.counts, enrolled.not_enrolled, enrolled.first_sends
        )
