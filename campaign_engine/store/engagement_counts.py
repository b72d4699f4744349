"""Events on messages counted per report slice (campaign, step, the message's segment, title and
rep), kept in `engagement_count` in the transaction that stores or changes the events, so the
report's engagement is read from a few thousand counters instead of every event.

A counter is a `measure` of a slice, on a local day (of the campaign's zone, for the event
totals) or of a set of links clicked:

- event totals (`opens_total`, `scanner_clicks`, `requests`, ...) per day, and `events` (every
  event of any kind: which steps and groups have events at all);
- `step:<mark>`: messages with at least one event of the mark (`openers`, `clickers`, ...): one
  message per contact and step, so these are the distinct contacts per step;
- `group:<mark>`: contacts with the mark in a group (an enrolment's messages of one slice count
  once, under the first of them that has it);
- `link_clicks` per link (JSON `[link_index, url]`) and `clickers_by_links` per set of links a
  message's human clicks went to (JSON list), so the contacts per offer stay distinct however
  many of its links map to one offer.

Counted per enrolment: a writer says which messages' events (or slice) it is about to change
(`touching`; events added through a session are seen at flush), their enrolments' counts are
read from the rows then, under a per-enrolment lock (PostgreSQL), and again just before the
commit; the difference is added to the counters. `differences` compares them with a full
recount, `rebuild` makes them that recount.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlmodel import Session

from campaign_engine.core.kinds import EventKind
from campaign_engine.store import counters
from campaign_engine.store.count_tables import EngagementCount
from campaign_engine.store.counters import Difference
from campaign_engine.store.models import Campaign, Event, Message
from campaign_engine.store.sql_dates import local_day

__all__ = [
    "APPLE_PRIVACY",
    "MARKS",
    "TOTALS",
    "Difference",
    "Key",
    "counted",
    "differences",
    "kept",
    "rebuild",
    "touching",
]

# (campaign id, step, segment, title, rep id or 0, day or "", link(s) or "", measure)
Key = tuple[int, int, str, str, int, str, str, str]

APPLE_PRIVACY = "apple_privacy"  # Event.bot_reason of Apple Mail Privacy Protection pixel loads
TOTALS = (
    "opens_total",
    "clicks_total",
    "contact_page_visits",
    "apple_opens",
    "scanner_opens",
    "scanner_clicks",
    "requests",
)
MARKS = (
    "openers",
    "clickers",
    "requesters",
    "unsubscribers",
    "repliers",
    "auto_repliers",
    "complainers",
)

_COUNTS: sa.Table = EngagementCount.__table__  # type: ignore[attr-defined]
_MESSAGES: sa.Table = Message.__table__  # type: ignore[attr-defined]
_EVENTS: sa.Table = Event.__table__  # type: ignore[attr-defined]
_CAMPAIGNS: sa.Table = Campaign.__table__  # type: ignore[attr-defined]
_KEY = ("campaign_id", "step", "segment", "title", "rep_id", "day", "link", "measure")
_TOUCHED = "engagement enrolments"  # in session.info: enrolment ids counted before the change
_BEFORE = "engagement before"  # in session.info: their counts then
_LOCK = 0x656E67  # advisory lock class of an enrolment's engagement (PostgreSQL)
_CHUNK = 500  # ids per statement (SQLite bounds the parameters of a statement)


def touching(session: Session, messages: sa.ColumnElement[bool]) -> None:
    """The events (or the slice) of the messages `messages` selects are about to change in this
    transaction: their enrolments' counts are taken now and again before it commits."""
    m = _MESSAGES.c
    found = session.connection().execute(sa.select(m.enrollment_id).where(messages).distinct())
    _touch(session, found.scalars())


def counted(connection: sa.Connection) -> Counter[Key]:
    """A full recount from the events and their messages."""
    return _count(connection, None)


def kept(connection: sa.Connection, campaign_ids: list[int]) -> dict[Key, int]:
    """These campaigns' counters (those not zero)."""
    c = _COUNTS.c
    query = sa.select(*(c[name] for name in _KEY), c.n).where(
        c.n != 0, c.campaign_id.in_(campaign_ids)
    )
    return {tuple(key): n for *key, n in connection.execute(query)}


def differences(connection: sa.Connection) -> list[Difference[Key]]:
    """Where the counters and a full recount disagree (none: they agree)."""
    return counters.differences(connection, _COUNTS, _KEY, counted(connection))


def rebuild(connection: sa.Connection) -> None:
    """Make the counters a full recount (in the caller's transaction; on PostgreSQL, writes to
    events wait until it commits)."""
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("LOCK TABLE event IN SHARE MODE"))
    connection.execute(sa.delete(_COUNTS))
    _add(connection, counted(connection))


def _touch(session: Session, enrollment_ids: Iterable[int]) -> None:
    touched: set[int] = session.info.setdefault(_TOUCHED, set())
    new = sorted(set(enrollment_ids) - touched)
    if not new:
        return
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        # Serialise the writers of one enrolment's events, so each reads the other's counted.
        connection.execute(
            sa.select(sa.func.pg_advisory_xact_lock(_LOCK, sa.column("id"))).select_from(
                sa.func.unnest(sa.bindparam("ids", new, type_=postgresql.ARRAY(sa.Integer)))
                .table_valued("id")
                .render_derived()
            )
        )
    touched.update(new)
    before: Counter[Key] = session.info.setdefault(_BEFORE, Counter())
    before.update(_count(connection, new))


