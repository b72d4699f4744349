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

Counted per enrolment, under a per-enrolment lock (PostgreSQL). The step, group and offer
counts follow from what each message's events add up to, its marks and clicked links, kept in
`message_engagement`: new tracked hits (`adding`) are counted from those and the enrolment's few
messages, however many events it has had. Any other change (`touching`: a writer says which
messages' events or slice it is about to change; events added through a session are seen at
flush) counts its enrolments from their event rows then and again just before the commit, adds
the difference and writes their messages' marks anew. `differences` compares counters and marks
with a full recount, `rebuild` makes them that recount.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlmodel import Session

from campaign_engine.core.kinds import EventKind
from campaign_engine.store import bulk, counters
from campaign_engine.store.count_tables import EngagementCount, MessageEngagement
from campaign_engine.store.counters import Difference
from campaign_engine.store.models import Campaign, Event, Message
from campaign_engine.store.sql_dates import local_day

__all__ = [
    "APPLE_PRIVACY",
    "MARKS",
    "TOTALS",
    "Difference",
    "Key",
    "adding",
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
_FACTS: sa.Table = MessageEngagement.__table__  # type: ignore[attr-defined]
_MESSAGES: sa.Table = Message.__table__  # type: ignore[attr-defined]
_EVENTS: sa.Table = Event.__table__  # type: ignore[attr-defined]
_CAMPAIGNS: sa.Table = Campaign.__table__  # type: ignore[attr-defined]
_KEY = ("campaign_id", "step", "segment", "title", "rep_id", "day", "link", "measure")
_TOUCHED = "engagement enrolments"  # in session.info: enrolment ids counted before the change
_BEFORE = "engagement before"  # in session.info: their counts then
_LOCK = 0x656E67  # advisory lock class of an enrolment's engagement (PostgreSQL)


def touching(session: Session, messages: sa.ColumnElement[bool]) -> None:
    """The events (or the slice) of the messages `messages` selects are about to change in this
    transaction: their enrolments' counts are taken now and again before it commits."""
    m = _MESSAGES.c
    found = session.connection().execute(sa.select(m.enrollment_id).where(messages).distinct())
    _touch(session, found.scalars())


def adding(connection: sa.Connection, events: Sequence[Mapping[str, Any]]) -> None:
    """New events (rows as they are being inserted in this transaction) are counted: their
    totals, and what they change of their messages' marks and clicked links."""
    m, ca, f = _MESSAGES.c, _CAMPAIGNS.c, _FACTS.c
    message_ids = {event["message_id"] for event in events}
    of_messages = sa.select(m.enrollment_id).where(bulk.among(connection, m.id, message_ids))
    enrollment_ids = sorted(set(connection.execute(of_messages).scalars()))
    _lock(connection, enrollment_ids)
    query = (
        sa.select(*_SLICE, ca.timezone, f.marks, f.links)
        .select_from(_MESSAGES)
        .join(_CAMPAIGNS, ca.id == m.campaign_id)
        .outerjoin(_FACTS, f.message_id == m.id)
    )
    messages: dict[int, tuple[int, Where]] = {}
    zones: dict[int, str] = {}
    before: Facts = {}
    of_enrollments = bulk.among(connection, m.enrollment_id, enrollment_ids)
    for row in connection.execute(query.where(of_enrollments)):
        messages[row.id], zones[row.id] = (row.enrollment_id, _where(row)), row.timezone
        if row.marks:
            before[row.id] = (row.marks, row.links)
    tally = _Tally()
    for event in events:
        message_id = event["message_id"]
        tally.event(
            message_id,
            messages[message_id][1],
            zones[message_id],
            event["kind"],
            bool(event["is_human"]),
            event["bot_reason"],
            event["link_index"],
            event["url"],
            event["occurred_at"],
        )
    after = {**before, **tally.facts(before)}
    found = tally.found
    found.update(_from_facts(messages, after))
    found.subtract(_from_facts(messages, before))
    _add(connection, found)
    _write_facts(connection, {i: after[i] for i in after if after[i] != before.get(i)}, [])


def counted(connection: sa.Connection) -> Counter[Key]:
    """A full recount from the events and their messages."""
    return _count(connection, None).counts()


def kept(connection: sa.Connection, campaign_ids: list[int]) -> dict[Key, int]:
    """These campaigns' counters (those not zero)."""
    c = _COUNTS.c
    query = sa.select(*(c[name] for name in _KEY), c.n).where(
        c.n != 0, c.campaign_id.in_(campaign_ids)
    )
    return {tuple(key): n for *key, n in connection.execute(query)}


def differences(connection: sa.Connection) -> list[Difference[Key]]:
    """Where the counters, or a message's marks and clicked links, and a full recount disagree
    (none: they agree). A message's marks are told as counters of 1: its mark or links
    (`link`) under the measure "message <id> <mark or links>"."""
    tally = _count(connection, None)
    m, f = _MESSAGES.c, _FACTS.c
    slices = sa.select(*_SLICE, f.marks, f.links).join(_FACTS, f.message_id == m.id)
    facts_kept: Facts = {}
    where = {i: w for i, (_, w) in tally.messages.items()}
    for row in connection.execute(slices):
        facts_kept[row.id], where[row.id] = (row.marks, row.links), _where(row)
    kept_marks = _fact_keys(where, facts_kept)
    counted_marks = _fact_keys(where, tally.facts({}))
    return counters.differences(connection, _COUNTS, _KEY, tally.counts()) + [
        Difference(key, kept_marks.get(key, 0), counted_marks.get(key, 0))
        for key in sorted(kept_marks.keys() | counted_marks.keys())
        if kept_marks.get(key, 0) != counted_marks.get(key, 0)
    ]


def rebuild(connection: sa.Connection) -> None:
    """Make the counters and the messages' marks a full recount (in the caller's transaction;
    on PostgreSQL, writes to events wait until it commits)."""
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("LOCK TABLE event IN SHARE MODE"))
    connection.execute(sa.delete(_COUNTS))
    connection.execute(sa.delete(_FACTS))
    tally = _count(connection, None)
    _add(connection, tally.counts())
    _write_facts(connection, tally.facts({}), [])


