"""The providers' pacing state (sending/pacing.py) kept in the database, so every worker shares
one send clock and one rate per provider, and `status` and /metrics can show them.

Each call is one short transaction holding the providers' rows (FOR UPDATE on PostgreSQL; SQLite
writes one at a time anyway).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from campaign_engine.core.pacing_config import PacingSettings, ProviderLimit
from campaign_engine.sending.pacing import Admission, Pace, admit, observe
from campaign_engine.store.db import Database, is_postgres
from campaign_engine.store.pacing_tables import ProviderPace

__all__ = ["Observed", "learn", "paces", "pacing_line", "take"]

_PACES: sa.Table = ProviderPace.__table__  # type: ignore[attr-defined]
_T = TypeVar("_T", Admission, Pace)
Observed = tuple[int, Sequence[datetime]]  # (accepted, times of 4xx deferrals) of one provider


def take(
    db: Database,
    settings: PacingSettings,
    wanted: Mapping[str, int],
    now: datetime,
    burst: timedelta,
) -> dict[str, Admission]:
    """Slots for `wanted` messages per provider at `now` (pacing.admit)."""
    return _update(
        db, settings, wanted, lambda p, limit: admit(p, limit, wanted[p.provider], now, burst)
    )


def learn(
    db: Database, settings: PacingSettings, observed: Mapping[str, Observed], now: datetime
) -> list[Pace]:
    """Fold a batch's outcomes into each provider's rate; returns the new states."""

    def fold(pace: Pace, limit: ProviderLimit) -> Pace:
        delivered, deferred = observed[pace.provider]
        return observe(pace, limit, delivered, deferred, now)

    return list(_update(db, settings, observed, fold).values())


def paces(db: Database) -> list[Pace]:
    """Every provider's state, by name (providers not sent to yet have no row)."""
    with db.engine.connect() as connection:
        rows = connection.execute(sa.select(_PACES).order_by(_PACES.c.provider)).all()
    return [_pace(row) for row in rows]


def pacing_line(db: Database, settings: PacingSettings, timezone: str) -> str | None:
    """One line for `status`: each paced provider's rate now, and when it was last slowed.

    >>> pacing_line(db, settings, "UTC")  # doctest: +SKIP
    'Pacing: google 300 an hour of 600 (slowed 2 times by 4xx deferrals, last at 09:01);
    microsoft 600 an hour (full)'
    """
    parts = []
    for pace in paces(db):
        most = settings.limit(pace.provider).max_per_hour
        if most <= 0:
            continue
        rate = min(pace.rate, most)
        if rate >= most:
            parts.append(f"{pace.provider} {most:,.0f} an hour (full)")
            continue
        times = "1 time" if pace.slowdowns == 1 else f"{pace.slowdowns} times"
        last = (
            f", last at {pace.slowed_at.astimezone(ZoneInfo(timezone)):%H:%M}"
            if pace.slowed_at
            else ""
        )
        parts.append(
            f"{pace.provider} {rate:,.0f} an hour of {most:,.0f}"
            f" (slowed {times} by 4xx deferrals{last})"
        )
    return f"Pacing: {'; '.join(parts)}" if parts else None


def _update(
    db: Database,
    settings: PacingSettings,
    providers: Mapping[str, object],
    change: Callable[[Pace, ProviderLimit], _T],
) -> dict[str, _T]:
    names = sorted(providers)
    if not names:
        return {}
    insert = postgresql.insert if is_postgres(db.engine) else sqlite.insert
    results: dict[str, _T] = {}
    with db.engine.begin() as connection:
        connection.execute(
            insert(_PACES)
            .values(
                [
                    {"provider": n, "rate": settings.limit(n).max_per_hour, "deferrals": ""}
                    for n in names
                ]
            )
            .on_conflict_do_nothing(index_elements=["provider"])
        )
        query = sa.select(_PACES).where(_PACES.c.provider.in_(names))
        if is_postgres(db.engine):
            query = query.with_for_update()
        for row in connection.execute(query.order_by(_PACES.c.provider)).all():
            result = change(_pace(row), settings.limit(row.provider))
            after = result.pace if isinstance(result, Admission) else result
            assert isinstance(after, Pace)
            connection.execute(
                sa.update(_PACES)
                .where(_PACES.c.provider == after.provider)
                .values(
                    rate=after.rate,
                    next_slot=after.next_slot,
                    deferrals=" ".join(t.isoformat() for t in after.deferrals),
                    slowed_at=after.slowed_at,
                    slowdowns=after.slowdowns,
                )
            )
            results[after.provider] = result
    return results


def _pace(row: sa.Row[tuple[object, ...]]) -> Pace:
    return Pace(
        provider=row.provider,
        rate=row.rate,
        next_slot=row.next_slot,
        deferrals=tuple(datetime.fromisoformat(t) for t in row.deferrals.split()),
        slowed_at=row.slowed_at,
        slowdowns=row.slowdowns,
    )
