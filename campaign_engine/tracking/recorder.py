"""Records tracking hits as events: a single writer task classifies them and stores them in batches.

The endpoints answer at once and hand each hit to `EventRecorder.submit`; the writer drains
whatever has arrived, classifies it in arrival order (the "every link at once" rule needs that
order), and inserts the batch in one transaction. Under load batches grow, so the database
sees few commits; at rest a hit is stored within milliseconds. `stop()` (server shutdown)
writes everything still queued. A database error is retried; nothing is dropped silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter, OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import anyio
import sqlalchemy as sa

from campaign_engine.core.kinds import EventKind
from campaign_engine.store import engagement_counts
from campaign_engine.store.bulk import insert_rows
from campaign_engine.store.db import Database, is_postgres
from campaign_engine.store.models import Event, Message
from campaign_engine.tracking.bots import BotRules, Hit, Verdict, classify, proxy_note
from campaign_engine.tracking.hits import RecentLinks, Target
from campaign_engine.tracking.lookups import MessageInfo, message_infos

__all__ = ["EventRecorder", "PendingHit", "stored_bursts"]

log = logging.getLogger(__name__)

MAX_BATCH = 2000  # events per transaction
CACHE_SIZE = 100_000  # sent messages whose links are kept in memory
WRITE_ATTEMPTS = 5
_EVENTS: sa.Table = Event.__table__  # type: ignore[attr-defined]
_MESSAGES: sa.Table = Message.__table__  # type: ignore[attr-defined]
_LINK_KINDS = (EventKind.CLICK, EventKind.CONTACT_PAGE, EventKind.UNSUBSCRIBE_PAGE)
_LOCK = 0x7472_6163  # advisory lock key of the event writers ("trac")


@dataclass(frozen=True)
class PendingHit:
    """A hit the edge accepted (its token verified), waiting to be classified and stored."""

    kind: str  # open, click, contact_page, unsubscribe_page
    message_id: int
    method: str
    user_agent: str
    ip_prefix: str | None
    at: datetime
    link_index: int | None = None
    url: str | None = None

    @property
    def target(self) -> Target:
        return (self.kind, self.link_index)


class EventRecorder:
    """Owns the message cache and the event writer of one server process."""

    def __init__(self, db: Database, rules: BotRules) -> None:
        self.db = db
        self.rules = rules
        self._cache: OrderedDict[int, MessageInfo] = OrderedDict()
        self._loading: dict[int, asyncio.Future[MessageInfo | None]] = {}
        self._recent = RecentLinks(timedelta(seconds=rules.burst_seconds))
        self._queue: asyncio.Queue[PendingHit] | None = None
        self._writer: asyncio.Task[None] | None = None
        self.stored = 0
        self.dropped = 0

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._writer = asyncio.create_task(self._write_forever(), name="event-writer")

    async def stop(self) -> None:
        """Store everything still queued, then stop the writer."""
        if self._queue is None or self._writer is None:
            return
        await self.flush()
        self._writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._writer
        self._writer = None

    async def flush(self) -> None:
        """Wait until every hit submitted so far is stored."""
        if self._queue is not None:
            await self._queue.join()

    def submit(self, hit: PendingHit) -> None:
        if self._queue is None:
            raise RuntimeError("EventRecorder.start() was not awaited (is lifespan on?)")
        self._queue.put_nowait(hit)

    def cached(self, message_id: int) -> MessageInfo | None:
        """The sent message's links and delivery time when they are in memory already."""
        return self._cache.get(message_id)

    async def info(self, message_id: int) -> MessageInfo | None:
        """The message's links and delivery time, from memory when it was sent already.

        Hits that arrive together for a message not in memory (a scanner opening every link of
        a fresh email) share one lookup."""
        cached = self._cache.get(message_id)
        if cached is not None:
            return cached
        loading = self._loading.get(message_id)
        if loading is None:
            loading = asyncio.ensure_future(anyio.to_thread.run_sync(self._load, message_id))
            self._loading[message_id] = loading
            loading.add_done_callback(lambda done: self._loaded(message_id, done))
        return await asyncio.shield(loading)  # one caller cancelled leaves it to the others

    def _loaded(self, message_id: int, done: asyncio.Future[MessageInfo | None]) -> None:
        del self._loading[message_id]
        if not done.cancelled():
            done.exception()  # retrieved: raised to every caller still waiting, logged by them

    def _load(self, message_id: int) -> MessageInfo | None:
        return self._load_many({message_id}).get(message_id)

    def _load_many(self, ids: set[int]) -> dict[int, MessageInfo]:
        with self.db.engine.connect() as connection:  # a read: no session, nothing to commit
            found = message_infos(connection, ids)
        for message_id, info in found.items():
            if info.sent_at is not None:  # immutable from now on: cache it
                self._cache[message_id] = info
                if len(self._cache) > CACHE_SIZE:
                    self._cache.popitem(last=False)
        return found

    # -- the writer ---------------------------------------------------------------------------

    async def _write_forever(self) -> None:
        assert self._queue is not None
        queue = self._queue
        while True:
            batch = [await queue.get()]
            while len(batch) < MAX_BATCH and not queue.empty():
                batch.append(queue.get_nowait())
            try:
                await self._write_batch(batch)
            except Exception:  # never let one bad batch stop the writer
                log.exception("could not record %d tracking events", len(batch))
                self.dropped += len(batch)
            finally:
                for _ in batch:
                    queue.task_done()

    async def _write_batch(self, batch: list[PendingHit]) -> None:
        unknown = {hit.message_id for hit in batch if hit.message_id not in self._cache}
        infos: dict[int, MessageInfo] = {}
        if unknown:  # loaded ones land in the cache; unsent ones only in `infos`
            infos = await anyio.to_thread.run_sync(self._load_many, unknown)
        rows: list[dict[str, object]] = []
        retro: list[tuple[int, datetime, datetime]] = []  # message, window start, end
        latest: dict[int, tuple[int, datetime]] = {}  # message: links, last link hit at
        fresh: set[int] = set()  # messages given a link target new to this process's window
        for hit in batch:
            info = infos.get(hit.message_id) or self._cache.get(hit.message_id)
            if info is None:
                log.warning("tracking hit for unknown message %d ignored", hit.message_id)
                self.dropped += 1
                continue
            link = hit.kind in _LINK_KINDS
            if link and not self._recent.has(hit.message_id, hit.target, hit.at):
                fresh.add(hit.message_id)
            verdict = self._classify(hit, info)
            if verdict.reason == "all_links":
                start = self._recent.window_start(hit.message_id, hit.at)
                retro.append((hit.message_id, start, hit.at))
            elif link and info.links_total >= 2:
                latest[hit.message_id] = (info.links_total, hit.at)
            rows.append(_row(hit, info, verdict))
        # The database is asked only about messages given a target new to this process's
        # window. A repeat (its target hit here at t0, within the span) completes no burst
        # first: a window it completes holds t0 too, or the window from t0 held every target
        # already. (A repeat through another process than the one that saw the burst is not
        # flagged after the fact.)
        bursts = {message_id: latest[message_id] for message_id in fresh & latest.keys()}
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                await anyio.to_thread.run_sync(self._insert, rows, retro, bursts)
                break
            except sa.exc.OperationalError:
                if attempt == WRITE_ATTEMPTS:
                    raise
                log.warning("event insert failed (attempt %d); retrying", attempt, exc_info=True)
                await asyncio.sleep(0.05 * 2**attempt)
        self.stored += len(rows)

    def _classify(self, hit: PendingHit, info: MessageInfo) -> Verdict:
        links_hit = 1
        if hit.kind != EventKind.OPEN:
            links_hit = self._recent.add(hit.message_id, hit.target, hit.at)
        since = (hit.at - info.sent_at).total_seconds() if info.sent_at else None
        return classify(
            Hit(
                is_open=hit.kind == EventKind.OPEN,
                method=hit.method,
                user_agent=hit.user_agent,
                seconds_since_delivery=since,
                links_hit=links_hit,
                links_total=info.links_total,
            ),
            self.rules,
        )

    def _insert(
        self,
        rows: list[dict[str, object]],
        retro: list[tuple[int, datetime, datetime]],
        bursts: dict[int, tuple[int, datetime]],
    ) -> None:
        with self.db.session() as session:
            connection = session.connection()
            if bursts and is_postgres(connection.engine):
                # Serialise the writers of every server process, so each burst check below
                # sees the link hits the others stored (SQLite writers are serialised anyway).
                connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK})
            engagement_counts.adding(connection, rows)
            insert_rows(connection, _EVENTS, rows)
            span = timedelta(seconds=self.rules.burst_seconds)
            retro = retro + stored_bursts(connection, bursts, span)
            if retro:  # rare: hits stored as human become a bot's, recounted from their rows
                flagged = sorted({message_id for message_id, _, _ in retro})
                engagement_counts.touching(session, _MESSAGES.c.id.in_(flagged))
            for message_id, start, end in retro:
                connection.execute(
                    sa.update(_EVENTS)
                    .where(
                        _EVENTS.c.message_id == message_id,
                        _EVENTS.c.kind.in_(_LINK_KINDS),
                        _EVENTS.c.occurred_at >= start,
                        _EVENTS.c.occurred_at <= end,
                        _EVENTS.c.is_human.is_(True),
                    )
                    .values(is_human=False, bot_reason="all_links")
                )


