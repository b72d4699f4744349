"""Simulated time: the real tick's campaign work (late joiners, then the dispatcher) on the
scratch copy, tick after tick, skipping the idle stretches, until the campaign is done."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import col, select

from campaign_engine.core.config import Settings
from campaign_engine.core.kinds import Channel, EnrollmentStatus, MessageState
from campaign_engine.engine.enrolment import enrol_late_joiners
from campaign_engine.sending.dispatcher import Dispatcher
from campaign_engine.sending.eligibility import FREQUENCY_CAP
from campaign_engine.sending.transport import Transport
from campaign_engine.store.db import Database
from campaign_engine.store.models import Campaign, Enrollment, Message

__all__ = ["Simulation", "simulate"]

_WAITING = (MessageState.QUEUED, MessageState.RETRY)


@dataclass
class Simulation:
    ticks: int = 0
    until: datetime | None = None  # the last simulated tick
    held: dict[int, datetime] = field(default_factory=dict)  # message id -> held by the cap until


async def simulate(
    db: Database,
    settings: Settings,
    transport: Transport,
    campaign_id: int,
    now: datetime,
    horizon: datetime,
    on_tick: Callable[[datetime], None] | None = None,
) -> Simulation:
    """Tick from `now` as `campaign run` would (every tick_seconds, and no sooner than the last
    tick's sends took at the relay's rate limit), jumping over stretches where nothing is due,
    until campaign `campaign_id` has nothing left to send or `horizon` is reached. Every other
    campaign of the copy runs too: its mail counts towards the frequency cap as it would.
    `on_tick` hears each simulated moment (progress)."""
    dispatcher = Dispatcher(db, settings, transport)
    result = Simulation()
    moment = now
    while moment <= horizon:
        enrol_late_joiners(db, settings, moment)
        counts = await dispatcher.send_due(moment)
        result.ticks, result.until = result.ticks + 1, moment
        if on_tick is not None:
            on_tick(moment)
        result.held.update(_held_by_cap(db, campaign_id))
        if _next_due(db, campaign_id) is None:
            break
        upcoming = _next_due(db)
        assert upcoming is not None
        took = counts["sent"] / settings.smtp.rate_limit if settings.smtp.rate_limit else 0.0
        moment = max(moment + timedelta(seconds=max(settings.tick_seconds, took)), upcoming)
    return result


def _next_due(db: Database, campaign_id: int | None = None) -> datetime | None:
    """The next moment anything of a running campaign (or of `campaign_id`) is due."""
    running = select(Campaign.id).where(Campaign.paused == False)  # noqa: E712
    if campaign_id is not None:
        running = running.where(Campaign.id == campaign_id)
    steps = sa.select(sa.func.min(col(Enrollment.next_due_at))).where(
        col(Enrollment.campaign_id).in_(running),
        col(Enrollment.channel) == Channel.AUTOMATED,
        col(Enrollment.status) == EnrollmentStatus.ACTIVE,
    )
    messages = sa.select(sa.func.min(col(Message.next_attempt_at))).where(
        col(Message.campaign_id).in_(running), col(Message.state).in_(_WAITING)
    )
    with db.session() as session:
        moments = [session.execute(query).scalar() for query in (steps, messages)]
    return min((m for m in moments if m is not None), default=None)


def _held_by_cap(db: Database, campaign_id: int) -> dict[int, datetime]:
    """Messages of the campaign waiting on the frequency cap now, and until when."""
    query = select(Message.id, Message.next_attempt_at).where(
        Message.campaign_id == campaign_id,
        col(Message.state).in_(_WAITING),
        Message.skip_reason == FREQUENCY_CAP,
    )
    with db.session() as session:
        return {mid: until for mid, until in session.exec(query).all() if mid and until}
