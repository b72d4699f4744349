"""`campaign run` and `campaign tick`: ticks, and a graceful stop on SIGINT/SIGTERM.

`campaign run`: APScheduler calls the same tick as `campaign tick`, every tick_seconds,
polls the reply mailbox every inbox_poll_seconds (when [inbox] is set), optionally with the
tracking web app served from its own process (`WebProcess`): a tick's database work,
rendering and signing never delay a click or an open.

A stop (Ctrl-C, systemd's or a container's SIGTERM) claims nothing more at once, lets the SMTP
transactions in flight finish for up to `stop_grace_seconds`, and puts every claimed message
that was not handed to the relay back in the queue; a transaction still running after the
grace is cut, and its message is `uncertain` (the relay may have it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from campaign_engine.core.config import Settings
from campaign_engine.engine.tick import Ticker, TickReport
from campaign_engine.engine.tick_stats import TICK_STATS
from campaign_engine.engine.web_process import WebProcess
from campaign_engine.engine.webhook_sender import EXIT_WAIT_SECONDS
from campaign_engine.inbound.imap import poll_in_background
from campaign_engine.sending.throttle import limiter_for
from campaign_engine.sending.transport import make_transport
from campaign_engine.store.db import Database

__all__ = ["StopReport", "run_forever", "tick_once"]

log = logging.getLogger(__name__)
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopReport:
    """How a run or tick ended: whether a signal stopped it, and what went back to the queue."""

    def __init__(self) -> None:
        self.signalled = False
        self.released = 0
        self.cut_short = False  # the grace ran out with SMTP still in flight

    def __str__(self) -> str:
        line = f"stopped: {self.released} messages released back to the queue"
        if self.cut_short:
            line += "; a send still in flight was cut: see `campaign messages --state uncertain`"
        return line


async def tick_once(
    settings: Settings, db: Database, now: datetime
) -> tuple[TickReport, StopReport]:
    """One tick (`campaign tick`), stopped gracefully by SIGINT/SIGTERM."""
    stopped = StopReport()
    async with make_transport(settings, limiter_for(db, settings.smtp.rate_limit)) as transport:
        ticker = Ticker(db, settings, transport)
        task = asyncio.ensure_future(ticker.tick(now))
        with _on_signals(lambda: _request_stop(ticker, stopped)):
            report = await _finish(task, stopped, settings.stop_grace_seconds)
            if not stopped.signalled:  # one-shot: deliver the webhooks due before exiting
                await ticker.webhooks.drain(EXIT_WAIT_SECONDS)
            ticker.webhooks.stop()
        stopped.released = ticker.dispatcher.released_on_stop
    return report or TickReport(), stopped


async def run_forever(
    settings: Settings,
    db: Database,
    stop: asyncio.Event | None = None,
    web: WebProcess | None = None,
) -> StopReport:
    """Tick on a schedule until SIGINT/SIGTERM (or `stop`); see the module docstring.

    With `web`, also serve the web app (tracking endpoints) from that child process; both stop
    together, whichever stops first.
    """
    stop = stop or asyncio.Event()
    stopped = StopReport()
    async with make_transport(settings, limiter_for(db, settings.smtp.rate_limit)) as transport:
        ticker = Ticker(db, settings, transport)
        running: list[asyncio.Task[TickReport]] = []

        async def tick() -> None:
            if running or stop.is_set():
                return
            task = asyncio.ensure_future(ticker.tick(datetime.now(UTC)))
            running.append(task)
            try:
                report = await asyncio.shield(task)
                if web is not None:
                    web.tick_done(TICK_STATS.last)
                log.info(
                    "tick: %s",
                    report,
                    extra={"counts": dict(report.counts), "seconds": report.seconds},
                )
            finally:
                running.remove(task)

        scheduler = AsyncIOScheduler(timezone=UTC)
        scheduler.add_job(
            tick,
            "interval",
            seconds=settings.tick_seconds,
            next_run_time=datetime.now(UTC),
            max_instances=1,
            coalesce=True,
        )
        if settings.inbox.enabled:  # replies, bounces and complaints from the reply mailbox
            scheduler.add_job(
                poll_in_background,
                "interval",
                args=(db, settings),
                seconds=settings.inbox_poll_seconds,
                next_run_time=datetime.now(UTC),
                max_instances=1,
                coalesce=True,
            )

        def on_signal() -> None:
            _request_stop(ticker, stopped)
            stop.set()

        with _on_signals(on_signal):
            if web is not None:
                web.start()
            scheduler.start()
            try:
                await _until(stop, web)
            finally:
                ticker.request_stop()
                scheduler.shutdown(wait=False)
                if web is not None:  # finishes open requests, stores queued events
                    await web.stop(settings.stop_grace_seconds + 5)
                for task in list(running):  # let the running tick record what it sent
                    await _finish(task, stopped, settings.stop_grace_seconds)
                ticker.webhooks.stop()  # a POST cut short is retried later, same webhook-id
        stopped.released = ticker.dispatcher.released_on_stop
    return stopped


async def _until(stop: asyncio.Event, web: WebProcess | None) -> None:
    """Until `stop` is set or the web process exits on its own (then the run stops too)."""
    if web is None:
        await stop.wait()
        return
    waits = {asyncio.create_task(stop.wait()), asyncio.create_task(web.exited.wait())}
    await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    for waiting in waits:
        waiting.cancel()
    if web.exited.is_set() and not stop.is_set():
        log.error("the web process stopped on its own: stopping the run")


def _request_stop(ticker: Ticker, stopped: StopReport) -> None:
    if not stopped.signalled:
        log.warning("stop requested: no new messages are claimed; finishing what is in flight")
    stopped.signalled = True
    ticker.request_stop()


async def _finish(
    task: asyncio.Task[TickReport], stopped: StopReport, grace: float
) -> TickReport | None:
    """The tick's report; once a stop was requested, it gets `grace` seconds, then is cut."""
    while not task.done():
        if not stopped.signalled:
            await asyncio.wait({task}, timeout=0.2)
            continue
        done, _ = await asyncio.wait({task}, timeout=grace)
        if not done:
            stopped.cut_short = True
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            return None
    return task.result()


@contextlib.contextmanager
def _on_signals(handler: Callable[[], object]) -> Iterator[None]:
    loop = asyncio.get_running_loop()
    for sig in _SIGNALS:
        loop.add_signal_handler(sig, handler)
    try:
        yield
    finally:
        for sig in _SIGNALS:
            loop.remove_signal_handler(sig)
