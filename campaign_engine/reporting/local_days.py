"""Sends per local day (each contact's own calendar) and late joiners, for status and report."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from campaign_engine.core.kinds import MessageState
from campaign_engine.sending.planner import zone
from campaign_engine.store.models import Enrollment, Message

__all__ = ["late_joiner_count", "local_day_counts", "sends_per_local_day"]

_SENT = (MessageState.SENT, MessageState.BOUNCED)


def local_day_counts(rows: list[tuple[datetime, str]], default_zone: str) -> dict[str, int]:
    """PURE: (sent_at UTC, the contact's zone or '') -> {local YYYY-MM-DD: sends}, by day."""
    days: Counter[str] = Counter()
    for sent_at, tz in rows:
        days[sent_at.astimezone(zone(tz or default_zone)).date().isoformat()] += 1
    return dict(sorted(days.items()))


def sends_per_local_day(session: Session, campaign_id: int, default_zone: str) -> dict[str, int]:
    """Messages handed to the relay per local day of their recipients."""
    rows = session.exec(
        select(Message.sent_at, Enrollment.timezone)
        .join(Enrollment, col(Enrollment.id) == Message.enrollment_id)
        .where(
            Message.campaign_id == campaign_id,
            col(Message.state).in_(_SENT),
            col(Message.sent_at).is_not(None),
        )
    ).all()
    return local_day_counts([(at, tz) for at, tz in rows if at is not None], default_zone)


def late_joiner_count(session: Session, campaign_id: int) -> int:
    return session.exec(
        select(sa.func.count()).where(
            Enrollment.campaign_id == campaign_id,
            Enrollment.late_joiner == True,  # noqa: E712
        )
    ).one()
