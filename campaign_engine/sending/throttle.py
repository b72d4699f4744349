"""A send rate shared by every worker, counted in the database they all use."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from campaign_engine.store.db import Database, is_postgres
from campaign_engine.store.models import SendWindow

__all__ = ["SharedRateLimit", "limiter_for"]

_WINDOWS: sa.Table = SendWindow.__table__  # type: ignore[attr-defined]
_KEEP_SECONDS = 120  # older windows are deleted now and then


class SharedRateLimit:
    """At most `per_second` messages in any wall-clock second, whichever worker sends them."""

    def __init__(
        self, db: Database, per_second: float, clock: Callable[[], float] = time.time
    ) -> None:
        if per_second <= 0:
            raise ValueError(f"per_second must be positive, got {per_second}")
        self.db = db
        self.per_second = per_second
        self.clock = clock
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self._lock:  # one reservation at a time per process keeps the DB calm
            while True:
                now = self.clock()
                if self._reserve(int(now)):
                    return
                await asyncio.sleep(int(now) + 1 - now)

    def _reserve(self, second: int) -> bool:
        with self.db.engine.begin() as connection:
            insert = (
                postgresql.insert(_WINDOWS)
                if is_postgres(self.db.engine)
                else sqlite.insert(_WINDOWS)
            )
            connection.execute(
                insert.values(second=second, sent=0).on_conflict_do_nothing(
                    index_elements=["second"]
                )
            )
            taken = connection.execute(
                sa.update(_WINDOWS)
                .where(_WINDOWS.c.second == second, _WINDOWS.c.sent < self.per_second)
                .values(sent=_WINDOWS.c.sent + 1)
            ).rowcount
            if second % 60 == 0:
                connection.execute(
                    sa.delete(_WINDOWS).where(_WINDOWS.c.second < second - _KEEP_SECONDS)
                )
        return taken == 1


def limiter_for(db: Database, per_second: float) -> SharedRateLimit | None:
    """The shared limiter when a rate is configured, else None (no limit)."""
    return SharedRateLimit(db, per_second) if per_second > 0 else None
