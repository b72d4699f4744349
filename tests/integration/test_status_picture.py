"""`campaign status` shows the whole picture: contacts due and not queued yet (and when they will
be out at the current rate), what holds queued mail back (a relay pause), bounces that came back
as DSNs as well as those at RCPT TO, and complaints."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

from campaign_engine.core.config import Settings, load_settings
from campaign_engine.store.db import Database
from tests.conftest import SmtpSink
from tests.delivery_setup import DAY1, launch_smb, point_at
from tests.faultrelay import fault_relay
from tests.helpers import campaign_cli, tick
from tests.inbound_expect import EMAIL_1, READ_AT
from tests.inbound_fixtures import (
    inbound_settings_fixture,  # noqa: F401  (fixture)
    launched_fixture,  # noqa: F401  (fixture)
)
from tests.inbound_mail import fill


def status_rows(settings: Settings, now: str) -> tuple[list[str], dict[str, dict[str, str]]]:
    """The lines `campaign status --now` prints, and its table's rows by step: column -> cell."""
    done = campaign_cli(settings, "status", "--now", now)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    header = next(line for line in lines if "uncertain" in line)
    names = [name.strip() for name in header.strip("┃│ ").split("┃" if "┃" in header else "│")]
    rows = {}
    for line in lines:
        cells = [cell.strip() for cell in line.strip("│ ").split("│")]
        if len(cells) == len(names) and cells[0].isdigit():
            rows[cells[0]] = dict(zip(names, cells, strict=True))
    return lines, rows


def with_max_per_tick(settings: Settings, cap: int) -> Settings:
    text = settings.config_path.read_text().replace("[smtp]", f"max_per_tick = {cap}\n[smtp]", 1)
    settings.config_path.write_text(text)
    return load_settings(settings.config_path, environ={})


def backlog_line(lines: list[str]) -> str:
    (line,) = [line for line in lines if line.startswith("backlog: ")]
    return line


def test_the_backlog_and_a_relay_pause_are_counted_per_step(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    emails = [f"c{i:02}@smb.example" for i in range(30)]
    with fault_relay() as relay:
        settings = with_max_per_tick(point_at(settings, relay.port), 10)
        launch_smb(db, settings, emails, tmp_path)
        before, rows = status_rows(settings, DAY1.isoformat())
        assert (rows["1"]["queued"], rows["1"]["sent"]) == ("0", "0")
        assert "not queued yet: email 1: 30 due now" in before
        assert "backlog: 30 emails due now (30 not queued yet, 0 queued); nothing was sent in" in (
            " ".join(before)
        )

        tick(db, settings, DAY1)  # 10 of 30: max_per_tick
        lines, rows = status_rows(settings, (DAY1 + timedelta(minutes=1)).isoformat())
        assert rows["1"]["sent"] == "10"
        assert "not queued yet: email 1: 20 due now; email 2: 10 later" in lines  # a week on
        assert backlog_line(lines) == (
            "backlog: 20 emails due now (20 not queued yet, 0 queued); about 20 min at 1.0/min,"
            " the rate of the last 10 minutes"
        )

        relay.greeting = "421 4.3.2 service shutting down"
        tick(db, settings, DAY1 + timedelta(minutes=2))  # 10 queued, then back: the relay is down
        lines, rows = status_rows(settings, (DAY1 + timedelta(minutes=2, seconds=5)).isoformat())
    assert lines[0].startswith("sending paused since 09:02: relay unreachable")
    assert rows["1"]["queued"] == "10 (deferred: 10 relay pause)"
    assert "not queued yet: email 1: 10 due now; email 2: 10 later" in lines
    assert backlog_line(lines).endswith("(10 not queued yet, 10 queued); they wait for the relay (sending is"
                              " paused, see above)")  # fmt: skip


def test_bounces_by_dsn_and_complaints_are_counted_with_the_step_they_answer(
    launched: str, db: Database, inbound_settings: Settings, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    tick(db, inbound_settings, EMAIL_1)
    files = []
    for name in ("postfix-dsn-hard.eml", "exim-bounce-hard.eml", "yahoo-arf-complaint.eml"):
        (path := tmp_path / name).write_bytes(fill(db, name))
        files.append(str(path))
    imported = campaign_cli(
        inbound_settings, "inbox", "import", *files, "--now", READ_AT.isoformat()
    )
    assert imported.returncode == 0, imported.stderr

    lines, rows = status_rows(inbound_settings, READ_AT.isoformat())
    sent = rows["1"]["sent"]
    assert int(sent) == len(smtp_sink.messages)  # the relay took them: they stay sent
    assert rows["1"]["bounced"] == "2 (2 by DSN)"
    assert "complaints: email 1: 1" in lines
    as_json = campaign_cli(
        inbound_settings, "status", "--format", "json", "--now", READ_AT.isoformat()
    )
    (step_1, *_) = json.loads(as_json.stdout)[0]["steps"]
    assert (step_1["bounced_by_dsn"], step_1["complaints"]) == (2, 1)
    assert re.fullmatch(r"\d+", sent)
