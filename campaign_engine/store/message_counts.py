"""Messages per campaign, step and state, and per slice of the report (origin, the contact's
segment, title and rep when queued, local day of the send), kept in `message_count` as
messages change state.

Every change is counted in the transaction that makes it. Messages added, changed or deleted
through a session are seen when it flushes; statements that move many rows at once (a claim, a
batch's outcomes) say what they moved with `moved`, or run through `change_states`. A
transaction's changes are added up and written just before it commits, as `n = n + d` upserts
in key order: concurrent writers never lose an increment, and never wait on each other in a
cycle (each takes the counter rows' locks last, in the same order).

Each enrolment's `emailed` (a message of it is sent: the report's touched contacts) is kept in
the same transaction: set when one of its messages is sent, and looked up again from its
messages when a sent one is deleted or leaves `sent`.

A message's slice is written on it when it is queued (`slices`; a message added through a
session gets it at flush), so later changes to the contact or its account never move counters.
`differences` and `emailed_differences` compare with a full recount; `rebuild` makes them that
recount.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from campaign_engine.core.kinds import MessageState
from campaign_engine.store import counters
from campaign_engine.store.bulk import among
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
    "moved_messages",
    "rebuild",
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
_LOST = "unsent enrolments"  # in session.info: enrolments that lost a sent message
_GAINED = "sent enrolments"  # in session.info: enrolments that gained a sent message
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

    get = row.get if isinstance(row, Mapping) else functools.partial(getattr, row)

    def value(name: str) -> Any:
        return changed[name] if name in changed else get(name)

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


def slices(connection: sa.Connection, enrollment_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """Enrolment id -> the slice its messages are written with now: the account's segment and
    rep, the contact's title, the zone of the contact's calendar (the enrolment's, else the
    campaign's)."""
    e, c, a, ca = _ENROLLMENTS.c, _CONTACTS.c, _ACCOUNTS.c, _CAMPAIGNS.c
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
        .where(among(connection, e.id, set(enrollment_ids)))
    )
    return {
        eid: dict(zip(_SLICE, values, strict=True)) for eid, *values in connection.execute(query)
    }


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
    connection = session.connection()
    rows = connection.execute(
        sa.select(_MESSAGES.c.id, _MESSAGES.c.enrollment_id, *KEY_COLUMNS)
        .where(where)
        .with_for_update(key_share=True)  # NO KEY: events on these messages keep going in
    )
    found = rows.all()
    if found:
        ids = among(connection, _MESSAGES.c.id, [row.id for row in found])
        connection.execute(sa.update(_MESSAGES).where(ids).values(**values))
    moved_messages(
        session, [(row.enrollment_id, key_of(row), key_of(row, **values)) for row in found]
    )
    return len(found)


def deleted(session: Session, where: sa.ColumnElement[bool]) -> int:
    """DELETE FROM message WHERE `where`, counted."""
    gone = session.connection().execute(
        sa.delete(_MESSAGES).where(where).returning(_MESSAGES.c.enrollment_id, *KEY_COLUMNS)
    )
    rows = gone.all()
    moved_messages(session, [(row.enrollment_id, key_of(row), None) for row in rows])
    return len(rows)


def moved_messages(session: Session, moves: Sequence[tuple[int, Key | None, Key | None]]) -> None:
    """`moved`, for messages of known enrolments (enrolment id, before, after): an enrolment
    whose message is sent is emailed; one whose sent message went is looked up again."""
    moved(session, ((before, after) for _, before, after in moves))
    gained = session.info.setdefault(_GAINED, set())
    lost = session.info.setdefault(_LOST, set())
    for enrollment_id, before, after in moves:
        if emailed(before) != emailed(after):
            (gained if emailed(after) else lost).add(enrollment_id)


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
    return sa.exists().where(_MESSAGES.c.enrollment_id == _ENROLLMENTS.c.id, _sent())


def _sent() -> sa.ColumnElement[bool]:
    """A message that makes its enrolment emailed (as `emailed` says of a key)."""
    m = _MESSAGES.c
    return sa.and_(m.state == MessageState.SENT, m.sent_at.is_not(None))


def _set_emailed(connection: sa.Connection, gained: set[int], lost: set[int]) -> None:
    """Enrolments that gained a sent message are emailed; those that lost one are emailed if
    another of their messages is sent (looked up by enrolment id: a correlated EXISTS in the
    UPDATE let SQLite read every sent message per enrolment)."""
    m, e = _MESSAGES.c, _ENROLLMENTS.c
    still = set()
    if lost:
        query = sa.select(m.enrollment_id).where(among(connection, m.enrollment_id, lost), _sent())
        still = set(connection.execute(query.distinct()).scalars())
    for flag, ids in ((True, (gained - lost) | still), (False, lost - still)):
        if ids:
            connection.execute(
                sa.update(_ENROLLMENTS)
                .where(among(connection, e.id, sorted(ids)), e.emailed.is_not(flag))
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
    moved_messages(
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
    gained, lost = session.info.pop(_GAINED, None), session.info.pop(_LOST, None)
    if gained or lost:
        _set_emailed(session.connection(), gained or set(), lost or set())
    pending = session.info.pop(_PENDING, None)
    if pending:
        _add(session.connection(), pending)


@sa.event.listens_for(Session, "after_rollback")
def _forgotten_on_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(_LOST, None)
    session.info.pop(_GAINED, None)
