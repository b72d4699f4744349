"""Report numbers read from the database: delivery status per step, and the full funnel report.

`campaign_statuses` is what `campaign status` prints; `list_messages` what `campaign messages`
lists; `load_report` the funnel report (and the dashboard renders it): counted in SQL by
`report_queries`, assembled by the pure `funnel.compute_report`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from campaign_engine.core.kinds import Channel, EnrollmentStatus, EventKind, MessageState
from campaign_engine.reporting import funnel, report_queries
from campaign_engine.reporting import report_model as model
from campaign_engine.reporting.local_days import sends_per_local_day
from campaign_engine.reporting.request_lists import handled_by_campaign
from campaign_engine.reps import reminder_query
from campaign_engine.sending.campaigns import sequence_of
from campaign_engine.sending.delivery_record import failure_reason
from campaign_engine.store import message_counts
from campaign_engine.store.models import (
    WITH_REASON,
    Account,
    Campaign,
    Contact,
    Enrollment,
    Event,
    Message,
)
from campaign_engine.store.queries import campaign_by_name

__all__ = [
    "CampaignStatus",
    "MessageLine",
    "ReminderCounts",
    "StepStatus",
    "campaign_statuses",
    "count_messages",
    "due_reminder_counts",
    "list_messages",
    "load_report",
    "no_reminders",
    "recent_send_rate",
    "step_counts",
    "to_jsonable",
]

RATE_SPAN = timedelta(minutes=10)  # `campaign status` estimates the backlog at this span's rate

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
        return {
            key: n
            for key, n in reminder_query.due_counts(session, now, reminder_days).items()
            if key[0] in wanted
        }

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
    bounced_by_dsn: int = 0  # taken by the relay, bounced later by a DSN (the address suppressed)
    complaints: int = 0  # feedback-loop complaints about this step's emails
    # With a `now` (else 0): contacts on the automated channel whose turn for this step has
    # come but who are not queued yet (the backlog), or comes later; and the queued or retry
    # messages due now (held back only by a relay pause, if any).
    backlog: int = 0
    later: int = 0
    due_waiting: int = 0


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

    @property
    def window_text(self) -> str:
        """The send window as it applies: in each contact's own zone, not the campaign's."""
        start, end = self.window.split("-")
        return (
            f"{start}–{end} in each contact's time zone ({self.timezone} for contacts without one)"
        )


def campaign_statuses(
    session: Session,
    campaign_name: str | None = None,
    counted_local_days: Mapping[str, dict[str, int]] | None = None,
    now: datetime | None = None,
) -> list[CampaignStatus]:
    """Every campaign's status (or one's); `counted_local_days` (campaign name -> sends per local
    day) spares counting them again when the caller has (the report has); with `now`, each step's
    backlog too. Each count is one statement grouped by campaign, whatever the number of
    campaigns."""
    query = select(Campaign).order_by(col(Campaign.id))
    if campaign_name:
        query = query.where(Campaign.name == campaign_name)
    campaigns = list(session.exec(query))
    ids = [campaign.id for campaign in campaigns if campaign.id is not None]
    if not ids:
        return []
    enrolled, next_due, late = _enrolments(session, ids)
    steps = step_counts(session, ids)
    _count_bounces_and_complaints(session, ids, steps)
    if now is not None:
        _count_backlog(session, ids, now, steps)
    counted = counted_local_days or {}
    missing = [c.id for c in campaigns if c.name not in counted and c.id is not None]
    local_days = sends_per_local_day(session, missing) if missing else {}
    result = []
    for campaign in campaigns:
        assert campaign.id is not None
        due: datetime | None = next_due.get(campaign.id)
        result.append(
            CampaignStatus(
                name=campaign.name,
                sequence=campaign.sequence_key,
                start_date=campaign.start_date.isoformat(),
                timezone=campaign.timezone,
                window=f"{campaign.window_start}-{campaign.window_end}",
                enrolled=enrolled[campaign.id],
                steps=[
                    replace(
                        steps.get((campaign.id, step.number)) or _no_messages(step.number),
                        subject=step.subject,
                        day=step.day,
                    )
                    for step in sequence_of(campaign).steps
                ],
                next_due_at=due.isoformat() if due else None,
                late_joiners=late[campaign.id],
                sent_per_local_day=counted.get(campaign.name) or local_days.get(campaign.id, {}),
            )
        )
    return result


def _enrolments(
    session: Session, ids: list[int]
) -> tuple[dict[int, dict[str, int]], dict[int, datetime | None], Counter[int]]:
    """Per campaign, in one pass over its enrolments: how many per channel and state
    ("automated/active" -> n), the earliest next due time, and the late joiners (enrolled by a
    tick after launch)."""
    enrolled: dict[int, dict[str, int]] = {campaign_id: {} for campaign_id in ids}
    next_due: dict[int, datetime | None] = dict.fromkeys(ids)
    late: Counter[int] = Counter()
    e = Enrollment.__table__.c  # type: ignore[attr-defined]
    late_joiner = sa.case((e.late_joiner == True, 1), else_=0)  # noqa: E712
    for campaign_id, channel, state, n, due, joined_late in session.execute(
        sa.select(
            e.campaign_id,
            e.channel,
            e.status,
            sa.func.count(),
            sa.func.min(e.next_due_at),
            sa.func.sum(late_joiner),
        )
        .where(e.campaign_id.in_(ids))
        .group_by(e.campaign_id, e.channel, e.status)
    ):
        enrolled[campaign_id][f"{channel}/{state}"] = n
        earliest = next_due[campaign_id]
        if due is not None and (earliest is None or due < earliest):
            next_due[campaign_id] = due
        late[campaign_id] += int(joined_late or 0)
    return enrolled, next_due, late


def _count_bounces_and_complaints(
    session: Session, ids: list[int], steps: dict[tuple[int, int], StepStatus]
) -> None:
    """Bounces that came back as DSNs after the relay took the message (the message stays
    `sent`; a refusal at RCPT TO is already counted `bounced`), and complaints, per step."""
    dsn = sa.and_(col(Event.kind) == EventKind.BOUNCE, col(Message.state) != MessageState.BOUNCED)
    for campaign_id, number, kind, n in session.execute(
        sa.select(
            col(Message.campaign_id),
            col(Message.step),
            col(Event.kind),
            sa.func.count(sa.distinct(col(Event.message_id))),
        )
        .join(Message, col(Message.id) == Event.message_id)
        .where(
            col(Message.campaign_id).in_(ids),
            sa.or_(dsn, col(Event.kind) == EventKind.COMPLAINT),
        )
        .group_by(col(Message.campaign_id), col(Message.step), col(Event.kind))
    ).all():
        step = steps.setdefault((campaign_id, number), _no_messages(number))
        if kind == EventKind.BOUNCE:
            step.bounced_by_dsn = n
        else:
            step.complaints = n


def _count_backlog(
    session: Session, ids: list[int], now: datetime, steps: dict[tuple[int, int], StepStatus]
) -> None:
    """Per step: contacts due and not queued yet, contacts due later, and queued or retry
    messages due now."""
    due_now = col(Enrollment.next_due_at) <= now
    for campaign_id, number, due, n in session.execute(
        sa.select(col(Enrollment.campaign_id), col(Enrollment.next_step), due_now, sa.func.count())
        .where(
            col(Enrollment.campaign_id).in_(ids),
            col(Enrollment.channel) == Channel.AUTOMATED,
            col(Enrollment.status) == EnrollmentStatus.ACTIVE,
            col(Enrollment.next_due_at).is_not(None),
        )
        .group_by(col(Enrollment.campaign_id), col(Enrollment.next_step), due_now)
    ).all():
        step = steps.setdefault((campaign_id, number), _no_messages(number))
        if due:
            step.backlog = n
        else:
            step.later = n
    for campaign_id, number, n in session.execute(
        sa.select(col(Message.campaign_id), col(Message.step), sa.func.count())
        .where(
            col(Message.state).in_((MessageState.QUEUED, MessageState.RETRY)),
            col(Message.next_attempt_at) <= now,
            col(Message.campaign_id).in_(ids),
        )
        .group_by(col(Message.campaign_id), col(Message.step))
    ).all():
        steps.setdefault((campaign_id, number), _no_messages(number)).due_waiting = n


def recent_send_rate(session: Session, now: datetime, span: timedelta = RATE_SPAN) -> float:
    """Emails the relay took per second over the last `span`, every campaign together."""
    sent = session.exec(
        select(sa.func.count()).where(
            Message.state == MessageState.SENT,
            col(Message.sent_at) > now - span,
            col(Message.sent_at) <= now,
        )
    ).one()
    return sent / span.total_seconds()


def step_counts(session: Session, ids: list[int]) -> dict[tuple[int, int], StepStatus]:
    """(campaign id, step) -> its messages per state (the counters kept as they change), with
    the reasons of the skipped, the held back and the failed (counted: they are few)."""
    steps: dict[tuple[int, int], StepStatus] = {}

    def step_of(campaign_id: int, number: int) -> StepStatus:
        return steps.setdefault((campaign_id, number), _no_messages(number))

    for (campaign_id, number, state), n in message_counts.kept(session.connection(), ids).items():
        _add(step_of(campaign_id, number).states, state, n)
    for campaign_id, number, state, reason, n in session.execute(
        sa.select(
            col(Message.campaign_id),
            col(Message.step),
            col(Message.state),
            col(Message.skip_reason),
            sa.func.count(),
        )
        .where(col(Message.campaign_id).in_(ids), WITH_REASON)
        .group_by(
            col(Message.campaign_id),
            col(Message.step),
            col(Message.state),
            col(Message.skip_reason),
        )
    ).all():
        step = step_of(campaign_id, number)
        if state == MessageState.SKIPPED:
            _add(step.skipped_reasons, reason or "unknown", n)
        elif reason and state in (MessageState.QUEUED, MessageState.RETRY):
            _add(step.deferred_reasons, reason, n)  # waiting, e.g. on the frequency cap
    for campaign_id, number, error in session.exec(
        select(Message.campaign_id, Message.step, Message.error).where(
            col(Message.campaign_id).in_(ids), Message.state == MessageState.FAILED
        )
    ).all():
        _add(step_of(campaign_id, number).failed_reasons, failure_reason(error), 1)
    return steps


def _no_messages(number: int) -> StepStatus:
    return StepStatus(number, "", 0, states={state.value: 0 for state in MessageState})


def _add(counts: dict[str, int], key: str, n: int) -> None:
    counts[key] = counts.get(key, 0) + n


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
    report = funnel.compute_report(counts, now)
    handled = handled_by_campaign(session, [c.id for c in campaigns])
    ids = {c.name: c.id for c in campaigns}
    for item in report.campaigns:
        item.requests_handled = handled[ids[item.name]]
    return report


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


def count_messages(session: Session, campaign_name: str | None, state: str | None) -> int:
    """How many messages `list_messages` would list without a limit."""
    query = select(func.count()).select_from(Message)
    return session.exec(query.where(*_message_filters(session, campaign_name, state))).one()


def _message_filters(
    session: Session, campaign_name: str | None, state: str | None
) -> list[sa.ColumnElement[bool]]:
    filters: list[sa.ColumnElement[bool]] = []
    if campaign_name:
        filters.append(col(Message.campaign_id) == campaign_by_name(session, campaign_name).id)
    if state:
        filters.append(col(Message.state) == state)
    return filters


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
        .where(*_message_filters(session, campaign_name, state))
        .order_by(col(Message.sent_at), col(Message.id))
    )
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
