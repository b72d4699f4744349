"""The next-step reminders due, found in SQL: only the due threads leave the database, oldest
first, one page at a time with the number due.

A thread (campaign, contact) is due when the contact has a sent draft in it, is not in mode A,
its latest sent email (by send time, then step) was sent by the rep `reminder_days` ago or more,
a later email of the sequence is still unsent, and nothing ended the reminders (see
reminders.STOPPING_KINDS; unsubscribed, suppressed or excluded contacts whenever it happened:
their drafts show why they are held instead).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from campaign_engine.core.kinds import Channel, DraftStatus, MessageState, OutreachMode
from campaign_engine.reps.drafts import rep_by_email
from campaign_engine.reps.held import exclusion_reason
from campaign_engine.reps.reminders import ANY_TIME, STOPPING_KINDS, Reminder, next_step
from campaign_engine.sending.sequences import Sequence
from campaign_engine.store.models import (
    Account,
    Campaign,
    Contact,
    Draft,
    Enrollment,
    Event,
    Message,
    Rep,
    Suppression,
    ThreadOutcome,
)

__all__ = [
    "ReminderLine",
    "draft_command",
    "draft_path",
    "due_counts",
    "due_reminder_page",
    "reminder_lines",
]


@dataclass(frozen=True)
class ReminderLine:
    """A due reminder with what the rep needs to act: the contact, and the draft to send."""

    reminder: Reminder
    rep_id: int
    account: str
    draft_id: int | None

    def to_json(self) -> dict[str, object]:
        r = self.reminder
        return {
            "rep_email": r.rep_email,
            "contact_email": r.contact_email,
            "account": self.account,
            "campaign": r.campaign,
            "sent_step": r.sent_step,
            "sent_at": r.sent_at.isoformat(),
            "next_step": r.next_step,
            "due_at": r.due_at.isoformat(),
            "draft_id": self.draft_id,
        }

    def sentence(self) -> str:
        r = self.reminder
        send = f"`{draft_command(self.draft_id)}`" if self.draft_id else "no open draft"
        return (
            f"{r.contact_email} ({self.account}, {r.campaign}): you sent email {r.sent_step} on"
            f" {r.sent_at:%Y-%m-%d}; time for email {r.next_step}: {send}"
        )


def draft_command(draft_id: int) -> str:
    return f"campaign drafts send {draft_id}"


def draft_path(draft_id: int) -> str:
    """Where the rep edits and sends the draft in the web app (under tracking_base_url)."""
    return f"/app/drafts/{draft_id}"


def reminder_lines(
    session: Session, now: datetime, reminder_days: int, rep_email: str | None = None
) -> list[ReminderLine]:
    """Every reminder due at `now` (for one rep, or all), emailed already or not, oldest first."""
    return due_reminder_page(session, now, reminder_days, rep_email)[0]


def due_reminder_page(
    session: Session,
    now: datetime,
    reminder_days: int,
    rep_email: str | None = None,
    limit: int | None = None,
    at_most: int | None = None,
) -> tuple[list[ReminderLine], int]:
    """The oldest `limit` reminders due at `now` (all when None), and how many are due, counted
    no further than `at_most` (when given, at least `limit`): checking every thread of a busy
    rep costs more than the page."""
    campaigns = _campaign_lengths(session)
    rep_id = None if rep_email is None else rep_by_email(session, rep_email).id
    if not campaigns or (rep_id is not None and not _has_rep_threads(session, rep_id)):
        return [], 0
    fetch = None if limit is None or at_most is None else max(limit, at_most)
    query = _due_threads(session, now, reminder_days, rep_id, campaigns, fetch)
    rows: list[Any] = list(session.exec(query).all())
    page = rows if limit is None else rows[:limit]
    sent_steps = _sent_steps(session, [row.enrollment_id for row in page])
    reminders = []
    for row in page:
        name, last = campaigns[row.campaign_id]
        following = next_step(row.step, last, sent_steps.get(row.enrollment_id, set()))
        assert following is not None  # the query found an unsent step after `step`
        due_at = row.sent_at + timedelta(days=reminder_days)
        reminders.append(
            Reminder(row.campaign_id, name, row.contact_id, row.email, row.rep_email, row.step,
                     row.sent_at, following, due_at)
        )  # fmt: skip
    drafts = _open_drafts(session, reminders) if reminders else {}
    lines = [
        ReminderLine(
            r, row.rep_id, row.account, drafts.get((r.campaign_id, r.contact_id, r.next_step))
        )
        for r, row in zip(reminders, page, strict=True)
    ]
    return lines, len(rows)


def due_counts(session: Session, now: datetime, reminder_days: int) -> dict[tuple[int, int], int]:
    """How many reminders are due at `now`, per (campaign id, rep id), counted in SQL."""
    campaigns = _campaign_lengths(session)
    if not campaigns:
        return {}
    due = _due_threads(session, now, reminder_days, None, campaigns, None).subquery("due").c
    rows = session.execute(
        sa.select(due.campaign_id, due.rep_id, sa.func.count()).group_by(
            due.campaign_id, due.rep_id
        )
    )
    return {(campaign_id, rep_id): n for campaign_id, rep_id, n in rows}


def _campaign_lengths(session: Session) -> dict[int | None, tuple[str, int]]:
    """Campaign id -> (name, number of emails in its sequence)."""
    return {
        cid: (name, len(Sequence.from_json(seq).steps))
        for cid, name, seq in session.exec(
            select(Campaign.id, Campaign.name, Campaign.sequence_json)
        ).all()
    }


def _due_threads(
    session: Session,
    now: datetime,
    reminder_days: int,
    rep_id: int | None,
    campaigns: dict[int | None, tuple[str, int]],
    limit: int | None,
) -> Any:
    """The due threads' latest emails, oldest first: each thread's latest email (numbered in
    SQL, so no thread is checked twice), when the rep sent it long enough ago, sorted behind a
    fence (OFFSET 0), then checked one by one in that order, which stops at `limit`.
    PostgreSQL cannot estimate the per-thread checks and, unfenced, would join every contact to
    every candidate."""
    sent = aliased(Message)
    newest_first = (col(sent.sent_at).desc(), col(sent.step).desc())
    emails = select(  # type: ignore[call-overload]
        sent.campaign_id, sent.contact_id, sent.enrollment_id, sent.step, sent.sent_at,
        sent.origin, Contact.email, col(Account.name).label("account"),
        col(Rep.id).label("rep_id"), col(Rep.email).label("rep_email"),
        sa.func.row_number().over(partition_by=col(sent.enrollment_id), order_by=newest_first)
        .label("recency"),
    ).join(Enrollment, col(Enrollment.id) == sent.enrollment_id).join(
        Contact, col(Contact.id) == sent.contact_id
    ).join(Account, col(Account.id) == Contact.account_id).join(
        Rep, col(Rep.id) == Account.rep_id
    ).where(
        Enrollment.channel == Channel.REP,  # only the rep's threads: never every automated email
        _sent(sent),
        Contact.outreach_mode != OutreachMode.DO_NOTHING,
        col(Contact.unsubscribed_at).is_(None),
    )  # fmt: skip
    if rep_id is not None:
        emails = emails.where(Account.rep_id == rep_id)
    e = emails.subquery("thread_emails").c
    m = (
        select(  # type: ignore[call-overload]
            e.campaign_id, e.contact_id, e.enrollment_id, e.step, e.sent_at, e.email, e.account,
            e.rep_id, e.rep_email,
        )
        .where(
            e.recency == 1,
            e.origin == Channel.REP,
            e.sent_at <= now - timedelta(days=reminder_days),
        )
        .order_by(e.sent_at, e.email, e.campaign_id)
        .offset(0)
        .subquery("owned")
        .c
    )  # fmt: skip
    last_step = sa.case({cid: last for cid, (_, last) in campaigns.items()}, value=m.campaign_id,
                        else_=0)  # fmt: skip
    return (
        select(*m)
        .where(_open_steps(m, last_step) < last_step - m.step, *_thread_conditions(m))
        .order_by(m.sent_at, m.email, m.campaign_id)
        .limit(limit)
    )


def _has_rep_threads(session: Session, rep_id: int) -> bool:
    """Whether any contact of the rep is on the rep channel: a rep with only automated contacts
    has no thread to remind of, and right after a large send the database's statistics may not
    know the messages yet, which makes the threads query read every one of them per contact."""
    found = session.exec(
        select(Enrollment.id)
        .join(Contact, col(Contact.id) == Enrollment.contact_id)
        .join(Account, col(Account.id) == Contact.account_id)
        .where(Account.rep_id == rep_id, Enrollment.channel == Channel.REP)
        .limit(1)
    ).first()
    return found is not None


def _sent(message: Any) -> Any:
    return sa.and_(message.state == MessageState.SENT, col(message.sent_at).is_not(None))


def _open_steps(m: Any, last_step: Any) -> Any:
    """How many steps after `m` (up to the sequence's last) were sent already."""
    sent = aliased(Message)
    return (
        select(sa.func.count())
        .where(
            sent.enrollment_id == m.enrollment_id,
            _sent(sent),
            sent.step > m.step,
            sent.step <= last_step,
        )
        .scalar_subquery()
    )


def _first(query: Any) -> Any:
    """The first row's id, checked per thread: PostgreSQL would turn EXISTS into a join that
    reads every sent draft or event of every rep before narrowing to the rep's contacts."""
    return query.limit(1).scalar_subquery()


def _thread_conditions(m: Any) -> list[Any]:
    """`m`'s thread has a sent draft, and nothing ended the reminders."""
    drafted = _first(
        select(Draft.id).where(
            Draft.campaign_id == m.campaign_id,
            Draft.contact_id == m.contact_id,
            col(Draft.status) == DraftStatus.SENT,
        )
    )
    stopped = _first(
        select(Event.id).where(
            Event.contact_id == m.contact_id,
            col(Event.kind).in_(STOPPING_KINDS),
            col(Event.occurred_at).is_not(None),
            sa.or_(col(Event.kind).in_(ANY_TIME), col(Event.occurred_at) >= m.sent_at),
        )
    )
    moved_on = sa.exists().where(
        ThreadOutcome.contact_id == m.contact_id,
        col(ThreadOutcome.reason).in_(STOPPING_KINDS),
        col(ThreadOutcome.created_at).is_not(None),
        sa.or_(col(ThreadOutcome.reason).in_(ANY_TIME), col(ThreadOutcome.created_at) >= m.sent_at),
    )
    suppressed = sa.exists().where(col(Suppression.email) == m.email)
    excluded = exclusion_reason(m.email, m.campaign_id)
    return [drafted.is_not(None), stopped.is_(None), ~moved_on, ~suppressed, excluded.is_(None)]


def _sent_steps(session: Session, enrollment_ids: list[int]) -> dict[int, set[int]]:
    sent = aliased(Message)
    steps: dict[int, set[int]] = {}
    for enrollment_id, step in session.exec(
        select(sent.enrollment_id, sent.step).where(
            col(sent.enrollment_id).in_(set(enrollment_ids)), _sent(sent)
        )
    ).all():
        steps.setdefault(enrollment_id, set()).add(step)
    return steps


def _open_drafts(session: Session, reminders: list[Reminder]) -> dict[tuple[int, int, int], int]:
    rows = session.exec(
        select(Draft.campaign_id, Draft.contact_id, Draft.step, Draft.id).where(
            col(Draft.contact_id).in_({r.contact_id for r in reminders}),
            Draft.status == DraftStatus.DRAFT,
        )
    ).all()
    return {(cid, contact_id, step): did for cid, contact_id, step, did in rows if did is not None}
