"""One tick: every piece of due work, once. `campaign tick`, `campaign run` and tests all call it."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from campaign_engine.core.config import Settings
from campaign_engine.engine.enrolment import enrol_late_joiners
from campaign_engine.engine.tick_stats import TICK_STATS
from campaign_engine.engine.webhook_sender import WebhookPump
from campaign_engine.reps.alerts import send_pending_alerts
from campaign_engine.reps.brake_alerts import ops_alert
from campaign_engine.reps.digests import send_due_digests
from campaign_engine.reps.reminder_mail import send_reminder_emails
from campaign_engine.reps.request_alerts import hand_over_requests
from campaign_engine.sending.brakes import BRAKED
from campaign_engine.sending.dispatcher import Dispatcher
from campaign_engine.sending.transport import Transport
from campaign_engine.store.db import Database

__all__ = ["TickReport", "Ticker"]


@dataclass
class TickReport:
    """What one tick did, by outcome."""

    counts: Counter[str] = field(default_factory=Counter)
    seconds: dict[str, float] = field(default_factory=dict)  # phase -> duration

    @property
    def total_seconds(self) -> float:
        return sum(self.seconds.values())

    def add(self, key: str, amount: int = 1) -> None:
        self.counts[key] += amount

    def __str__(self) -> str:
        keys = ("queued", "sent", "retry", "failed", "bounced", "skipped", "uncertain")
        extra = [
            k
            for k in sorted(self.counts)
            if (
                k.startswith("digests")
                or k in ("deferred", "deferred (window)", "deferred (pacing)", "released", "paused")
                or k == BRAKED
            )
            and self.counts[k]
        ]
        counts = ", ".join(f"{self.counts[k]} {k}" for k in (*keys, *extra))
        if not self.seconds:
            return counts
        phases = " ".join(f"{name} {took:.2f}s" for name, took in self.seconds.items())
        return f"{counts}, {self.counts['alerts']} alerts; {self.total_seconds:.2f}s ({phases})"


class Ticker:
    """Alerts to reps first (and again between batches), then campaign messages, then digests
    and reminder mail; no state between ticks."""

    def __init__(self, db: Database, settings: Settings, transport: Transport) -> None:
        self.db = db
        self.settings = settings
        self.transport = transport
        self.dispatcher = Dispatcher(db, settings, transport)
        self.dispatcher.on_brake = ops_alert(settings)
        self._alerted = 0  # alerts sent by the running tick
        self.webhooks = WebhookPump(db)  # its own task: a slow receiver never holds up a tick

    def request_stop(self) -> None:
        """Nothing more is claimed or handed to the transport; what is in flight finishes."""
        self.dispatcher.stop_requested = True

    async def tick(self, now: datetime) -> TickReport:
        started = clock = time.monotonic()
        self._alerted = 0
        hand_over_requests(self.db, self.settings, now)  # accounts that got a rep since
        await self._alerts(now)  # people before bulk

        async def between_batches() -> None:  # the tick's `now`, moved on by the time it took
            await self._alerts(now + timedelta(seconds=time.monotonic() - started))

        self.dispatcher.between_batches = between_batches
        joined = enrol_late_joiners(self.db, self.settings, now)
        report = TickReport(await self.dispatcher.send_due(now))
        report.add("late joiners", joined)

        def lap(phase: str) -> None:
            nonlocal clock
            report.seconds[phase], clock = time.monotonic() - clock, time.monotonic()

        lap("messages")
        if self.dispatcher.paused:  # alerts and digests wait for the relay too
            report.add("paused")
        elif not self.dispatcher.stop_requested:
            await self._rep_mail(report, now, lap)
        self.webhooks.kick(now)  # webhooks are not mail: they go out even while the relay is paused
        TICK_STATS.record(now, time.monotonic() - started, str(report))
        return report

    async def _alerts(self, now: datetime) -> None:
        if not self.dispatcher.stop_requested:
            self._alerted += await send_pending_alerts(self.db, self.settings, self.transport, now)

    async def _rep_mail(
        self, report: TickReport, now: datetime, lap: Callable[[str], None]
    ) -> None:
        """Alerts (those raised during the tick), digests and reminder mail, each phase timed."""
        await self._alerts(now)
        report.add("alerts", self._alerted)
        lap("alerts")
        report.counts.update(
            (await send_due_digests(self.db, self.settings, self.transport, now)).counts()
        )
        lap("digests")
        report.add(
            "reminders", await send_reminder_emails(self.db, self.settings, self.transport, now)
        )
        lap("reminders")
