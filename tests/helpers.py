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

import sqlalchemy as sa
from sqlmodel import SQLModel

from campaign_engine.audience.imports import ImportResult, import_contacts, import_reps
from campaign_engine.core.config import Settings
from campaign_engine.core.kinds import MessageState
from campaign_engine.engine.tick import Ticker, TickReport
from campaign_engine.sending.campaigns import schedule_for, sequence_of
from campaign_engine.sending.dispatcher import Dispatcher
from campaign_engine.sending.transport import make_transport
from campaign_engine.store.db import Database
from campaign_engine.store.models import Message
from campaign_engine.store.queries import campaign_by_name

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


def queue_due(db: Database, settings: Settings, name: str, now: datetime) -> int:
    """Write the messages due at `now` (state queued) without sending them, as the first half of
    a tick does; returns how many."""
    return _plan(db, settings, name, now, claim=False)


def strand_claimed_batch(db: Database, settings: Settings, name: str, now: datetime) -> None:
    """What a worker leaves behind when it is killed after handing its claimed batch to the
    relay (every row marked on the wire), before recording any outcome."""
    _plan(db, settings, name, now, claim=True)
    with db.engine.begin() as connection:
        connection.execute(
            sa.update(Message).where(Message.state == MessageState.SENDING).values(on_wire=True)
        )


def _plan(db: Database, settings: Settings, name: str, now: datetime, claim: bool) -> int:
    dispatcher = Dispatcher(db, settings, make_transport(settings))
    with db.session() as session:
        campaign = campaign_by_name(session, name)
    schedule = schedule_for(campaign, sequence_of(campaign))
    queued = dispatcher._queue_due(campaign, schedule, now, 100)
    if claim:
        assert dispatcher._claim(campaign, schedule, now, 100) is not None
    return queued


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


def everything(db: Database) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, in a stable order: what "nothing changed" is checked against."""
    with db.engine.connect() as connection:
        return {
            table.name: sorted(
                (tuple(row) for row in connection.execute(sa.select(table))), key=repr
            )
            for table in SQLModel.metadata.sorted_tables
        }
