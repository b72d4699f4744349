"""Messages per campaign, step and state, kept in `message_count` as messages change state.

Every change is counted in the transaction that makes it. Messages added, changed or deleted
through a session are seen when it flushes; statements that move many rows at once (a claim, a
batch's outcomes) say what they moved with `moved`, or run through `change_states`. A
transaction's changes are added up and written just before it commits, as `n = n + d` upserts
in key order: concurrent writers never lose an increment, and never wait on each other in a
cycle (each takes the counter rows' locks last, in the same order).

`differences` compares the counters with a full recount; `rebuild` makes them that recount.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from campaign_engine.store.count_tables import MessageCount
from campaign_engine.store.models import Message

__all__ = [
    "Difference",
    "Key",
    "change_states",
    "counted",
    "deleted",
    "differences",
    "kept",
    "moved",
    "rebuild",
]

Key = tuple[int, int, str]  # (campaign id, step, state)
Move = tuple[Key | None, Key | None]  # (before or None: new, after or None: deleted)

_COUNTS: sa.Table = MessageCount.__table__  # type: ignore[attr-defined]
_MESSAGES: sa.Table = Message.__table__  # type: ignore[attr-defined]
_PENDING = "message_count deltas"  # in session.info: this transaction's changes so far
_CHUNK = 500  # ids per UPDATE (SQLite bounds the parameters of a statement)


@dataclass(frozen=True)
class Difference:
    campaign_id: int
    step: int
    state: str
    kept: int
    counted: int


def moved(session: Session, moves: Iterable[Move]) -> None:
    """Count these messages' moves in the session's transaction (written when it commits)."""
    pending: Counter[Key] = session.info.setdefault(_PENDING, Counter())
    for before, after in moves:
        if before == after:
            continue
        if before is not None:
            pending[before] -= 1
        if after is not None:
            pending[after] += 1


def change_states(session: Session, where: sa.ColumnElement[bool], **values: Any) -> int:
    """UPDATE message SET `values` (a `state` among them) WHERE `where`, counted: the rows are
    read first (and locked, on PostgreSQL), so each one's state before is known."""
    rows = session.connection().execute(
        sa.select(_MESSAGES.c.id, _MESSAGES.c.campaign_id, _MESSAGES.c.step, _MESSAGES.c.state)
        .where(where)
        .with_for_update()
    )
    found = rows.all()
    for start in range(0, len(found), _CHUNK):
        ids = [r.id for r in found[start : start + _CHUNK]]
        session.connection().execute(
            sa.update(_MESSAGES).where(_MESSAGES.c.id.in_(ids)).values(**values)
        )
    after = str(values["state"])
    moved(session, (((c, s, state), (c, s, after)) for _, c, s, state in found))
    return len(found)


def deleted(session: Session, where: sa.ColumnElement[bool]) -> int:
    """DELETE FROM message WHERE `where`, counted."""
    m = _MESSAGES.c
    gone = session.connection().execute(
        sa.delete(_MESSAGES).where(where).returning(m.campaign_id, m.step, m.state)
    )
    rows = gone.all()
    moved(session, (((c, s, state), None) for c, s, state in rows))
    return len(rows)


def counted(connection: sa.Connection) -> dict[Key, int]:
    """A full recount from the messages themselves."""
    m = _MESSAGES.c
    query = sa.select(m.campaign_id, m.step, m.state, sa.func.count()).group_by(
        m.campaign_id, m.step, m.state
    )
    return {(c, s, state): n for c, s, state, n in connection.execute(query)}


def kept(connection: sa.Connection, campaign_ids: list[int] | None = None) -> dict[Key, int]:
    """The counters (those not zero), of every campaign or of these."""
    c = _COUNTS.c
    query = sa.select(c.campaign_id, c.step, c.state, c.n).where(c.n != 0)
    if campaign_ids is not None:
        query = query.where(c.campaign_id.in_(campaign_ids))
    return {(campaign, step, state): n for campaign, step, state, n in connection.execute(query)}


def differences(connection: sa.Connection) -> list[Difference]:
    """Where the counters and a full recount disagree (none: they agree)."""
    have, truth = kept(connection), counted(connection)
    return [
        Difference(*key, have.get(key, 0), truth.get(key, 0))
        for key in sorted(have.keys() | truth.keys())
        if have.get(key, 0) != truth.get(key, 0)
    ]


def rebuild(connection: sa.Connection) -> None:
    """Make the counters a full recount (in the caller's transaction; on PostgreSQL, writes to
    messages wait until it commits, so no change falls between the recount and the counters)."""
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("LOCK TABLE message IN SHARE MODE"))
    connection.execute(sa.delete(_COUNTS))
    _add(connection, counted(connection))


def _add(connection: sa.Connection, deltas: Mapping[Key, int]) -> None:
    rows = [
        {"campaign_id": c, "step": s, "state": state, "n": d}
        for (c, s, state), d in sorted(deltas.items())
        if d
    ]
    if not rows:
        return
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    statement = insert(_COUNTS)
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=[_COUNTS.c.campaign_id, _COUNTS.c.step, _COUNTS.c.state],
            set_={"n": _COUNTS.c.n + statement.excluded.n},
        ),
        rows,
    )


def _before(message: Message, name: str) -> Any:
    """An attribute's value as the database holds it (before this flush)."""
    history = sa.inspect(message).attrs[name].history
    if history.deleted:
        return history.deleted[0]
    return history.unchanged[0] if history.unchanged else getattr(message, name)


def _key_before(message: Message) -> Key:
    return (_before(message, "campaign_id"), _before(message, "step"), _before(message, "state"))


def _key(message: Message) -> Key:
    return (message.campaign_id, message.step, str(message.state))


@sa.event.listens_for(Session, "before_flush")
def _seen_at_flush(session: Session, _context: Any, _instances: Any) -> None:
    moved(session, ((None, _key(m)) for m in session.new if isinstance(m, Message)))
    moved(
        session,
        (
            (_key_before(m), _key(m))
            for m in session.dirty
            if isinstance(m, Message) and session.is_modified(m)
        ),
    )
    moved(session, ((_key_before(m), None) for m in session.deleted if isinstance(m, Message)))


@sa.event.listens_for(Session, "before_commit")
def _written_before_commit(session: Session) -> None:
    session.flush()
    pending = session.info.pop(_PENDING, None)
    if pending:
        _add(session.connection(), pending)


@sa.event.listens_for(Session, "after_rollback")
def _forgotten_on_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)