def _count(connection: sa.Connection, enrollment_ids: list[int] | None) -> Counter[Key]:
    """The counts of these enrolments' events (None: of every event)."""
    m, e, ca = _MESSAGES.c, _EVENTS.c, _CAMPAIGNS.c
    query = (
        sa.select(
            m.id,
            m.enrollment_id,
            m.campaign_id,
            m.step,
            m.segment,
            m.title,
            m.rep_id,
            ca.timezone,
            e.kind,
            e.is_human,
            e.bot_reason,
            e.link_index,
            e.url,
            e.occurred_at,
        )
        .select_from(_EVENTS)
        .join(_MESSAGES, m.id == e.message_id)
        .join(_CAMPAIGNS, ca.id == m.campaign_id)
    )
    if enrollment_ids is None:
        return _counts(connection.execute(query))
    rows: list[Any] = []
    for start in range(0, len(enrollment_ids), _CHUNK):
        chunk = enrollment_ids[start : start + _CHUNK]
        rows.extend(connection.execute(query.where(m.enrollment_id.in_(chunk))))
    return _counts(rows)


def _counts(rows: Iterable[Any]) -> Counter[Key]:
    """Counters from (message, enrolment, slice, campaign zone, event) rows."""
    found: Counter[Key] = Counter()
    marks: dict[int, set[str]] = {}
    links: dict[int, set[tuple[int | None, str | None]]] = {}
    slices: dict[int, tuple[int, int, str, str, int]] = {}
    enrollments: dict[int, int] = {}
    for row in rows:
        where = (row.campaign_id, row.step, row.segment or "", row.title or "", row.rep_id or 0)
        slices[row.id], enrollments[row.id] = where, row.enrollment_id
        found[(*where, "", "", "events")] += 1
        human = bool(row.is_human)
        total = _total(row.kind, human, (row.bot_reason or "") == APPLE_PRIVACY)
        if total:
            found[(*where, local_day(row.occurred_at, row.timezone), "", total)] += 1
        marks.setdefault(row.id, set()).update(_marks(row.kind, human))
        if human and row.kind == EventKind.CLICK:
            link = (row.link_index, row.url)
            found[(*where, "", _json([link]), "link_clicks")] += 1
            links.setdefault(row.id, set()).add(link)
    firsts: dict[tuple[int, tuple[str, str, int], str], int] = {}
    for message_id in sorted(marks):
        where = slices[message_id]
        for mark in marks[message_id]:
            found[(*where, "", "", f"step:{mark}")] += 1
            firsts.setdefault((enrollments[message_id], where[2:], mark), message_id)
    for (_, _, mark), message_id in firsts.items():
        found[(*slices[message_id], "", "", f"group:{mark}")] += 1
    for message_id, clicked in links.items():
        clicked_links = _json(sorted(clicked, key=_link_order))
        found[(*slices[message_id], "", clicked_links, "clickers_by_links")] += 1
    return found


def _total(kind: str, human: bool, apple: bool) -> str | None:
    if human:
        return _HUMAN_TOTALS.get(kind)
    if kind == EventKind.OPEN:
        return "apple_opens" if apple else "scanner_opens"
    if kind == EventKind.CLICK and not apple:
        return "scanner_clicks"
    return None


def _marks(kind: str, human: bool) -> Iterator[str]:
    if human and kind in (EventKind.OPEN, EventKind.CLICK):
        yield "openers"
    if human and kind == EventKind.CLICK:
        yield "clickers"
    if human and kind == EventKind.CONTACT_REQUEST:
        yield "requesters"
    mark = _ANYONE.get(kind)
    if mark:
        yield mark


_HUMAN_TOTALS = {
    EventKind.OPEN.value: "opens_total",
    EventKind.CLICK.value: "clicks_total",
    EventKind.CONTACT_PAGE.value: "contact_page_visits",
    EventKind.CONTACT_REQUEST.value: "requests",
}
_ANYONE = {  # marks whoever (or whatever) the event came from
    EventKind.UNSUBSCRIBE.value: "unsubscribers",
    EventKind.REPLY.value: "repliers",
    EventKind.AUTO_REPLY.value: "auto_repliers",
    EventKind.COMPLAINT.value: "complainers",
}


def _link_order(link: tuple[int | None, str | None]) -> tuple[bool, int, str]:
    index, url = link
    return (index is None, index or 0, url or "")


def _json(links: list[tuple[int | None, str | None]]) -> str:
    return json.dumps([list(link) for link in links], separators=(",", ":"))


def _add(connection: sa.Connection, deltas: Counter[Key] | dict[Key, int]) -> None:
    counters.add(connection, _COUNTS, _KEY, deltas)


@sa.event.listens_for(Session, "before_flush")
def _seen_at_flush(session: Session, _context: Any, _instances: Any) -> None:
    changed = [
        e.message_id
        for e in (*session.new, *session.dirty, *session.deleted)
        if isinstance(e, Event) and e.message_id is not None
    ]
    if changed:
        touching(session, _MESSAGES.c.id.in_(sorted(set(changed))))


@sa.event.listens_for(Session, "before_commit")
def _written_before_commit(session: Session) -> None:
    session.flush()
    touched = session.info.pop(_TOUCHED, None)
    before: Counter[Key] = session.info.pop(_BEFORE, Counter())
    if not touched:
        return
    connection = session.connection()
    deltas = _count(connection, sorted(touched))
    deltas.subtract(before)
    _add(connection, deltas)


@sa.event.listens_for(Session, "after_rollback")
def _forgotten_on_rollback(session: Session) -> None:
    session.info.pop(_TOUCHED, None)
    session.info.pop(_BEFORE, None)
