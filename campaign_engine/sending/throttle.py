"""A send rate shared by every worker: send slots handed out from one clock in the database.

The slots are evenly spaced, `1 / per_second` apart, on one timeline all workers share: the
`send_clock` row holds the start of the next free slot. A worker takes a block of slots (about
BLOCK_SECONDS of sending) in one short transaction, run in a thread and ahead of need, then sends
at its slots' times. No two slots of any worker are closer than the interval, so any span holds
at most its length times the rate (plus one), and no message waits on a database call.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from campaign_engine.store.db import Database, is_postgres
from campaign_engine.store.models import SendClock

__all__ = ["BLOCK_SECONDS", "SharedRateLimit", "limiter_for"]

_CLOCK: sa.Table = SendClock.__table__  # type: ignore[attr-defined]
BLOCK_SECONDS = 1.0  # slots taken per trip to the database, in seconds of sending
_LATE = 0.05  # a slot is still used this late (seconds; less when the slots are closer)


class SharedRateLimit:
    """At most `per_second` messages per second over any span, whichever worker sends them."""

    def __init__(
        self, db: Database, per_second: float, clock: Callable[[], float] = time.time
    ) -> None:
        if per_second <= 0:
            raise ValueError(f"per_second must be positive, got {per_second}")
        self.db = db
        self.per_second = per_second
        self.interval = 1.0 / per_second
        self.block = max(2, math.ceil(per_second * BLOCK_SECONDS))
        self.clock = clock
        self._slots: deque[float] = deque()
        self._taking: asyncio.Task[list[float]] | None = None
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        """Return at the time of this process's next free slot."""
        async with self._lock:
            slot = await self._next_slot()
        delay = slot - self.clock()
        if delay > 0:
            await asyncio.sleep(delay)

    async def _next_slot(self) -> float:
        while True:
            if len(self._slots) <= self.block // 2 and self._taking is None:
                self._taking = asyncio.ensure_future(asyncio.to_thread(self._take, self.clock()))
            if not self._slots:
                assert self._taking is not None
                taking, self._taking = self._taking, None
                self._slots.extend(await taking)
                continue
            if self._taking is not None and self._taking.done():
                taking, self._taking = self._taking, None
                self._slots.extend(taking.result())
            slot = self._slots.popleft()
            # A slot gone by (the worker had nothing to send then) is not used late: sending at
            # it now could crowd the slots other workers hold next to it.
            if slot >= self.clock() - min(self.interval, _LATE):
                return slot

    def _take(self, now: float) -> list[float]:
        """A block of slots from the shared clock: the next free one (or now, if the clock is
        behind), and the ones after it."""
        span = self.block * self.interval
        insert = postgresql.insert if is_postgres(self.db.engine) else sqlite.insert
        with self.db.engine.begin() as connection:
            connection.execute(
                insert(_CLOCK)
                .values(id=1, next_slot=now)
                .on_conflict_do_nothing(index_elements=["id"])
            )
            end = connection.execute(
                sa.update(_CLOCK)
                .where(_CLOCK.c.id == 1)
                .values(
                    next_slot=sa.case((_CLOCK.c.next_slot < now, now), else_=_CLOCK.c.next_slot)
                    + span
                )
                .returning(_CLOCK.c.next_slot)
            ).scalar_one()
        start = end - span
        return [start + i * self.interval for i in range(self.block)]


def limiter_for(db: Database, per_second: float) -> SharedRateLimit | None:
    """The shared limiter when a rate is configured, else None (no limit)."""
    return SharedRateLimit(db, per_second) if per_second > 0 else None
