"""Engine send rate vs raw aiosmtplib into the same SMTP sink, measured in the same run.

    .venv/bin/python bench/send.py [--contacts 20000] [--concurrency 4] [--dkim] [--ed25519] \
        [--sink python|postfix] [--profile]

Launches a campaign of N SMB contacts, times ONE tick that queues, renders, sends and records
all of them, and times raw `aiosmtplib` sendmail of N pre-built messages over the same number
of connections into the same sink (a separate process) before and after: the reference is their
mean. Targets: unsigned >= 70% of raw, DKIM-signed (2048-bit RSA, as in production) >= 60%.
--sink postfix uses Postfix's C smtp-sink (`make bench-deps`), which is not the bottleneck.
It also prints the CPU time per message of the sending process (the DKIM workers' RSA time not
included) against raw aiosmtplib's: steadier than rates on a shared machine. --profile prints
where the tick's time went, grouped (bench/profile_groups.py).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import csv
import pstats
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import aiosmtplib

from campaign_engine.audience.imports import import_contacts
from campaign_engine.core.config import load_settings
from campaign_engine.engine.launch import launch
from campaign_engine.engine.tick import Ticker
from campaign_engine.sending.dkim import generate_ed25519_key, generate_key
from campaign_engine.sending.transport import SigningTransport, make_transport
from campaign_engine.store.db import Database

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import Load, Row, print_rows, smtp_sink
from profile_groups import print_groups

ROOT = Path(__file__).resolve().parent.parent
START = date(2021, 4, 27)


@dataclass(frozen=True)
class Run:
    rate: float  # messages per second
    cpu_us: float  # CPU microseconds per message in this (the sending) process


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
    workdir: Path,
    port: int,
    count: int,
    concurrency: int,
    profile: bool,
    dkim: bool = False,
    ed25519: bool = False,
) -> tuple[Run, int]:
    config = workdir / "config.toml"
    dkim_table = ""
    if dkim:
        (workdir / "dkim.pem").write_bytes(generate_key().private_pem)
        dkim_table = (
            '[dkim]\nselector = "bench"\ndomain = "vendor.example"\nprivate_key_path = "dkim.pem"\n'
        )
    if ed25519:
        (workdir / "ed.pem").write_bytes(generate_ed25519_key().private_pem)
        dkim_table += 'ed25519_selector = "ed"\ned25519_private_key_path = "ed.pem"\n'
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
        if isinstance(transport, SigningTransport):
            transport.pool.start()  # steady state, as in `campaign run`: workers already up
        ticker = Ticker(db, settings, transport)
        profiler = cProfile.Profile() if profile else None
        started, cpu = time.perf_counter(), time.process_time()
        if profiler:
            profiler.enable()
        report = await ticker.tick(now)
        if profiler:
            profiler.disable()
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    if profiler:
        stats = pstats.Stats(profiler)
        stats.sort_stats("tottime").print_stats(20)
        print_groups(stats, "DKIM-signed" if dkim else "unsigned")
    db.dispose()
    sent = report.counts["sent"]  # not every contact is mailed in this tick
    return Run(sent / elapsed, cpu / sent * 1e6), sent


async def raw_rate(port: int, count: int, concurrency: int) -> Run:
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

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    return Run(count / elapsed, cpu / count * 1e6)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument(
        "--profile", action="store_true", help="print a cProfile of the engine tick(s), grouped"
    )
    parser.add_argument("--dkim", action="store_true", help="also DKIM-sign (2048-bit RSA)")
    parser.add_argument("--ed25519", action="store_true", help="also RSA + Ed25519 dual-signed")
    parser.add_argument("--sink", choices=["python", "postfix"], default="python")
    args = parser.parse_args()
    load = Load()
    n, c = args.contacts, args.concurrency
    variants = [("unsigned", False, False)]
    if args.dkim:
        variants.append(("DKIM-signed, RSA 2048", True, False))
    if args.ed25519:
        variants.append(("RSA + Ed25519 dual-signed", True, True))
    with smtp_sink(args.sink) as port:
        raws = [asyncio.run(raw_rate(port, n, c))]
        engines = []
        for label, dkim, ed in variants:
            with tempfile.TemporaryDirectory() as tmp:
                run, sent = asyncio.run(engine_rate(Path(tmp), port, n, c, args.profile, dkim, ed))
            engines.append((label, run, sent))
        raws.append(asyncio.run(raw_rate(port, n, c)))  # the reference brackets the engine runs
    raw = sum(r.rate for r in raws) / len(raws)
    raw_cpu = sum(r.cpu_us for r in raws) / len(raws)
    rows = [Row(f"raw aiosmtplib (runs {raws[0].rate:,.0f}, {raws[1].rate:,.0f})", raw)]
    rows += [Row(f"engine, {label}, {sent:,} sent", run.rate, raw) for label, run, sent in engines]
    rows += [
        Row(f"CPU per message in the sending process, {label} vs raw", run.cpu_us, raw_cpu, "us")
        for label, run, _ in engines
    ]
    title = f"{n:,} messages, {c} SMTP connections, {args.sink} sink; engine = one tick that"
    print_rows(title + " queues, renders, sends and records every message", rows, load)


if __name__ == "__main__":
    main()
