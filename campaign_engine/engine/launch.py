"""Launching campaigns: validate, plan who gets which email when, then enrol (all or nothing).

`plan_launch` reads only: it checks the sequence, templates, time zone and name, picks the
contacts to enrol (not mode A, not active in another running campaign unless `allow_overlap`)
and lays out the automated emails per day, step and segment. `launch` writes that plan.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlmodel import Session, select

from campaign_engine.core.config import Settings
from campaign_engine.core.errors import CampaignEngineError, InvalidInput
from campaign_engine.core.kinds import CampaignAction, Channel, EnrollmentStatus
from campaign_engine.engine.enrolment import plan_enrollments
from campaign_engine.reps.drafts import create_campaign_drafts
from campaign_engine.reps.unowned_drafts import WaitingAccount, alert_unowned
from campaign_engine.sending.campaigns import renderer_for, schedule_for, sequence_of
from campaign_engine.sending.planner import Candidate, Schedule, parse_send_days, zone
from campaign_engine.sending.sequences import deadline_before, load_sequence
from campaign_engine.sending.warmup import Ramp, ramp_calendar, ramp_for
from campaign_engine.sending.warmup_facts import engagement, first_send
from campaign_engine.store.campaign_log import log_campaign_action
from campaign_engine.store.db import Database
from campaign_engine.store.models import Account, Campaign, Contact, Enrollment, ExclusionDeadline

__all__ = [
    "LateJoiners",
    "LaunchPlan",
    "LaunchResult",
    "PlannedSend",
    "check_timezone",
    "launch",
    "parse_day",
    "plan_launch",
]


@dataclass(frozen=True)
class LateJoiners:
    """Launch options for contacts who become eligible after launch."""

    enabled: bool = True
    until: date | None = None  # last local day one may start; None: the day of the last step
    send_days: str | None = None  # "mon-fri"...; None: the sequence's own (every day if none)


@dataclass(frozen=True)
class PlannedSend:
    """One line of a dry run: on `day` (campaign time zone), email `step` to `contacts` of a
    segment. More columns (a contact time zone, say) can join the key without changing users."""

    day: date
    step: int
    subject: str
    segment: str
    contacts: int


@dataclass
class LaunchPlan:
    """What a launch would do; nothing of it is written until `launch`."""

    campaign: Campaign
    schedule: Schedule
    enrollments: list[dict[str, object]] = field(default_factory=list)
    enrolled: Counter[tuple[str, str]] = field(default_factory=Counter)  # (segment, channel)
    not_enrolled: int = 0  # outreach mode A
    overlapping: int = 0  # active in another running campaign (left out)
    contacts: int = 0  # every contact in the database
    sends: list[PlannedSend] = field(default_factory=list)
    due_at_once: int = 0  # automated emails already due at `now` (a start in the past)
    first_sends: dict[str, datetime] = field(default_factory=dict)  # zone -> first email (UTC)
    exclusion_deadline: date | None = None  # the sequence's default ("friday before launch")
    warmup: str = ""  # how the domain's warm-up ramp spreads the emails; "" = no warm-up
    without_rep: Counter[str] = field(default_factory=Counter)  # rep channel, no rep: by segment

    @property
    def starts_in_the_past(self) -> bool:
        return self.due_at_once > 0

    def why_nobody(self) -> str:
        """Why no contact would be enrolled, and what to do."""
        if self.contacts == 0:
            return "no contacts imported yet: run `campaign import contacts FILE.csv` first"
        return (
            f"none of the {self.contacts} contact(s) can be enrolled: {self.not_enrolled} in "
            f"outreach mode A (do nothing), {self.overlapping} active in another running "
            "campaign (add --allow-overlap to enrol them anyway)"
        )


@dataclass(frozen=True)
class LaunchResult:
    campaign_id: int
    name: str
    enrolled: Counter[tuple[str, str]] = field(default_factory=Counter)  # (segment, channel)
    not_enrolled: int = 0  # outreach mode A
    overlapping: int = 0
    first_sends: dict[str, datetime] = field(default_factory=dict)  # zone -> first email (UTC)
    exclusion_deadline: date | None = None
    # accounts no rep owns, whose contacts' drafts wait for one
    unowned: list[WaitingAccount] = field(default_factory=list)


def parse_day(value: str, what: str) -> date:
    """A YYYY-MM-DD day, or InvalidInput naming `what` (the option or field) and the form."""
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(f"{what} {value!r} is not a date: expected YYYY-MM-DD") from None


def check_timezone(timezone: str) -> str:
    """The IANA name, or InvalidInput naming the value and the expected form."""
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            f"time zone {timezone!r} is unknown: expected an IANA name such as Europe/Paris "
            "or America/New_York"
        ) from None
    return timezone


def plan_launch(
    db: Database,
    settings: Settings,
    sequence_key: str,
    start: date,
    now: datetime,
    name: str | None = None,
    timezone: str | None = None,
    allow_overlap: bool = False,
    late: LateJoiners | None = None,
) -> LaunchPlan:
    """Everything `launch` checks and decides, without writing anything."""
    late = late or LateJoiners()
    sequence = load_sequence(settings.sequences_dir, sequence_key)
    renderer = renderer_for(settings, sequence)  # refuses broken templates before any write
    send_days = sequence.send_days if late.send_days is None else late.send_days
    try:
        parse_send_days(send_days)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    campaign = Campaign(
        name=name or f"{sequence_key} {start.isoformat()}",
        sequence_key=sequence_key,
        sequence_json=sequence.to_json(),
        links_json=json.dumps(renderer.link_registry),
        start_date=start,
        timezone=check_timezone(timezone or settings.timezone),
        window_start=_clock(settings.window_start.isoformat("seconds")),
        window_end=_clock(settings.window_end.isoformat("seconds")),
        send_days=send_days,
        late_joiners=late.enabled,
        enroll_until=late.until or start + timedelta(days=sequence.steps[-1].day),
        created_at=now,
    )
    plan = LaunchPlan(campaign, schedule_for(campaign, sequence))
    plan.exclusion_deadline = deadline_before(sequence.exclusion_deadline, start)
    with db.session() as session:
        if session.exec(select(Campaign.id).where(Campaign.name == campaign.name)).first():
            raise CampaignEngineError(
                f"a campaign named {campaign.name!r} exists already; pick another name"
            )
        busy = set() if allow_overlap else _in_running_campaigns(session)
        plan.contacts = len(session.exec(select(Contact.id)).all())
        rows, enrolled = plan_enrollments(session, campaign, now, skip=busy.__contains__)
    plan.enrollments = [{k: v for k, v in row.items() if k != "campaign_id"} for row in rows]
    plan.enrolled, plan.not_enrolled, plan.overlapping = (
        enrolled.counts,
        enrolled.not_enrolled,
        enrolled.skipped,
    )
    plan.first_sends, plan.without_rep = enrolled.first_sends, enrolled.without_rep
    ramp = ramp_for(settings)
    if ramp is None:
        plan.sends = _sends(plan, enrolled.counts)
    else:
        plan.sends, plan.warmup = _ramped_sends(db, plan, ramp, now)
    plan.due_at_once = sum(
        1
        for row in plan.enrollments
        if isinstance(due := row["next_due_at"], datetime) and due <= now
    )
    return plan


def _sends(plan: LaunchPlan, enrolled: Counter[tuple[str, str]]) -> list[PlannedSend]:
    """Every automated email on its scheduled day, per step and segment."""
    automated_by_segment: Counter[str] = Counter()
    for (segment, channel), count in enrolled.items():
        if channel == Channel.AUTOMATED:
            automated_by_segment[segment] += count
    sends = []
    for step_number, step in enumerate(sequence_of(plan.campaign).steps, start=1):
        day = plan.schedule.scheduled_at(step_number).date()
        for segment, count in sorted(automated_by_segment.items()):
            if count:
                sends.append(PlannedSend(day, step_number, step.subject, segment, count))
    return sends


_RAMPED = ("next_due_at", "timezone", "first_day", "contact_id")  # what the ramp needs of a row


def _ramped_sends(
    db: Database, plan: LaunchPlan, ramp: Ramp, now: datetime
) -> tuple[list[PlannedSend], str]:
    """Every automated email on the day the sending domain's warm-up ramp lets it go, and a
    line saying how (the ramp, as the real run applies it)."""
    candidates, first_days, contacts = [], {}, {}
    for number, row in enumerate(plan.enrollments, start=1):  # their ids will follow this order
        due, tz, first_day, contact = (row[key] for key in _RAMPED)
        if isinstance(due, datetime) and isinstance(first_day, date) and isinstance(contact, int):
            candidates.append(Candidate(number, 1, due, tz if isinstance(tz, str) else None))
            first_days[number], contacts[number] = first_day, contact
    with db.session() as session:
        seen = engagement(session)
        first = first_send(session, ramp)
        segments = dict(session.exec(select(Contact.id, Account.segment).join(Account)).all())
    by_enrollment = {n: seen[c] for n, c in contacts.items() if c in seen}
    sends = ramp_calendar(candidates, by_enrollment, first_days, plan.schedule, ramp, first, now)
    steps = sequence_of(plan.campaign).steps
    counts: Counter[tuple[date, int, str]] = Counter(
        (at.astimezone(zone(plan.campaign.timezone)).date(), step, segments[contacts[n]])
        for n, step, at in sends
    )
    rows_out = [
        PlannedSend(day, step, steps[step - 1].subject, segment, count)
        for (day, step, segment), count in sorted(counts.items())
    ]
    return rows_out, ramp.describe(ramp.day_index(ramp.day_of(now), first), first is not None)


def launch(
    db: Database,
    settings: Settings,
    sequence_key: str,
    start: date,
    now: datetime,
    name: str | None = None,
    timezone: str | None = None,
    allow_overlap: bool = False,
    plan: LaunchPlan | None = None,
    late: LateJoiners | None = None,
    by: str = "",
) -> LaunchResult:
    """Create the campaign and enrol the planned contacts; all or nothing. `by` (who launched
    it) goes into the campaign's log.

    Refuses (CampaignEngineError saying why) a launch that would enrol nobody.
    """
    plan = plan or plan_launch(
        db, settings, sequence_key, start, now, name, timezone, allow_overlap, late
    )
    if not plan.enrollments:
        raise CampaignEngineError(f"nothing launched: {plan.why_nobody()}")
    campaign = plan.campaign
    with db.session() as session:
        session.add(campaign)
        session.flush()
        assert campaign.id is not None
        rows = [{**row, "campaign_id": campaign.id} for row in plan.enrollments]
        session.bulk_insert_mappings(Enrollment, rows)
        if plan.exclusion_deadline is not None:
            rule = f"the sequence ({sequence_of(campaign).exclusion_deadline})"
            session.add(
                ExclusionDeadline(
                    campaign_id=campaign.id,
                    deadline=plan.exclusion_deadline,
                    set_by=rule,
                    set_at=now,
                )
            )
        drafts = create_campaign_drafts(session, settings, campaign, now)  # the rep channel
        unowned = alert_unowned(session, settings, campaign, drafts, now)
        log_campaign_action(session, campaign.id, CampaignAction.LAUNCHED, by, now)
        return LaunchResult(
            campaign.id,
            campaign.name,
            plan.enrolled,
            plan.not_enrolled,
            plan.overlapping,
            plan.first_sends,
            plan.exclusion_deadline,
            unowned,
        )


def _in_running_campaigns(session: Session) -> set[int]:
    """Contacts with an active enrollment in any campaign."""
    query = select(Enrollment.contact_id).where(Enrollment.status == EnrollmentStatus.ACTIVE)
    return set(session.exec(query.distinct()).all())


def _clock(value: str) -> str:
    """'09:00:00' -> '09:00' (seconds only when they matter), as campaigns store the window."""
    return value[:5] if value.endswith(":00") else value
