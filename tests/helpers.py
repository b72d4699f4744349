"""Small helpers the tests share: CSV files, ticks at a given moment, mail parsing."""

from __future__ import annotations

import asyncio
import csv
import os
import subprocess
import sys
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from campaign_engine.audience.imports import ImportResult, import_contacts, import_reps
from campaign_engine.core.config import Settings
from campaign_engine.engine.tick import Ticker, TickReport
from campaign_engine.sending.transport import make_transport
from campaign_engine.store.db import Database

HEADER = [
    "email",
    "first_name",
    "last_name",
    "title",
    "account",
    "employees",
    "segment",
    "owner_email",
    "outreach_mode",
]


def write_csv(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def tick(db: Database, settings: Settings, now: datetime) -> TickReport:
    async def run() -> TickReport:
        async with make_transport(settings) as transport:
            return await Ticker(db, settings, transport).tick(now)

    return asyncio.run(run())


def text_of(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def html_of(message: EmailMessage) -> str:
    part = message.get_body(("html",))
    assert part is not None
    return str(part.get_content())


CAMPAIGN = str(Path(sys.executable).parent / "campaign")


def campaign_cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the real `campaign` command against the test config; wide output, no colours."""
    env = {
        **os.environ,
        "CAMPAIGN_CONFIG": str(settings.config_path),
        "COLUMNS": "200",
        "NO_COLOR": "1",
    }
    return subprocess.run([CAMPAIGN, *args], env=env, capture_output=True, text=True, check=False)


def import_with_reps(db: Database, path: Path, now: datetime, **options: Any) -> ImportResult:
    """Import the reps a contacts file names (imports never invent a rep), then the contacts."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        owners = {(row.get("owner_email") or "").strip().lower() for row in csv.DictReader(handle)}
    owners.discard("")
    if owners:
        reps = write_csv(path.with_name(f"{path.stem}-reps.csv"), [[o] for o in sorted(owners)],
                         ["email"])  # fmt: skip
        assert import_reps(db, reps).rejected == []
    return import_contacts(db, path, now, **options)
