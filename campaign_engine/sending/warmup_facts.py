"""What the warm-up ramp needs from the database: the domain's first send, today's sends, and how
engaged each contact has been."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Session, col

from campaign_engine.core.kinds import EventKind, MessageState
from campaign_engine.sending.warmup import NO_LIMIT, Engagement, Ramp
from campaign_engine.store.db import Database
from campaign_engine.store.models import Enrollment, Event, Message

__all__ = ["WarmupDay", "engagement", "first_send", "room_today", "warmup_day", "warmup_line"]

# Claimed or waiting: each may go out today, so each holds one of today's places.
_PENDING = (MessageState.QUEUED, MessageState.SENDING, MessageState.RETRY)
_ENGAGED = (EventKind.REPLY, EventKind.CLICK, EventKind.OPEN)


def first_send(session: Session, ramp: Ramp) -> date | None:
    """The ramp's day of the first email the engine ever sent, or None before any."""
    first = session.execute(sa.select(sa.func.min(col(Message.sent_at)))).scalar()
    return None if first is None else ramp.day_of(first)


def room_today(session: Session, ramp: Ramp, now: datetime) -> tuple[int, datetime]:
    """(places left today, when the next ramp day begins): today's allowance less every email
    of any campaign sent today or waiting to go."""
    today = ramp.day_of(now)
    start, end = ramp.day_bounds(today)
    used = session.execute(
        sa.select(sa.func.count()).where(
            sa.or_(
                sa.and_(col(Message.sent_at) >= start, col(Message.sent_at) < end),
                col(Message.state).in_(_PENDING),
            )
        )
    ).scalar_one()
    allowance = ramp.allowance(ramp.day_index(today, first_send(session, ramp)))
    return allowance - int(used), end


@dataclass(frozen=True)
class WarmupDay:
    """Where the ramp stands at a moment: its day, that day's allowance, and how much of it is
    taken (sent today or waiting to go)."""

    day: int
    allowance: int
    taken: int

    @property
    def over(self) -> bool:
        return self.allowance >= NO_LIMIT


def warmup_day(db: Database, ramp: Ramp, now: datetime) -> WarmupDay:
    with db.session() as session:
        room, _ = room_today(session, ramp, now)
        day = max(ramp.day_index(ramp.day_of(now), first_send(session, ramp)), 0)
    allowance = ramp.allowance(day)
    return WarmupDay(day, allowance, allowance - room)


def warmup_line(db: Database, ramp: Ramp | None, now: datetime) -> str | None:
    """One line for `status`: the ramp's day, and how much of its allowance is taken."""
    if ramp is None:
        return None
    today = warmup_day(db, ramp, now)
    if today.over:
        return "Warm-up: the sending domain's ramp is over; nothing is held back"
    return (
        f"Warm-up: day {today.day} of the sending domain's ramp: {today.taken:,} of "
        f"{today.allowance:,} campaign emails today (sent or waiting); tomorrow"
        f" {ramp.allowance(today.day + 1):,}"
    )


def engagement(session: Session, campaign_id: int | None = None) -> dict[int, Engagement]:
    """Contact id -> their replies, human clicks and human opens so far (any campaign), for the
    contacts of `campaign_id` (None: every contact with any)."""
    query = (
        sa.select(col(Event.contact_id), col(Event.kind), sa.func.count())
        .where(
            col(Event.kind).in_(_ENGAGED), col(Event.is_human), col(Event.contact_id).is_not(None)
        )
        .group_by(col(Event.contact_id), col(Event.kind))
    )
    if campaign_id is not None:
        mine = sa.select(col(Enrollment.contact_id)).where(
            col(Enrollment.campaign_id) == campaign_id
        )
        query = query.where(col(Event.contact_id).in_(mine))
    counts: dict[int, dict[str, int]] = {}
    for contact_id, kind, n in session.execute(query):
        counts.setdefault(contact_id, {})[kind] = n
    return {
        contact: Engagement(
            seen.get(EventKind.REPLY, 0), seen.get(EventKind.CLICK, 0), seen.get(EventKind.OPEN, 0)
        )
        for contact, seen in counts.items()
    }
