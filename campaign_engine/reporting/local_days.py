"""Sends per local day (each contact's own calendar) and late joiners, for status and report."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, col, select

from campaign_engine.core.kinds import MessageState
from campaign_engine.store.models import Enrollment, Message
from campaign_engine.store.sql_dates import local_date

__all__ = ["late_joiner_count", "sends_per_local_day"]

_SENT = (MessageState.SENT, MessageState.BOUNCED)


def sends_per_local_day(session: Session, campaign_id: int, default_zone: str) -> dict[str, int]:
    """Messages handed to the relay per local day of their recipients (YYYY-MM-DD -> sends),
    counted in SQL in each enrolment's zone (the campaign's when it has none)."""
    zone = sa.func.coalesce(sa.func.nullif(Enrollment.timezone, ""), default_zone)
    day = local_date(Message.sent_at, zone)
    rows = session.execute(
        sa.select(day, sa.func.count())
        .join(Enrollment, col(Enrollment.id) == Message.enrollment_id)
        .where(
            col(Message.campaign_id) == campaign_id,
            col(Message.state).in_(_SENT),
            col(Message.sent_at).is_not(None),
        )
        .group_by(day)
        .order_by(day)
    )
    return {local.isoformat(): n for local, n in rows}


def late_joiner_count(session: Session, campaign_id: int) -> int:
    return session.exec(
        select(sa.func.count()).where(
            Enrollment.campaign_id == campaign_id,
            Enrollment.late_joiner == True,  # noqa: E712
        )
    ).one()
