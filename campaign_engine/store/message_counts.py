"""Messages per campaign, step and state, and per slice of the report (origin, the contact's
segment, title and rep when queued, local day of the send), kept in `message_count` as
messages change state.

Every change is counted in the transaction that makes it. Messages added, changed or deleted
through a session are seen when it flushes; statements that move many rows at once (a claim, a
batch's outcomes) say what they moved with `moved`, or run through `change_states`. A
transaction's changes are added up and written just before it commits, as `n = n + d` upserts
in key order: concurrent writers never lose an increment, and never wait on each other in a
cycle (each takes the counter rows' locks last, in the same order).

Each enrolment's `emailed` (a message of it is sent: the report's touched contacts) is set
again from its messages, in the same transaction, whenever one of them is sent or deleted.

A message's slice is written on it when it is queued (`slices`; a message added through a
session gets it at flush), so later changes to the contact or its account never move counters.
`differences` and `emailed_differences` compare with a full recount; `rebuild` makes them that
recount.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from campaign_engine.core.kinds import MessageState
from campaign_engine.store import counters
from campaign_engine.store.count_tables import MessageCount
from campaign_engine.store.counters import Difference
from campaign_engine.store.models import Account, Campaign, Contact, Enrollment, Message
from campaign_engine.store.sql_dates import local_date, local_day

__all__ = [
    "KEY_COLUMNS",
    "Difference",
    "Key",
    "change_states",
    "counted",
    "deleted",
    "differences",
    "emailed",
    "emailed_differences",
    "kept",
    "kept_slices",
    "key_of",
    "moved",
    "rebuild",
    "recheck_emailed",
    "slices",
]

# (campaign id, step, state, origin, segment, title, rep id or 0, local day of the send or "")
Key = tuple[int, int, str, str, str, str, int, str]
Move = tuple[Key | None, Key | None]  # (before or None: new, after or None: deleted)

_COUNTS: sa.Table = MessageCount.__table__  # type: ignore[attr-defined]
_MESSAGES: sa.Table = Message.__table__  # type: ignore[attr-defined]
_ENROLLMENTS: sa.Table = Enrollment.__table__  # type: ignore[attr-defined]
_CONTACTS: sa.Table = Contact.__table__  # type: ignore[attr-defined]
_ACCOUNTS: sa.Table = Account.__table__  # type: ignore[attr-defined]
_CAMPAIGNS: sa.Table = Campaign.__table__  # type: ignore[attr-defined]
_PENDING = "message_count deltas"  # in session.info: this transaction's changes so far
_RECHECK = "emailed enrolments"  # in session.info: enrolments whose `emailed` may have changed
_CHUNK = 500  # ids per statement (SQLite bounds the parameters of a statement)
_KEY = ("campaign_id", "step", "state", "origin", "segment", "title", "rep_id", "day")
_SLICE = ("segment", "title", "rep_id", "zone")  # written on a message when it is queued
# The message columns a key is made of (select them, then `key_of` the row).
KEY_COLUMNS = tuple(
    _MESSAGES.c[name] for name in ("campaign_id", "step", "state", "origin", *_SLICE, "sent_at")
)


def key_of(row: Any, **changed: Any) -> Key:
    """The counter a message (a row with `KEY_COLUMNS`, a `Message`, or the dict it is inserted
    from) counts in, with the `changed` values instead of its own (e.g. the state and send time
    an UPDATE gives it)."""

    def value(name: str) -> Any:
        if name in changed:
            return changed[name]
        return row.get(name) if isinstance(row, Mapping) else getattr(row, name)

    return (
        value("campaign_id"),
        value("step"),
        str(value("state")),
        str(value("origin")),
        value("segment") or "",
        value("title") or "",
        value("rep_id") or 0,
        local_day(value("sent_at"), value("zone")),
    )


def emailed(key: Key | None) -> bool:
    """Whether a message counted under `key` makes its enrolment emailed (sent, with a time)."""
    return key is not None and key[2] == MessageState.SENT and key[7] != ""


def recheck_emailed(session: Session, enrollment_ids: Iterable[int]) -> None:
    """These enrolments gained or lost a sent message: their `emailed` is set from their
    messages before the transaction commits."""
    session.info.setdefault(_RECHECK, set()).update(enrollment_ids)


def slices(connection: sa.Connection, enrollment_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """Enrolment id -> the slice its messages are written with now: the account's segment and
    rep, the contact's title, the zone of the contact's calendar (the enrolment's, else the
    campaign's)."""
    e, c, a, ca = _ENROLLMENTS.c, _CONTACTS.c, _ACCOUNTS.c, _CAMPAIGNS.c
    ids = sorted(set(enrollment_ids))
    found: dict[int, dict[str, Any]] = {}
    for start in range(0, len(ids), _CHUNK):
        query = (
            sa.select(
                e.id,
                a.segment,
                c.title,
                a.rep_id,
                sa.func.coalesce(sa.func.nullif(e.timezone, ""), ca.timezone),
            )
            .join(_CONTACTS, c.id == e.contact_id)
            .join(_ACCOUNTS, a.id == c.account_id)
            .join(_CAMPAIGNS, ca.id == e.campaign_id)
            .where(e.id.in_(ids[start : start + _CHUNK]))
        )
        for eid, *values in connection.execute(query):
            found[eid] = dict(zip(_SLICE, values, strict=True))
    return found


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
    """UPDATE message SET `values` (a new state, or a slice's value) WHERE `where`, counted: the
    rows are read first (and locked, on PostgreSQL), so each one's key before is known."""
    rows = session.connection().execute(
        sa.select(_MESSAGES.c.id, _MESSAGES.c.enrollment_id, *KEY_COLUMNS)
        .where(where)
        .with_for_update()
    )
    found = rows.all()
    for start in range(0, len(found), _CHUNK):
        ids = [r.id for r in found[start : start + _CHUNK]]
        session.connection().execute(
            sa.update(_MESSAGES).where(_MESSAGES.c.id.in_(ids)).values(**values)
        )
    _moved_rows(session, [(row.enrollment_id, key_of(row), key_of(row, **values)) for row in found])
    return len(found)


def deleted(session: Session, where: sa.ColumnElement[bool]) -> int:
    """DELETE FROM message WHERE `where`, counted."""
    gone = session.connection().execute(
        sa.delete(_MESSAGES).where(where).returning(_MESSAGES.c.enrollment_id, *KEY_COLUMNS)
    )
    rows = gone.all()
    _moved_rows(session, [(row.enrollment_id, key_of(row), None) for row in rows])
    return len(rows)


def _moved_rows(session: Session, moves: list[tuple[int, Key | None, Key | None]]) -> None:
    """`moved`, for messages of known enrolments (whose `emailed` may change with them)."""
    moved(session, ((before, after) for _, before, after in moves))
    recheck_emailed(session, (e for e, before, after in moves if emailed(before) != emailed(after)))


def counted(connection: sa.Connection) -> dict[Key, int]:
    """A full recount from the messages themselves."""
    m = _MESSAGES.c
    keys = (
        m.campaign_id,
        m.step,
        m.state,
        m.origin,
        sa.func.coalesce(m.segment, ""),
        sa.func.coalesce(m.title, ""),
        sa.func.coalesce(m.rep_id, 0),
        local_date(m.sent_at, sa.func.coalesce(sa.func.nullif(m.zone, ""), "UTC")),
    )
    query = sa.select(*keys, sa.func.count()).group_by(*keys)
    return {(*key, _day(day)): n for *key, day, n in connection.execute(query)}


def kept(
    connection: sa.Connection, campaign_ids: list[int] | None = None
) -> dict[tuple[int, int, str], int]:
    """The messages per (campaign, step, state) (those not zero), of every campaign or of
    these."""
    c = _COUNTS.c
    query = (
        sa.select(c.campaign_id, c.step, c.state, sa.func.sum(c.n))
        .where(c.n != 0)
        .group_by(c.campaign_id, c.step, c.state)
    )
    if campaign_ids is not None:
        query = query.where(c.campaign_id.in_(campaign_ids))
    found = connection.execute(query)
    return {(campaign, step, state): int(n) for campaign, step, state, n in found if n}


def kept_slices(
    connection: sa.Connection, campaign_ids: list[int], states: Iterable[str]
) -> dict[Key, int]:
    """The counters (those not zero) of these campaigns' messages in these states."""
    c = _COUNTS.c
    query = sa.select(*(c[name] for name in _KEY), c.n).where(
        c.n != 0, c.campaign_id.in_(campaign_ids), c.state.in_(list(states))
    )
    return {tuple(key): n for *key, n in connection.execute(query)}


def differences(connection: sa.Connection) -> list[Difference[Key]]:
    """Where the counters and a full recount disagree (none: they agree)."""
    return counters.differences(connection, _COUNTS, _KEY, counted(connection))


def emailed_differences(connection: sa.Connection) -> list[tuple[int, bool]]:
    """The enrolments whose `emailed` says otherwise than their messages: (id, what it says)."""
    e = _ENROLLMENTS.c
    wrong = sa.select(e.id, e.emailed).where(e.emailed != _has_sent_message()).order_by(e.id)
    return [(eid, bool(flag)) for eid, flag in connection.execute(wrong)]


def rebuild(connection: sa.Connection) -> None:
    """Make the counters and every enrolment's `emailed` a full recount (in the caller's
    transaction; on PostgreSQL, writes to messages wait until it commits, so no change falls
    between the recount and the counters)."""
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("LOCK TABLE message IN SHARE MODE"))
    connection.execute(sa.delete(_COUNTS))
    _add(connection, counted(connection))
    connection.execute(sa.update(_ENROLLMENTS).values(emailed=_has_sent_message()))


