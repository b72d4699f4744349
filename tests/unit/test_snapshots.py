"""Counts kept for the console's slow pages: how old they may get, and what a failure leaves."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from campaign_engine.web.snapshots import KEPT, Snapshots
from tests.web import Clock

NOON = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_a_stale_count_is_shown_while_one_background_count_replaces_it() -> None:
    clock = Clock(NOON)
    snapshots = Snapshots(timedelta(seconds=60), clock)
    counts = iter(range(1, 100))
    release = threading.Event()

    def count() -> int:
        value = next(counts)
        if value > 1:
            release.wait(10)
        return value

    assert snapshots.get("k", count).value == 1
    clock.now = NOON + timedelta(seconds=59)
    assert snapshots.get("k", count).value == 1  # still fresh: not counted again
    clock.now = NOON + timedelta(seconds=60)
    stale = [snapshots.get("k", count) for _ in range(3)]  # one background count, not three
    assert [(s.value, s.counted_at, s.recounting) for s in stale] == [(1, NOON, True)] * 3
    release.set()
    wait_for(lambda: snapshots.get("k", count).counted_at == clock.now)
    assert snapshots.get("k", count).value == 2


def test_a_failed_background_count_keeps_the_last_count(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock(NOON)
    snapshots = Snapshots(timedelta(seconds=60), clock)
    assert snapshots.get("k", lambda: 7).value == 7
    clock.now = NOON + timedelta(minutes=5)

    def broken() -> int:
        raise RuntimeError("database went away")

    assert snapshots.get("k", broken).value == 7  # a background count starts, and fails
    wait_for(lambda: "web: counting k again failed" in caplog.text)
    assert "RuntimeError: database went away" in caplog.text
    kept = snapshots.get("k", broken)
    assert (kept.value, kept.counted_at) == (7, NOON)


def test_fresh_counts_at_once_and_zero_max_age_counts_every_time() -> None:
    clock = Clock(NOON)
    kept = Snapshots(timedelta(seconds=60), clock)
    assert kept.get("k", lambda: 1).value == 1
    assert kept.get("k", lambda: 2, fresh=True).value == 2
    assert kept.get("k", lambda: 3).value == 2
    never = Snapshots(timedelta(0), clock)
    assert [never.get("k", lambda n=n: n).value for n in (1, 2, 3)] == [1, 2, 3]


def test_only_the_newest_counts_are_kept() -> None:
    clock = Clock(NOON)
    snapshots = Snapshots(timedelta(hours=1), clock)
    for n in range(KEPT + 5):
        clock.now = NOON + timedelta(seconds=n)
        snapshots.get(n, lambda n=n: n)
    assert snapshots.get(KEPT + 4, lambda: -1).value == KEPT + 4
    assert snapshots.get(0, lambda: -1).value == -1  # the oldest went


def test_requests_that_find_no_count_wait_for_one_count_and_share_it() -> None:
    snapshots = Snapshots(timedelta(seconds=60), Clock(NOON))
    started, release = threading.Event(), threading.Event()
    calls: list[int] = []

    def count() -> int:
        calls.append(1)
        started.set()
        release.wait(10)
        return len(calls)

    seen: list[int] = []
    first = threading.Thread(target=lambda: seen.append(snapshots.get("k", count).value))
    first.start()
    started.wait(10)
    second = threading.Thread(target=lambda: seen.append(snapshots.get("k", count).value))
    second.start()
    time.sleep(0.05)  # the second request is waiting on the first count
    release.set()
    first.join(10)
    second.join(10)
    assert seen == [1, 1] and calls == [1]
