"""Reading the event table in id order without missing a row that commits late.

Event ids come from a sequence when a row is inserted, not when its transaction commits. On
PostgreSQL, a reader could see event 102 committed while 101 is still in flight; a cursor that
moved past 102 would then never return 101. So a reader only goes up to the *horizon*: the
highest id below which nothing can still appear. It is found by taking a SHARE lock on the
table for an instant: that waits until every transaction writing events has ended, so every id
handed out so far is committed or gone for good. The lock waits at most `LOCK_WAIT`; when it
cannot be had (a long writer), the horizon of the previous call is used instead, which is safe,
only older. On SQLite writers are serialised (BEGIN IMMEDIATE): every committed id is final.
"""

from __future__ import annotations

import logging
import threading

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlmodel import Session, col, select

from campaign_engine.store.models import Event

__all__ = ["LOCK_WAIT", "event_horizon", "events_after"]

log = logging.getLogger(__name__)

LOCK_WAIT = "500ms"  # longest wait for in-flight event writers (they queue behind the lock)
_known: dict[str, int] = {}  # database URL -> the last horizon found
_guard = threading.Lock()


def event_horizon(session: Session) -> int:
    """The highest event id such that every event with an id at or below it is committed.

    On PostgreSQL it runs in its own short transaction on a separate connection, so the lock
    is held for an instant whatever the caller's session does next.
    """
    bind = session.get_bind()
    engine = bind.engine if isinstance(bind, sa.Connection) else bind
    key = engine.url.render_as_string(hide_password=True)
    highest = sa.select(sa.func.coalesce(sa.func.max(col(Event.id)), 0))
    if engine.dialect.name != "postgresql":  # (in the caller's transaction: one writer at a time)
        return int(session.connection().execute(highest).scalar_one() or 0)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text(f"SET LOCAL lock_timeout = '{LOCK_WAIT}'"))
            connection.execute(sa.text("LOCK TABLE event IN SHARE MODE"))
            found = int(connection.execute(highest).scalar_one() or 0)
    except sa_exc.OperationalError as exc:
        log.info("event horizon: writers busy (%s); using the previous one", exc.orig)
        with _guard:
            return _known.get(key, 0)
    with _guard:
        _known[key] = found
    return found


def events_after(
    session: Session, after: int, limit: int, horizon: int | None = None
) -> list[Event]:
    """Up to `limit` events with `after` < id <= horizon, in id order."""
    top = event_horizon(session) if horizon is None else horizon
    query = (
        select(Event)
        .where(col(Event.id) > after, col(Event.id) <= top)
        .order_by(col(Event.id))
        .limit(limit)
    )
    return list(session.exec(query).all())
