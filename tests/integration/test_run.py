"""`campaign run`: the scheduler ticks on its own and Ctrl-C stops it cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from campaign_engine.campaigns import launch
from campaign_engine.config import Settings, load_settings
from campaign_engine.db import Database
from campaign_engine.imports import import_contacts
from tests.conftest import SmtpSink
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
    assert "Stopped." in stdout
    assert sorted(m["To"].addresses[0].addr_spec for m in smtp_sink.messages) == [
        "a@tiny.example",
        "b@tiny.example",
    ]