Where = tuple[int, int, str, str, int]  # campaign id, step, segment, title, rep id or 0
Link = tuple[int | None, str | None]  # a clicked link's index and URL
Facts = dict[int, tuple[int, str]]  # message id: its marks (bits of MARKS), its links' JSON

_SLICE = (
    _MESSAGES.c.id,
    _MESSAGES.c.enrollment_id,
    _MESSAGES.c.campaign_id,
    _MESSAGES.c.step,
    _MESSAGES.c.segment,
    _MESSAGES.c.title,
    _MESSAGES.c.rep_id,
)


def _where(row: Any) -> Where:
    return (row.campaign_id, row.step, row.segment or "", row.title or "", row.rep_id or 0)


class _Tally:
    """Events counted one by one: their totals (`found`), and the marks and human-clicked
    links each message got from them."""

    def __init__(self) -> None:
        self.found: Counter[Key] = Counter()
        self.messages: dict[int, tuple[int, Where]] = {}  # of the rows read (not `event`'s)
        self._marks: dict[int, set[str]] = {}
        self._links: dict[int, set[Link]] = {}

    def row(self, row: Any) -> None:
        """An event row joined to its message and the campaign's zone."""
        where = _where(row)
        self.messages[row.id] = (row.enrollment_id, where)
        self.event(
            row.id,
            where,
            row.timezone,
            row.kind,
            bool(row.is_human),
            row.bot_reason,
            row.link_index,
            row.url,
            row.occurred_at,
        )

    def event(
        self,
        message_id: int,
        where: Where,
        zone: str | None,
        kind: str,
        human: bool,
        bot_reason: str | None,
        link_index: int | None,
        url: str | None,
        occurred_at: datetime,
    ) -> None:
        found = self.found
        found[(*where, "", "", "events")] += 1
        total = _total(kind, human, (bot_reason or "") == APPLE_PRIVACY)
        if total:
            found[(*where, local_day(occurred_at, zone), "", total)] += 1
        marks = set(_marks(kind, human))
        if marks:
            self._marks.setdefault(message_id, set()).update(marks)
        if human and kind == EventKind.CLICK:
            link = (link_index, url)
            found[(*where, "", _json([link]), "link_clicks")] += 1
            self._links.setdefault(message_id, set()).add(link)

    def facts(self, before: Facts) -> Facts:
        """The marks and links of the messages the events marked, with what they had `before`."""
        facts: Facts = {}
        for message_id, marks in self._marks.items():
            bits, links = before.get(message_id, (0, ""))
            clicked = {(i, u) for i, u in json.loads(links)} if links else set()
            clicked |= self._links.get(message_id, set())
            facts[message_id] = (
                bits | _bits(marks),
                _json(sorted(clicked, key=_link_order)) if clicked else "",
            )
        return facts

    def counts(self) -> Counter[Key]:
        """Every counter of the rows read (`row`): totals and what their marks make."""
        found = Counter(self.found)
        found.update(_from_facts(self.messages, self.facts({})))
        return found


