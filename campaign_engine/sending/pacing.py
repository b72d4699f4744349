"""Per-provider pacing: how many messages a mailbox provider may get now, and how its rate follows
its replies. Pure: the caller passes `now` and the outcomes, and keeps the state.

Each provider has a rate (messages an hour, at most its `max_per_hour`) and a send clock: the
time of its next free slot, slots 3600/rate seconds apart. Idle time banks at most BURST of
slots (or one tick, when ticks are further apart), so after a quiet spell a provider gets one
minute of its rate at once, never more.

The rate follows TCP's congestion control (AIMD). DEFERRAL_BURST 4xx deferrals from a provider
within DEFERRAL_WINDOW halve its rate (multiplicative decrease, never below 1/FLOOR of the
maximum); each message it accepts gives back max_per_hour / RECOVERY_DELIVERIES (additive
increase), so a halved rate is whole again after RECOVERY_DELIVERIES / 2 accepted messages. One
provider's deferrals change its own rate only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from campaign_engine.core.pacing_config import ProviderLimit

__all__ = [
    "BURST",
    "DEFERRAL_BURST",
    "DEFERRAL_WINDOW",
    "FLOOR",
    "RECOVERY_DELIVERIES",
    "Admission",
    "Pace",
    "admit",
    "observe",
]

BURST = timedelta(minutes=1)  # idle time banks at most this much of a provider's rate
DEFERRAL_BURST = 5  # this many 4xx deferrals ...
DEFERRAL_WINDOW = timedelta(minutes=1)  # ... within this span halve the provider's rate
FLOOR = 64  # the rate never falls below max_per_hour / FLOOR (six halvings)
RECOVERY_DELIVERIES = 500  # accepted messages that give back the whole max_per_hour


@dataclass(frozen=True)
class Pace:
    """One provider's pacing state."""

    provider: str
    rate: float  # messages an hour allowed now
    next_slot: datetime | None = None  # its send clock; None: nothing sent yet
    deferrals: tuple[datetime, ...] = ()  # recent 4xx deferrals not acted on yet
    slowed_at: datetime | None = None  # when the rate was last halved
    slowdowns: int = 0  # halvings so far

    @classmethod
    def fresh(cls, provider: str, limit: ProviderLimit) -> Pace:
        return cls(provider, limit.max_per_hour)


@dataclass(frozen=True)
class Admission:
    """What `admit` decided: how many go now, when the others may, and the state after."""

    allowed: int
    later: datetime | None  # the next free slot when some must wait; None: all go now
    pace: Pace
    interval: timedelta = timedelta(0)  # between two slots at the rate in force

    def slot(self, waiting: int) -> datetime:
        """When the `waiting`-th message held back (from 0) may go, if the rate holds."""
        assert self.later is not None
        return self.later + waiting * self.interval


def admit(
    pace: Pace, limit: ProviderLimit, wanted: int, now: datetime, burst: timedelta = BURST
) -> Admission:
    """Take slots for up to `wanted` messages at `now`; idle time banks at most `burst` of
    slots (the scheduler's tick when it is longer than BURST, so each tick can send a tick's
    worth).

    >>> from campaign_engine.core.pacing_config import ProviderLimit
    >>> t = datetime(2021, 4, 27, 9)
    >>> admit(Pace("google", 60), ProviderLimit(60, 5), 5, t).allowed  # a minute banked: 1 + 1
    2
    """
    if limit.max_per_hour <= 0:
        return Admission(wanted, None, pace)
    interval = timedelta(hours=1) / min(pace.rate, limit.max_per_hour)
    start = now - burst if pace.next_slot is None else max(pace.next_slot, now - burst)
    allowed = 0 if start > now else min(wanted, int((now - start) / interval) + 1)
    next_slot = start + allowed * interval
    later = next_slot if allowed < wanted else None
    return Admission(allowed, later, replace(pace, next_slot=next_slot), interval)


def observe(
    pace: Pace, limit: ProviderLimit, delivered: int, deferred: Sequence[datetime], now: datetime
) -> Pace:
    """The state after the provider accepted `delivered` messages and deferred (4xx) others at
    the times `deferred`."""
    if limit.max_per_hour <= 0:
        return pace
    rate = min(limit.max_per_hour, pace.rate + delivered * limit.max_per_hour / RECOVERY_DELIVERIES)
    recent = tuple(sorted(t for t in (*pace.deferrals, *deferred) if t > now - DEFERRAL_WINDOW))
    if len(recent) < DEFERRAL_BURST:
        return replace(pace, rate=rate, deferrals=recent)
    return replace(
        pace,
        rate=max(limit.max_per_hour / FLOOR, rate / 2),
        deferrals=(),
        slowed_at=now,
        slowdowns=pace.slowdowns + 1,
    )
