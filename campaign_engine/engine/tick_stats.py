"""What the ticks of this process did lately: the last tick's time and counts, and a histogram of
tick durations (for /healthz and /metrics of the same process)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

from prometheus_client import CollectorRegistry, Histogram

__all__ = ["TICK_SECONDS", "TICK_STATS", "LastTick", "TickStats"]

TICK_SECONDS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


@dataclass(frozen=True)
class LastTick:
    at: datetime
    seconds: float
    summary: str


class TickStats:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.duration = Histogram(
            "campaign_tick_duration_seconds",
            "How long one tick took (planning, sending, alerts, digests, reminders).",
            buckets=TICK_SECONDS,
            registry=self.registry,
        )
        self._last: LastTick | None = None
        self._lock = threading.Lock()

    def record(self, at: datetime, seconds: float, summary: str) -> None:
        self.duration.observe(seconds)
        with self._lock:
            self._last = LastTick(at, seconds, summary)

    @property
    def last(self) -> LastTick | None:
        with self._lock:
            return self._last


TICK_STATS = TickStats()  # this process's ticks (`campaign run` serves them on /metrics)