def _from_facts(messages: Mapping[int, tuple[int, Where]], facts: Facts) -> Counter[Key]:
    """The counters the messages' marks and links make: contacts per step and group (a group
    counts an enrolment's messages of one slice once, under the first with the mark), and
    clickers per set of links. `messages` holds every message of their enrolments."""
    found: Counter[Key] = Counter()
    firsts: dict[tuple[int, tuple[str, str, int], str], int] = {}
    for message_id in sorted(facts):
        enrollment_id, where = messages[message_id]
        bits, links = facts[message_id]
        for mark in _marks_of(bits):
            found[(*where, "", "", f"step:{mark}")] += 1
            firsts.setdefault((enrollment_id, where[2:], mark), message_id)
        if links:
            found[(*where, "", links, "clickers_by_links")] += 1
    for (_, _, mark), message_id in firsts.items():
        found[(*messages[message_id][1], "", "", f"group:{mark}")] += 1
    return found


def _fact_keys(where: Mapping[int, Where], facts: Facts) -> dict[Key, int]:
    """Each message's marks and links as counters of 1 (for `differences`)."""
    keys: dict[Key, int] = {}
    for message_id, (bits, links) in facts.items():
        for mark in _marks_of(bits):
            keys[(*where[message_id], "", "", f"message {message_id} {mark}")] = 1
        if links:
            keys[(*where[message_id], "", links, f"message {message_id} links")] = 1
    return keys


def _bits(marks: Iterable[str]) -> int:
    return sum(1 << MARKS.index(mark) for mark in set(marks))


def _marks_of(bits: int) -> list[str]:
    return [mark for index, mark in enumerate(MARKS) if bits >> index & 1]


def _write_facts(connection: sa.Connection, facts: Facts, replaced: list[int]) -> None:
    """Store these messages' marks; those of the `replaced` messages' enrolments that `facts`
    does not give have none (their rows go)."""
    f, m = _FACTS.c, _MESSAGES.c
    if replaced:
        of_enrollments = sa.select(m.id).where(bulk.among(connection, m.enrollment_id, replaced))
        connection.execute(sa.delete(_FACTS).where(f.message_id.in_(of_enrollments)))
    rows = [
        {"message_id": i, "marks": bits, "links": links}
        for i, (bits, links) in sorted(facts.items())
    ]
    counters.upsert(
        connection,
        _FACTS,
        ["message_id"],
        rows,
        lambda new: {"marks": new.marks, "links": new.links},
    )


def _lock(connection: sa.Connection, enrollment_ids: list[int]) -> None:
    """Serialise the writers of these enrolments' events (PostgreSQL), so each reads the
    others' counted."""
    if connection.dialect.name != "postgresql" or not enrollment_ids:
        return
    connection.execute(
        sa.select(sa.func.pg_advisory_xact_lock(_LOCK, sa.column("id"))).select_from(
            sa.func.unnest(sa.bindparam("ids", enrollment_ids, type_=postgresql.ARRAY(sa.Integer)))
            .table_valued("id")
            .render_derived()
        )
    )


def _touch(session: Session, enrollment_ids: Iterable[int]) -> None:
    touched: set[int] = session.info.setdefault(_TOUCHED, set())
    new = sorted(set(enrollment_ids) - touched)
    if not new:
        return
    connection = session.connection()
    _lock(connection, new)
    touched.update(new)
    before: Counter[Key] = session.info.setdefault(_BEFORE, Counter())
    before.update(_count(connection, new).counts())


def _count(connection: sa.Connection, enrollment_ids: list[int] | None) -> _Tally:
    """These enrolments' events counted (None: every event)."""
    m, e, ca = _MESSAGES.c, _EVENTS.c, _CAMPAIGNS.c
    query = (
        sa.select(
            *_SLICE,
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
    if enrollment_ids is not None:
        query = query.where(bulk.among(connection, m.enrollment_id, enrollment_ids))
    tally = _Tally()
    for row in connection.execute(query):
        tally.row(row)
    return tally


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
        touching(session, bulk.among(session.connection(), _MESSAGES.c.id, set(changed)))


@sa.event.listens_for(Session, "before_commit")
def _written_before_commit(session: Session) -> None:
    session.flush()
    touched = session.info.pop(_TOUCHED, None)
    before: Counter[Key] = session.info.pop(_BEFORE, Counter())
    if not touched:
        return
    connection = session.connection()
    tally = _count(connection, sorted(touched))
    deltas = tally.counts()
    deltas.subtract(before)
    _add(connection, deltas)
    _write_facts(connection, tally.facts({}), sorted(touched))


@sa.event.listens_for(Session, "after_rollback")
def _forgotten_on_rollback(session: Session) -> None:
    session.info.pop(_TOUCHED, None)
    session.info.pop(_BEFORE, None)
