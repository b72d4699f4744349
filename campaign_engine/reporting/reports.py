"""Report numbers read from the database: delivery status per step, and the full funnel report.

`campaign_statuses` is what `campaign status` prints; `list_messages` what `campaign messages`
lists; `load_report` the funnel report (and the dashboard renders it): counted in SQL by
`report_queries`, assembled by the pure `funnel.compute_report`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from campaign_engine.core.kinds import MessageState
from campaign_engine.reporting import funnel, report_queries
from campaign_engine.reporting import report_model as model
from campaign_engine.reporting.local_days import late_joiner_count, sends_per_local_day
from campaign_engine.reps import reminder_mail
from campaign_engine.sending.campaigns import sequence_of
from campaign_engine.sending.delivery_record import failure_reason
from campaign_engine.store.models import (
    Account,
    Campaign,
    Contact,
    Enrollment,
    Message,
)
from campaign_engine.store.queries import campaign_by_name

__all__ = [
    "CampaignStatus",
    "MessageLine",
    "ReminderCounts",
    "StepStatus",
    "campaign_statuses",
    "due_reminder_counts",
    "list_messages",
    "load_report",
    "no_reminders",
    "to_jsonable",
]

# Where "reminders pending" per rep come from: (session, campaign ids) -> {(campaign id, rep id): n}.
# `campaign report` plugs in `due_reminder_counts` (the rep-draft reminders due now); a source
# that has none to offer passes `no_reminders`.
ReminderCounts = Callable[[Session, list[int]], Mapping[tuple[int, int], int]]


def no_reminders(session: Session, campaign_ids: list[int]) -> Mapping[tuple[int, int], int]:
    return {}


def due_reminder_counts(now: datetime, reminder_days: int) -> ReminderCounts:
    """Pending = next-step reminders due at `now` for the emails reps sent, per campaign and rep."""

    def count(session: Session, campaign_ids: list[int]) -> Mapping[tuple[int, int], int]:
        wanted = set(campaign_ids)
        return Counter(
            (line.reminder.campaign_id, line.rep_id)
            for line in reminder_mail.reminder_lines(session, now, reminder_days)
            if line.reminder.campaign_id in wanted
        )

    return count


@dataclass
class StepStatus:
    step: int
    subject: str
    day: int
    states: dict[str, int] = field(default_factory=dict)
    skipped_reasons: dict[str, int] = field(default_factory=dict)
    deferred_reasons: dict[str, int] = field(default_factory=dict)  # queued/retry held back
    failed_reasons: dict[str, int] = field(default_factory=dict)


@dataclass
class CampaignStatus:
    name: str
    sequence: str
    start_date: str
    timezone: str
    window: str
    enrolled: dict[str, int] = field(default_factory=dict)  # "automated/active" -> n
    steps: list[StepStatus] = field(default_factory=list)
    next_due_at: str | None = None
    late_joiners: int = 0  # enrolled by a tick after launch
    sent_per_local_day: dict[str, int] = field(default_factory=dict)  # each contact's calendar


def campaign_statuses(
    session: Session,
    campaign_name: str | None = None,
    counted_local_days: Mapping[str, dict[str, int]] | None = None,
) -> list[CampaignStatus]:
    """Every campaign's status (or one's); `counted_local_days` (campaign name -> sends per local
    day) spares counting them again when the caller has (the report has)."""
    query = select(Campaign).order_by(col(Campaign.id))
    if campaign_name:
        query = query.where(Campaign.name == campaign_name)
    result = []
    for campaign in session.exec(query):
        sequence = sequence_of(campaign)
        status = CampaignStatus(
            name=campaign.name,
            sequence=campaign.sequence_key,
            start_date=campaign.start_date.isoformat(),
            timezone=campaign.timezone,
            window=f"{campaign.window_start}-{campaign.window_end}",
        )
        enrolled = session.exec(
            select(Enrollment.channel, Enrollment.status, sa.func.count())
            .where(Enrollment.campaign_id == campaign.id)
            .group_by(col(Enrollment.channel), col(Enrollment.status))
        ).all()
        status.enrolled = {f"{channel}/{state}": n for channel, state, n in enrolled}
        states: dict[int, Counter[str]] = {step.number: Counter() for step in sequence.steps}
        reasons: dict[int, Counter[str]] = {step.number: Counter() for step in sequence.steps}
        rows = session.exec(
            select(Message.step, Message.state, Message.skip_reason, sa.func.count())
            .where(Message.campaign_id == campaign.id)
            .group_by(col(Message.step), col(Message.state), col(Message.skip_reason))
        ).all()
        deferred: dict[int, Counter[str]] = {step.number: Counter() for step in sequence.steps}
        for step, state, reason, count in rows:
            states[step][state] += count
            if state == MessageState.SKIPPED:
                reasons[step][reason or "unknown"] += count
            elif reason and state in (MessageState.QUEUED, MessageState.RETRY):
                deferred[step][reason] += count  # waiting, e.g. on the frequency cap
        failures: dict[int, Counter[str]] = {step.number: Counter() for step in sequence.steps}
        for step, error in session.exec(
            select(Message.step, Message.error).where(
                Message.campaign_id == campaign.id, Message.state == MessageState.FAILED
            )
        ).all():
            failures[step][failure_reason(error)] += 1
        status.steps = [
            StepStatus(
                step=step.number,
                subject=step.subject,
                day=step.day,
                states={s.value: states[step.number][s.value] for s in MessageState},
                skipped_reasons=dict(reasons[step.number]),
                deferred_reasons=dict(deferred[step.number]),
                failed_reasons=dict(failures[step.number]),
            )
            for step in sequence.steps
        ]
        next_due: datetime | None = session.exec(
            select(sa.func.min(Enrollment.next_due_at)).where(Enrollment.campaign_id == campaign.id)
        ).one()
        status.next_due_at = next_due.isoformat() if next_due else None
        assert campaign.id is not None
        status.late_joiners = late_joiner_count(session, campaign.id)
        counted = (counted_local_days or {}).get(campaign.name)
        status.sent_per_local_day = (
            counted
            if counted is not None
            else sends_per_local_day(session, campaign.id, campaign.timezone)
        )
        result.append(status)
    return result


def to_jsonable(statuses: list[CampaignStatus]) -> list[dict[str, Any]]:
    return [asdict(status) for status in statuses]


def load_report(
    session: Session,
    now: datetime,
    campaign_name: str | None = None,
    reminders: ReminderCounts = no_reminders,
) -> model.Report:
    """The funnel report of every campaign (or one), computed from the rows as they are now."""
    query = select(Campaign).order_by(col(Campaign.id))
    if campaign_name:
        query = query.where(Campaign.name == campaign_name)
    campaigns = [
        model.CampaignRow(
            id=c.id or 0,
            name=c.name,
            sequence=sequence_of(c),
            links=c.link_registry(),
            start_date=c.start_date,
            timezone=c.timezone,
        )
        for c in session.exec(query)
    ]
    counts = report_queries.count_report(
        session, tuple(campaigns), now, reminders(session, [c.id for c in campaigns])
    )
    return funnel.compute_report(counts, now)


@dataclass(frozen=True)
class MessageLine:
    """One message as `campaign messages` lists it: to whom, in which state, and why."""

    campaign: str
    step: int
    to: str
    account: str
    segment: str
    subject: str
    state: str
    sent_at: datetime | None
    note: str  # why it was skipped, or its last error ("" when neither)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "sent_at": self.sent_at.isoformat() if self.sent_at else None}


def list_messages(
    session: Session,
    campaign_name: str | None = None,
    state: str | None = None,
    limit: int = 0,
) -> list[MessageLine]:
    """Messages by send time (then id), of one campaign and/or state, at most `limit` (0: all).

    An unknown campaign name raises NotFound.
    """
    query = (
        select(Message, Contact, Account, Campaign)
        .join(Contact, col(Contact.id) == Message.contact_id)
        .join(Account, col(Account.id) == Contact.account_id)
        .join(Campaign, col(Campaign.id) == Message.campaign_id)
        .order_by(col(Message.sent_at), col(Message.id))
    )
    if campaign_name:
        query = query.where(Campaign.id == campaign_by_name(session, campaign_name).id)
    if state:
        query = query.where(Message.state == state)
    if limit:
        query = query.limit(limit)
    return [
        MessageLine(
            campaign=campaign.name,
            step=message.step,
            to=contact.email,
            account=account.name,
            segment=account.segment,
            subject=message.subject,
            state=message.state,
            sent_at=message.sent_at,
            note=message.skip_reason or message.error or "",
        )
        for message, contact, account, campaign in session.exec(query).all()
    ]
