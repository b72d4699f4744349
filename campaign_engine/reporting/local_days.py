"""Sends per local day (each contact's own calendar) and late joiners, for status and report."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from campaign_engine.core.kinds import MessageState
from campaign_engine.sending.planner import zone
from campaign_engine.store.models import Enrollment, Message

__all__ = ["late_joiner_count", "local_day_counts", "sends_per_local_day"]

_SENT = (MessageState.SENT, MessageState.BOUNCED)
SLOT_SECONDS = 900  # every UTC offset is a whole number of quarter hours


def local_day_counts(rows: list[tuple[datetime, str, int]], default_zone: str) -> dict[str, int]:
    """PURE: (sent_at UTC, the contact's zone or '', sends) -> {local YYYY-MM-DD: sends}."""
    days: Counter[str] = Counter()
    for sent_at, tz, sends in rows:
        days[sent_at.astimezone(zone(tz or default_zone)).date().isoformat()] += sends
    return dict(sorted(days.items()))


def sends_per_local_day(session: Session, campaign_id: int, default_zone: str) -> dict[str, int]:
    """Messages handed to the relay per local day of their recipients, counted in SQL per
    quarter hour (UTC) and zone: a few thousand rows reach Python, not every message."""
    slot = _slot(session, col(Message.sent_at))
    rows = session.exec(
        select(slot, Enrollment.timezone, sa.func.count())
        .join(Enrollment, col(Enrollment.id) == Message.enrollment_id)
        .where(
            Message.campaign_id == campaign_id,
            col(Message.state).in_(_SENT),
            col(Message.sent_at).is_not(None),
        )
        .group_by(slot, col(Enrollment.timezone))
    ).all()
    starts = [
        (datetime.fromtimestamp(int(n) * SLOT_SECONDS, UTC), tz, sends) for n, tz, sends in rows
    ]
    return local_day_counts(starts, default_zone)


def _slot(session: Session, at: Any) -> Any:
    """The quarter hour (UTC) of a stored naive-UTC timestamp, as seconds since 1970 // 900."""
    if session.get_bind().dialect.name == "postgresql":
        return sa.func.floor(sa.extract("epoch", at) / SLOT_SECONDS)
    seconds = sa.cast(sa.func.strftime("%s", at), sa.Integer)
    return sa.cast(seconds / SLOT_SECONDS, sa.Integer)


def late_joiner_count(session: Session, campaign_id: int) -> int:
    return session.exec(
        select(sa.func.count()).where(
            Enrollment.campaign_id == campaign_id,
            Enrollment.late_joiner == True,  # noqa: E712
        )
    ).one()
