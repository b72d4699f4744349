"""What the operator decides about messages the engine will not decide alone: `uncertain` ones
(a worker died, or the line dropped after the final dot), `failed` ones (refused, or given up
after days of 4xx), and contacts stopped by a bounce that was later lifted."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from campaign_engine.core.kinds import Channel, EnrollmentStatus, MessageState
from campaign_engine.sending.campaigns import schedule_for, sequence_of
from campaign_engine.sending.send_facts import suppression_reasons
from campaign_engine.store import message_counts
from campaign_engine.store.db import Database
from campaign_engine.store.models import Campaign, Contact, Enrollment, Message

__all__ = [
    "accept_uncertain",
    "resume_contacts",
    "retry_failed",
    "retry_uncertain",
    "skip_failed",
]

GIVEN_UP = "given up by the operator"


def retry_uncertain(db: Database, now: datetime, campaign_id: int | None = None) -> int:
    """Queue uncertain messages again: the operator accepts that some may arrive twice."""
    with db.session() as session:
        return message_counts.change_states(
            session,
            _only(col(Message.state) == MessageState.UNCERTAIN, campaign_id),
            state=MessageState.QUEUED,
            next_attempt_at=now,
            claimed_by=None,
            claimed_until=None,
            error="re-queued by operator after an uncertain send",
        )


def accept_uncertain(db: Database, now: datetime, campaign_id: int | None = None) -> int:
    """Count uncertain messages as sent (the relay most likely took them) and move on."""
    with db.session() as session:
        query = select(Message, Campaign).join(Campaign, col(Campaign.id) == Message.campaign_id)
        query = query.where(Message.state == MessageState.UNCERTAIN)
        if campaign_id is not None:
            query = query.where(Message.campaign_id == campaign_id)
        rows = session.exec(query).all()
        for message, campaign in rows:
            # The real send time is unknown; spacing the next step from now errs on the late side.
            message.state = MessageState.SENT
            message.sent_at = now
            message.error = "counted as sent by operator after an uncertain send"
            _advance(session, message, campaign, now)
        return len(rows)


def _advance(session: Session, message: Message, campaign: Campaign, sent_at: datetime) -> None:
    enrollment = session.get(Enrollment, message.enrollment_id)
    if enrollment is None or enrollment.status != EnrollmentStatus.ACTIVE:
        return
    next_due = schedule_for(campaign, sequence_of(campaign)).next_due_at(
        message.step + 1, sent_at, enrollment.timezone or None, enrollment.first_day
    )
    enrollment.last_step_at = sent_at
    enrollment.next_due_at = next_due
    if next_due is None:
        enrollment.status = EnrollmentStatus.COMPLETED


def retry_failed(
    db: Database, now: datetime, campaign_id: int | None = None, step: int | None = None
) -> int:
    """Queue failed automated messages again, with a fresh give-up window."""
    with db.session() as session:
        failed = sa.and_(
            col(Message.state) == MessageState.FAILED, col(Message.origin) == Channel.AUTOMATED
        )
        return message_counts.change_states(
            session,
            _only(failed, campaign_id, step),
            state=MessageState.QUEUED,
            next_attempt_at=now,
            first_attempt_at=None,
            error="re-queued by the operator after it failed",
        )


def skip_failed(
    db: Database, now: datetime, campaign_id: int | None = None, step: int | None = None
) -> int:
    """Give up on failed automated messages: skipped, and their contacts move on to the next step."""
    with db.session() as session:
        query = select(Message, Campaign).join(Campaign, col(Campaign.id) == Message.campaign_id)
        query = query.where(
            Message.state == MessageState.FAILED, Message.origin == Channel.AUTOMATED
        )
        if campaign_id is not None:
            query = query.where(Message.campaign_id == campaign_id)
        if step is not None:
            query = query.where(Message.step == step)
        rows = session.exec(query).all()
        for message, campaign in rows:
            message.state, message.skip_reason = MessageState.SKIPPED, GIVEN_UP
            _advance(session, message, campaign, now)
        return len(rows)


def resume_contacts(
    db: Database, emails: list[str], now: datetime, campaign_id: int | None = None
) -> dict[str, str]:
    """Put contacts stopped by a bounce back in their campaigns, at the step that bounced.

    Returns, per address, what happened ("resumed in N campaign(s)", or why not).
    """
    result: dict[str, str] = {}
    with db.session() as session:
        suppressed = suppression_reasons(session, [e.lower() for e in emails])
        for email in emails:
            address = email.strip().lower()
            if address in suppressed:
                result[email] = (
                    f"still suppressed ({suppressed[address]}): `campaign suppress remove` first"
                )
                continue
            contact = session.exec(select(Contact).where(Contact.email == address)).first()
            if contact is None:
                result[email] = "no such contact"
                continue
            query = select(Enrollment).where(
                Enrollment.contact_id == contact.id,
                Enrollment.status == EnrollmentStatus.STOPPED,
                Enrollment.stop_reason == "bounced",
            )
            if campaign_id is not None:
                query = query.where(Enrollment.campaign_id == campaign_id)
            resumed = 0
            for enrollment in session.exec(query).all():
                bounced = session.exec(
                    select(Message)
                    .where(
                        Message.enrollment_id == enrollment.id,
                        Message.state == MessageState.BOUNCED,
                    )
                    .order_by(col(Message.step).desc())
                ).first()
                if bounced is None:
                    continue
                # The bounced step goes out again; the contact then continues as planned.
                bounced.state, bounced.error, bounced.attempts = MessageState.QUEUED, None, 0
                bounced.next_attempt_at, bounced.first_attempt_at = now, None
                enrollment.status, enrollment.stop_reason = EnrollmentStatus.ACTIVE, None
                enrollment.stopped_at, enrollment.next_due_at = None, None
                enrollment.next_step = bounced.step + 1
                session.add_all([bounced, enrollment])
                resumed += 1
            result[email] = (
                f"resumed in {resumed} campaign(s)"
                if resumed
                else "no campaign stopped by a bounce"
            )
    return result


def _only(
    where: sa.ColumnElement[bool], campaign_id: int | None, step: int | None = None
) -> sa.ColumnElement[bool]:
    if campaign_id is not None:
        where = sa.and_(where, col(Message.campaign_id) == campaign_id)
    if step is not None:
        where = sa.and_(where, col(Message.step) == step)
    return where