def _has_sent_message() -> sa.ColumnElement[bool]:
    m = _MESSAGES.c
    return sa.exists().where(
        m.enrollment_id == _ENROLLMENTS.c.id, m.state == MessageState.SENT, m.sent_at.is_not(None)
    )


def _set_emailed(connection: sa.Connection, enrollment_ids: set[int]) -> None:
    """The enrolments' messages are looked up by enrolment id first: a correlated EXISTS in the
    UPDATE let SQLite read every sent message per enrolment, so a commit's cost grew with the
    messages sent before it."""
    ids = sorted(enrollment_ids)
    m, e = _MESSAGES.c, _ENROLLMENTS.c
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        emailed = set(
            connection.execute(
                sa.select(m.enrollment_id)
                .where(
                    m.enrollment_id.in_(chunk),
                    m.state == MessageState.SENT,
                    m.sent_at.is_not(None),
                )
                .distinct()
            ).scalars()
        )
        for flag, group in ((True, sorted(emailed)), (False, sorted(set(chunk) - emailed))):
            if group:
                connection.execute(
                    sa.update(_ENROLLMENTS)
                    .where(e.id.in_(group), e.emailed.is_not(flag))
                    .values(emailed=flag)
                )


def _day(value: date | str | None) -> str:
    return value.isoformat() if isinstance(value, date) else value or ""


