"""`campaign run`: ticks on its own, serves the tracking endpoints, and Ctrl-C stops it cleanly."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import httpx

from campaign_engine.audience.imports import import_contacts
from campaign_engine.cli.web_child import web_process
from campaign_engine.core.config import Settings, load_settings
from campaign_engine.engine.launch import launch
from campaign_engine.engine.scheduler import run_forever
from campaign_engine.store.db import Database
from campaign_engine.tracking.routes import PIXEL_GIF
from tests.conftest import SmtpSink, free_port
from tests.helpers import write_csv

CAMPAIGN = str(Path(sys.executable).parent / "campaign")
DEADLINE = 30.0  # seconds; generous for a loaded machine, and a failure says what never came


class Output:
    """The merged stdout/stderr of a process, collected line by line by a reader thread."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        self.process = process
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, args=(process.stdout,), daemon=True)
        self.reader.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.append(line)

    def text(self) -> str:
        return "".join(self.lines)

    def ticks(self) -> list[str]:
        """The scheduler's log line of each finished tick ("... scheduler: tick: 0 queued, ...")."""
        return [line for line in list(self.lines) if "engine.scheduler: tick: " in line]

    def wait_for(self, predicate: Callable[[], object], what: str) -> None:
        """Poll until `predicate()` holds; past the deadline, fail saying what and showing output."""
        deadline = time.monotonic() + DEADLINE
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"waited {DEADLINE:g} s for {what}; exit code {self.process.poll()}; "
                    f"output so far:\n{self.text()}"
                )
            time.sleep(0.05)

    def close(self) -> None:
        self.reader.join(timeout=10)
        assert self.process.stdout is not None
        self.process.stdout.close()


async def first_answer(client: httpx.AsyncClient, url: str) -> httpx.Response:
    """The first response from a server that is still starting; fails after the deadline."""
    deadline = time.monotonic() + DEADLINE
    while True:
        try:
            return await client.get(url)
        except httpx.ConnectError:
            if time.monotonic() > deadline:
                raise AssertionError(f"nothing answered {url} within {DEADLINE:g} s") from None
            await asyncio.sleep(0.05)


def test_run_sends_due_mail_once_and_stops_on_ctrl_c(
    settings: Settings, db: Database, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    config = settings.config_path
    text = config.read_text().replace(
        "[smtp]", 'tick_seconds = 0.3\nwindow_start = "00:00"\nwindow_end = "23:59:59"\n[smtp]'
    )
    config.write_text(text)
    settings = load_settings(config, environ={})
    now = datetime.now(UTC)
    contacts = write_csv(
        tmp_path / "c.csv",
        [
            ["a@tiny.example", "A", "A", "Developer", "Tiny", "5", "", "rep@x.example", ""],
            ["b@tiny.example", "B", "B", "CISO", "Tiny", "5", "", "rep@x.example", ""],
        ],
    )
    import_contacts(db, contacts, now)
    launch(db, settings, "premium-to-ultimate", now.date(), now)

    env = {**os.environ, "CAMPAIGN_CONFIG": str(config), "PYTHONUNBUFFERED": "1"}
    # --verbose logs one "tick: ..." line per tick: the event this test waits for.
    process = subprocess.Popen(
        [CAMPAIGN, "--verbose", "run", "--port", str(free_port())],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = Output(process)
    try:
        output.wait_for(lambda: len(smtp_sink.messages) >= 2, "both emails to arrive")
        ticks = len(output.ticks())
        # Three more ticks: at least two whole ticks ran after the one that sent; none may resend.
        output.wait_for(lambda: len(output.ticks()) >= ticks + 3, "three more ticks")
        process.send_signal(signal.SIGINT)
        output.wait_for(lambda: process.poll() is not None, "`campaign run` to stop on Ctrl-C")
    finally:
        process.kill()
        process.wait(timeout=10)
        output.close()
    assert process.returncode == 0, output.text()
    assert "stopped: 0 messages released back to the queue" in output.text().splitlines()
    assert "Traceback" not in output.text()
    assert sorted(m["To"].addresses[0].addr_spec for m in smtp_sink.messages) == [
        "a@tiny.example",
        "b@tiny.example",
    ]
    sent_per_tick = [re.search(r"(\d+) sent", line) for line in output.ticks()]
    assert sum(int(m.group(1)) for m in sent_per_tick if m) == 2, output.text()


def test_run_serves_the_tracking_endpoints_and_stops_cleanly_on_sigint(
    db: Database, settings: Settings, smtp_sink: SmtpSink
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/o/not-a-token.gif"

    async def main() -> tuple[httpx.Response, bool]:
        web = web_process(settings, "127.0.0.1", port)
        running = asyncio.create_task(run_forever(settings, db, web=web))
        # The port is bound before the web process starts: the first answer may wait for it.
        async with httpx.AsyncClient(timeout=DEADLINE) as client:
            response = await first_answer(client, url)
            os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C does
            await asyncio.wait_for(running, timeout=10)
            try:
                await client.get(url)
                still_up = True
            except httpx.ConnectError:
                still_up = False
        return response, still_up

    response, still_up = asyncio.run(main())
    assert (response.status_code, response.content) == (200, PIXEL_GIF)
    assert not still_up
