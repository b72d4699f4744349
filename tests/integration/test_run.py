"""`campaign run`: ticks on its own, serves the tracking endpoints, and Ctrl-C stops it cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import uvicorn

from campaign_engine.audience.imports import import_contacts
from campaign_engine.core.config import Settings, load_settings
from campaign_engine.engine.launch import launch
from campaign_engine.engine.scheduler import run_forever
from campaign_engine.store.db import Database
from campaign_engine.tracking.routes import PIXEL_GIF
from campaign_engine.web.app import create_app
from tests.conftest import SmtpSink, free_port
from tests.helpers import write_csv

CAMPAIGN = str(Path(sys.executable).parent / "campaign")


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

    env = {**os.environ, "CAMPAIGN_CONFIG": str(config)}
    process = subprocess.Popen(
        [CAMPAIGN, "run"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 30
        while len(smtp_sink.messages) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)  # a few more ticks: nothing may be sent twice
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    assert stdout.splitlines()[-1] == "stopped: 0 messages released back to the queue"
    assert "Traceback" not in stderr
    assert sorted(m["To"].addresses[0].addr_spec for m in smtp_sink.messages) == [
        "a@tiny.example",
        "b@tiny.example",
    ]


def test_run_serves_the_tracking_endpoints_and_stops_cleanly_on_sigint(
    db: Database, settings: Settings, smtp_sink: SmtpSink
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/o/not-a-token.gif"

    async def main() -> tuple[httpx.Response, bool]:
        web = uvicorn.Config(
            create_app(settings, db), host="127.0.0.1", port=port, log_level="warning"
        )
        running = asyncio.create_task(run_forever(settings, db, web=web))
        async with httpx.AsyncClient() as client:
            for _ in range(200):
                try:
                    response = await client.get(url)
                    break
                except httpx.ConnectError:
                    await asyncio.sleep(0.05)
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