def stored_bursts(
    connection: sa.Connection, bursts: dict[int, tuple[int, datetime]], span: timedelta
) -> list[tuple[int, datetime, datetime]]:
    """The "every link at once" rule over what the database holds, so it holds however many
    server processes recorded the hits: for each message whose links were all hit within one
    `span` around its latest hit here, that window (message, start, end)."""
    if not bursts:
        return []
    earliest = min(at for _, at in bursts.values()) - span
    recent = (
        _EVENTS.c.kind.in_(_LINK_KINDS),
        _EVENTS.c.occurred_at >= earliest,
    )
    # Only a message with as many distinct links hit since `earliest` as it has can hold a
    # burst: the few that do are read hit by hit below.
    targets = connection.execute(
        sa.select(_EVENTS.c.message_id, _EVENTS.c.kind, _EVENTS.c.link_index)
        .distinct()
        .where(_EVENTS.c.message_id.in_(list(bursts)), *recent)
    )
    distinct = Counter(message_id for message_id, _, _ in targets)
    candidates = [m for m, count in distinct.items() if count >= bursts[m][0]]
    if not candidates:
        return []
    rows = connection.execute(
        sa.select(_EVENTS.c.message_id, _EVENTS.c.kind, _EVENTS.c.link_index, _EVENTS.c.occurred_at)
        .where(_EVENTS.c.message_id.in_(candidates), *recent)
        .order_by(_EVENTS.c.occurred_at)
    )
    hits: dict[int, list[tuple[datetime, tuple[str, int | None]]]] = {}
    for message_id, kind, link_index, occurred_at in rows:
        at, last = _aware(occurred_at), bursts[message_id][1]
        if last - span <= at <= last + span:
            hits.setdefault(message_id, []).append((at, (kind, link_index)))
    found = []
    for message_id, seen in hits.items():
        for start, _ in seen:  # windows starting at each hit, in time order
            inside = {target for at, target in seen if start <= at <= start + span}
            if len(inside) >= bursts[message_id][0]:
                found.append((message_id, start, start + span))
                break
    return found


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _row(hit: PendingHit, info: MessageInfo, verdict: Verdict) -> dict[str, object]:
    return {
        "kind": hit.kind,
        "message_id": hit.message_id,
        "contact_id": info.contact_id,
        "link_index": hit.link_index,
        "url": hit.url,
        "is_human": verdict.is_human,
        "bot_reason": verdict.reason,
        "user_agent": hit.user_agent or None,
        "ip_prefix": hit.ip_prefix,
        "note": proxy_note(hit.user_agent) if verdict.is_human else None,
        "occurred_at": hit.at,
    }