def _add(connection: sa.Connection, deltas: Mapping[Key, int]) -> None:
    counters.add(connection, _COUNTS, _KEY, deltas)


def _before(message: Message, name: str) -> Any:
    """An attribute's value as the database holds it (before this flush)."""
    history = sa.inspect(message).attrs[name].history
    if history.deleted:
        return history.deleted[0]
    return history.unchanged[0] if history.unchanged else getattr(message, name)


def _key_before(message: Message) -> Key:
    return key_of(message, **{c.name: _before(message, c.name) for c in KEY_COLUMNS})


def _with_slices(session: Session, messages: list[Message]) -> list[Message]:
    """These new messages, each with its slice written on it (unless it has one)."""
    missing = [m for m in messages if m.segment is None]
    if missing:
        found = slices(session.connection(), (m.enrollment_id for m in missing))
        for message in missing:
            for name, value in found.get(message.enrollment_id, {}).items():
                setattr(message, name, value)
    return messages


@sa.event.listens_for(Session, "before_flush")
def _seen_at_flush(session: Session, _context: Any, _instances: Any) -> None:
    new = _with_slices(session, [m for m in session.new if isinstance(m, Message)])
    dirty = [m for m in session.dirty if isinstance(m, Message) and session.is_modified(m)]
    _moved_rows(
        session,
        [
            *((m.enrollment_id, None, key_of(m)) for m in new),
            *((m.enrollment_id, _key_before(m), key_of(m)) for m in dirty),
            *(
                (m.enrollment_id, _key_before(m), None)
                for m in session.deleted
                if isinstance(m, Message)
            ),
        ],
    )


@sa.event.listens_for(Session, "before_commit")
def _written_before_commit(session: Session) -> None:
    session.flush()
    recheck = session.info.pop(_RECHECK, None)
    if recheck:
        _set_emailed(session.connection(), recheck)
    pending = session.info.pop(_PENDING, None)
    if pending:
        _add(session.connection(), pending)


@sa.event.listens_for(Session, "after_rollback")
def _forgotten_on_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(_RECHECK, None)
