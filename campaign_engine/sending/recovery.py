"""What the operator decides about `uncertain` messages (a worker died while sending them)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from campaign_engine.core.kinds import EnrollmentStatus, MessageState
from campaign_engine.sending.campaigns import schedule_for, sequence_of
from campaign_engine.store.db import Database
from campaign_engine.store.models import Campaign, Enrollment, Message

__all__ = ["accept_uncertain", "retry_uncertain"]


def retry_uncertain(db: Database, now: datetime, campaign_id: int | None = None) -> int:
    """Queue uncertain messages again: the operator accepts that some may arrive twice."""
    with db.session() as session:
        query = sa.update(Message).where(col(Message.state) == MessageState.UNCERTAIN)
        if campaign_id is not None:
            query = query.where(col(Message.campaign_id) == campaign_id)
        result = session.exec(
            query.values(
                state=MessageState.QUEUED,
                next_attempt_at=now,
                claimed_by=None,
                claimed_until=None,
                error="re-queued by operator after an uncertain send",
            ).execution_options(synchronize_session=False)
        )
        return int(result.rowcount)


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
