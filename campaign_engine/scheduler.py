"""`campaign run`: APScheduler calls the same tick as `campaign tick`, every tick_seconds."""

from __future__ import annotations

import asyncio
import logging
import signal
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from .config import Settings
from .db import Database
from .dispatcher import Dispatcher
from .throttle import limiter_for
from .transport import make_transport

__all__ = ["run_forever"]

log = logging.getLogger(__name__)


async def run_forever(settings: Settings, db: Database, stop: asyncio.Event | None = None) -> None:
    """Tick on a schedule until SIGINT/SIGTERM (or `stop`); the tick in flight finishes its batch."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    async with make_transport(settings, limiter_for(db, settings.smtp.rate_limit)) as transport:
        dispatcher = Dispatcher(db, settings, transport)
        in_flight = asyncio.Lock()

        def request_stop() -> None:
            dispatcher.stop_requested = True  # no new batch is claimed; the current one finishes
            stop.set()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, request_stop)

        async def tick() -> None:
            if in_flight.locked():
                return
            async with in_flight:
                report = await dispatcher.tick(datetime.now(UTC))
                log.info("tick: %s", report, extra={"counts": dict(report.counts)})

        scheduler = AsyncIOScheduler(timezone=UTC)
        scheduler.add_job(
            tick,
            "interval",
            seconds=settings.tick_seconds,
            next_run_time=datetime.now(UTC),
            max_instances=1,
            coalesce=True,
        )
        scheduler.start()
        try:
            await stop.wait()
        finally:
            scheduler.shutdown(wait=False)
            async with in_flight:  # let the running tick record what it sent
                pass
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
