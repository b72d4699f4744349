"""Counts too slow to make per request, served from the last count while a newer one is made.

The dashboard's report and the campaigns' status tables read every message of the campaigns:
seconds on a million messages. A page shows the last count with its time; once that count is
older than `max_age`, the page still shows it and a background thread counts again (stale while
revalidate), so no request waits on a full count but the first of a key or one asking for a
fresh count. Each web process keeps its own counts, in memory.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

__all__ = ["Snapshot", "Snapshots"]

log = logging.getLogger(__name__)
T = TypeVar("T")
KEPT = 32  # counts kept per process; a new campaign makes new keys, the oldest go


@dataclass(frozen=True)
class Snapshot(Generic[T]):
    value: T
    counted_at: datetime  # the clock when the count began: the data is as of then
    recounting: bool  # a newer count is being made in the background


class Snapshots:
    def __init__(self, max_age: timedelta, clock: Callable[[], datetime]) -> None:
        self._max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        self._kept: dict[Hashable, tuple[Any, datetime]] = {}
        self._counting: set[Hashable] = set()
        self._gates: dict[Hashable, threading.Lock] = {}  # one count in a request per key

    def get(self, key: Hashable, count: Callable[[], T], fresh: bool = False) -> Snapshot[T]:
        """The count kept under `key`, or a new one when there is none yet, `fresh` is asked for
        or counts are never kept (max_age 0). Blocking: call it from a worker thread."""
        with self._lock:
            kept = self._kept.get(key)
            stale = kept is not None and self._clock() - kept[1] >= self._max_age
            start = stale and key not in self._counting and not fresh
            if start:
                self._counting.add(key)
            recounting = key in self._counting
        if kept is None or fresh or self._max_age <= timedelta(0):
            return self._count_now(key, count, fresh)
        if start:
            threading.Thread(
                target=self._recount, args=(key, count), name="recount", daemon=True
            ).start()
        value, counted_at = kept
        return Snapshot(value, counted_at, recounting)

    def _count_now(self, key: Hashable, count: Callable[[], T], fresh: bool) -> Snapshot[T]:
        """A count made in the request. Requests for the same key meanwhile wait for it and
        show it (a fresh one only if it began after they were asked) instead of counting
        again: a dashboard opened by several people after a restart counts once."""
        asked_at = self._clock()
        with self._lock:
            gate = self._gates.setdefault(key, threading.Lock())
        with gate:
            with self._lock:
                kept = self._kept.get(key)
            keeping = self._max_age > timedelta(0)
            if keeping and kept is not None and (not fresh or kept[1] > asked_at):
                return Snapshot(kept[0], kept[1], recounting=False)
            return Snapshot(*self._count(key, count), recounting=False)

    def _count(self, key: Hashable, count: Callable[[], T]) -> tuple[T, datetime]:
        counted_at = self._clock()
        value = count()
        with self._lock:
            self._kept[key] = (value, counted_at)
            while len(self._kept) > KEPT:
                oldest = min(self._kept, key=lambda k: self._kept[k][1])
                del self._kept[oldest]
                self._gates.pop(oldest, None)
        return value, counted_at

    def _recount(self, key: Hashable, count: Callable[[], Any]) -> None:
        try:
            self._count(key, count)
        except Exception:  # the page keeps showing the last count; the next request retries
            log.exception("web: counting %s again failed", key)
        finally:
            with self._lock:
                self._counting.discard(key)
