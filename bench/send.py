"""Engine send rate vs raw aiosmtplib into the same SMTP sink, measured in the same run.

    .venv/bin/python bench/send.py [--contacts 20000] [--concurrency 4] [--dkim]

Launches a campaign of N SMB contacts, times ONE tick that queues, renders, sends and records
all of them, then times raw `aiosmtplib` sendmail of N pre-built messages over the same number
of connections into the same sink (a separate process). Target: engine >= 50% of raw.
With --dkim every engine message is DKIM-signed (2048-bit RSA), as in production.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import csv
import os
import pstats
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

import aiosmtplib
from rich.console import Console
from rich.table import Table

from campaign_engine.audience.imports import import_contacts
from campaign_engine.core.config import load_settings
from campaign_engine.engine.launch import launch
from campaign_engine.engine.tick import Ticker
from campaign_engine.sending.dkim import generate_key
from campaign_engine.sending.transport import make_transport
from campaign_engine.store.db import Database

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sink import running_sink

ROOT = Path(__file__).resolve().parent.parent
START = date(2021, 4, 27)


def write_contacts(path: Path, count: int) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["email", "first_name", "last_name", "title", "account", "employees", "owner_email"]
        )
        for i in range(count):
            title = "CISO" if i % 2 else "Software Engineer"
            writer.writerow(
                [
                    f"user{i}@acct{i // 5}.example",
                    f"First{i}",
                    f"Last{i}",
                    title,
                    f"Account {i // 5}",
                    "40",
                    f"rep{i % 7}@vendor.example",
                ]
            )


async def engine_rate(
    workdir: Path, port: int, count: int, concurrency: int, profile: bool, dkim: bool = False
) -> tuple[float, int]:
    config = workdir / "config.toml"
    dkim_table = ""
    if dkim:
        (workdir / "dkim.pem").write_bytes(generate_key().private_pem)
        dkim_table = (
            '[dkim]\nselector = "bench"\ndomain = "vendor.example"\nprivate_key_path = "dkim.pem"\n'
        )
    config.write_text(
        f'database_url = "sqlite:///{workdir}/bench.db"\ntransport = "smtp"\nsecret = "bench"\n'
        f'sequences_dir = "{ROOT / "sequences"}"\ntemplates_dir = "{ROOT / "templates"}"\n'
        f"max_per_tick = {count}\n[smtp]\nport = {port}\nconcurrency = {concurrency}\n" + dkim_table
    )
    settings = load_settings(config, environ={})
    db = Database(settings.database_url)
    contacts = workdir / "contacts.csv"
    write_contacts(contacts, count)
    now = datetime(2021, 4, 27, 9, tzinfo=UTC)
    import_contacts(db, contacts, now)
    launch(db, settings, "premium-to-ultimate", START, now)
    async with make_transport(settings) as transport:
        ticker = Ticker(db, settings, transport)
        profiler = cProfile.Profile() if profile else None
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        report = await ticker.tick(now)
        if profiler:
            profiler.disable()
        elapsed = time.perf_counter() - started
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    return count / elapsed, report.counts["sent"]


async def raw_rate(port: int, count: int, concurrency: int) -> float:
    from email.message import EmailMessage

    message = EmailMessage()
    message["From"] = "bench@vendor.example"
    message["To"] = "user@acct.example"
    message["Subject"] = "Interested in speed and security?"
    message.set_content("x" * 2500)
    message.add_alternative("<p>" + "x" * 4000 + "</p>", subtype="html")
    raw = message.as_bytes()
    queue = list(range(count))

    async def worker() -> None:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port)
        await client.connect()
        while queue:
            queue.pop()
            await client.sendmail("bench@vendor.example", ["user@acct.example"], raw)
        await client.quit()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument(
        "--profile", action="store_true", help="print a cProfile of the engine tick"
    )
    parser.add_argument("--dkim", action="store_true", help="DKIM-sign every engine message")
    args = parser.parse_args()
    with running_sink() as port, tempfile.TemporaryDirectory() as tmp:
        engine, sent = asyncio.run(
            engine_rate(Path(tmp), port, args.contacts, args.concurrency, args.profile, args.dkim)
        )
        raw = asyncio.run(raw_rate(port, args.contacts, args.concurrency))
    table = Table(
        title=f"{args.contacts:,} messages, {args.concurrency} SMTP connections, sink in its own process"
    )
    table.add_column("what")
    table.add_column("msgs/s", justify="right")
    table.add_row("raw aiosmtplib sendmail (pre-built)", f"{raw:,.0f}")
    signed = ", DKIM-signed" if args.dkim else ""
    table.add_row(
        f"engine tick (queue+render+send+record, {sent:,} sent{signed})", f"{engine:,.0f}"
    )
    table.add_row("ratio engine / raw", f"{engine / raw:.0%}")
    Console().print(table)
    print(f"cores: {os.cpu_count()}")


if __name__ == "__main__":
    main()
