"""`campaign run` serves tracking from its own process: a click is answered and stored while
the tick is stuck in the middle of its batches (here: waiting on a database lock, as a long
tick waits on its database work, rendering and signing)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from campaign_engine.cli.web_child import web_process
from campaign_engine.core.config import Settings, load_settings
from campaign_engine.engine.scheduler import run_forever
from campaign_engine.store.db import Database, is_postgres
from tests.conftest import SmtpSink, free_port
from tests.delivery_setup import launch_smb
from tests.integration.test_tracking import events, links

COUNT = 30
BATCH = 5
DEADLINE = 30.0


def until(predicate: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not predicate():
        assert time.monotonic() < deadline, f"waited {DEADLINE:g} s for {what}"
        time.sleep(0.02)


def test_a_click_is_answered_and_stored_while_the_tick_is_stuck_mid_batch(
    settings: Settings, db: Database, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    if not is_postgres(db.engine):  # SQLite's lock would stop the tracking reads too
        pytest.skip("the stall is a PostgreSQL table lock that lets readers through")
    config = settings.config_path
    config.write_text(
        config.read_text().replace(
            "[smtp]",
            f'tick_seconds = 3600\nbatch_size = {BATCH}\nwindow_start = "00:00"\n'
            'window_end = "23:59:59"\n[smtp]',
        )
    )
    settings = load_settings(config, environ={})
    launch_smb(db, settings, [f"t{i}@smb.example" for i in range(COUNT)], tmp_path)
    base = f"http://127.0.0.1:{free_port()}"
    port = int(base.rsplit(":", 1)[1])

    def probe(running: asyncio.Task[object]) -> tuple[httpx.Response, int]:
        """From another thread: the event loop of the tick may be stuck, this one is not."""
        until(lambda: len(smtp_sink.messages) >= BATCH, "the first batch to be sent")
        locker = Database(settings.database_url, migrate=False)
        with locker.engine.connect() as conn:  # the tick's next enrollment write waits on this
            conn.execute(sa.text("LOCK TABLE enrollment IN EXCLUSIVE MODE"))
            click = links(smtp_sink.messages[0], base)["click"]
            response = httpx.get(base + click, timeout=10)
            until(lambda: events(db, kind="click"), "the click to be stored")
            sent_while_stuck = len(smtp_sink.messages)
            assert not running.done()
            conn.rollback()
        locker.dispose()
        until(lambda: len(smtp_sink.messages) >= COUNT, "the tick to finish its batches")
        return response, sent_while_stuck

    async def main() -> tuple[httpx.Response, int, int]:
        stop = asyncio.Event()
        web = web_process(settings, "127.0.0.1", port)
        running = asyncio.create_task(run_forever(settings, db, stop, web=web))
        response, sent_while_stuck = await asyncio.to_thread(probe, running)
        stop.set()
        await asyncio.wait_for(running, timeout=DEADLINE)
        return response, sent_while_stuck, len(smtp_sink.messages)

    response, sent_while_stuck, sent = asyncio.run(main())
    assert response.status_code == 302 and response.headers["location"].startswith("https://")
    assert sent_while_stuck < COUNT  # the click came while the tick had batches left to send
    assert sent == COUNT


def test_keep_alive_requests_to_the_web_process_are_not_held_back(settings: Settings) -> None:
    """Each response is written in two parts; without TCP_NODELAY on the served connections the
    second waits for the client's delayed ACK, about 40 ms, on every request of a kept-alive
    connection (a browser's, a mail client's loading pixels) but the first."""
    port = free_port()

    async def timed() -> list[float]:
        web = web_process(settings, "127.0.0.1", port)
        web.start()
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                until_answered = time.monotonic() + DEADLINE
                while True:
                    try:
                        await client.get("/app/login")
                        break
                    except httpx.TransportError:
                        assert time.monotonic() < until_answered, "the web app never answered"
                        await asyncio.sleep(0.05)
                seconds = []
                for _ in range(10):  # on the one connection kept alive
                    started = time.perf_counter()
                    assert (await client.get("/app/login")).status_code == 200
                    seconds.append(time.perf_counter() - started)
                return seconds
        finally:
            await web.stop(10)

    assert min(asyncio.run(timed())) < 0.02
