"""`campaign run`: APScheduler calls the same tick as `campaign tick`, every tick_seconds,
optionally with the tracking web app served by uvicorn in the same event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterator
from datetime import UTC, datetime

import uvicorn
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from campaign_engine.core.config import Settings
from campaign_engine.engine.tick import Ticker
from campaign_engine.sending.throttle import limiter_for
from campaign_engine.sending.transport import make_transport
from campaign_engine.store.db import Database

__all__ = ["WebServer", "run_forever"]

log = logging.getLogger(__name__)


class WebServer(uvicorn.Server):
    """uvicorn without its own signal handling: `run_forever` owns SIGINT/SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def run_forever(
    settings: Settings,
    db: Database,
    stop: asyncio.Event | None = None,
    web: uvicorn.Config | None = None,
) -> None:
    """Tick on a schedule until SIGINT/SIGTERM (or `stop`); the tick in flight finishes its batch.

    With `web`, also serve that app (the tracking endpoints); both stop together.
    """
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    server = WebServer(web) if web is not None else None
    async with make_transport(settings, limiter_for(db, settings.smtp.rate_limit)) as transport:
        ticker = Ticker(db, settings, transport)
        in_flight = asyncio.Lock()

        def request_stop() -> None:
            ticker.request_stop()
            stop.set()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, request_stop)

        async def tick() -> None:
            if in_flight.locked():
                return
            async with in_flight:
                report = await ticker.tick(datetime.now(UTC))
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
        serving = asyncio.create_task(server.serve()) if server is not None else None
        scheduler.start()
        try:
            if serving is None:
                await stop.wait()
            else:
                stopped = asyncio.create_task(stop.wait())
                await asyncio.wait({serving, stopped}, return_when=asyncio.FIRST_COMPLETED)
                stopped.cancel()
        finally:
            scheduler.shutdown(wait=False)
            if server is not None and serving is not None:
                server.should_exit = True  # finishes open requests, stores queued events
                await serving
            async with in_flight:  # let the running tick record what it sent
                pass
            ticker.webhooks.stop()  # a POST cut short is retried later with the same webhook-id
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
