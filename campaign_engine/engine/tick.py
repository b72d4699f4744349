"""One tick: every piece of due work, once. `campaign tick`, `campaign run` and tests all call it."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from campaign_engine.core.config import Settings
from campaign_engine.engine.webhook_sender import WebhookPump
from campaign_engine.reps.alerts import send_pending_alerts
from campaign_engine.reps.digests import send_due_digests
from campaign_engine.reps.reminder_mail import send_reminder_emails
from campaign_engine.sending.dispatcher import Dispatcher
from campaign_engine.sending.transport import Transport
from campaign_engine.store.db import Database

__all__ = ["TickReport", "Ticker"]


@dataclass
class TickReport:
    """What one tick did, by outcome."""

    counts: Counter[str] = field(default_factory=Counter)

    def add(self, key: str, amount: int = 1) -> None:
        self.counts[key] += amount

    def __str__(self) -> str:
        keys = ("queued", "sent", "retry", "failed", "bounced", "skipped", "uncertain")
        extra = [k for k in sorted(self.counts) if k.startswith("digests") and self.counts[k]]
        return ", ".join(f"{self.counts[k]} {k}" for k in (*keys, *extra))


class Ticker:
    """Campaign messages first, then rep alerts, digests and reminder mail; no state between ticks."""

    def __init__(self, db: Database, settings: Settings, transport: Transport) -> None:
        self.db = db
        self.settings = settings
        self.transport = transport
        self.dispatcher = Dispatcher(db, settings, transport)
        self.webhooks = WebhookPump(db)  # its own task: a slow receiver never holds up a tick

    def request_stop(self) -> None:
        """No new batch is claimed; the one in flight finishes."""
        self.dispatcher.stop_requested = True

    async def tick(self, now: datetime) -> TickReport:
        report = TickReport(await self.dispatcher.send_due(now))
        report.add("alerts", await send_pending_alerts(self.db, self.settings, self.transport, now))
        report.counts.update(
            (await send_due_digests(self.db, self.settings, self.transport, now)).counts()
        )
        report.add(
            "reminders", await send_reminder_emails(self.db, self.settings, self.transport, now)
        )
        self.webhooks.kick(now)
        return report
