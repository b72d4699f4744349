"""Time from a contact request to the rep's alert at the relay, while a 20,000-message step is
being sent (target: under 5 s).

    .venv/bin/python bench/alert_latency.py [--contacts 20000] [--rounds 3]

A throw-away SQLite campaign of N SMB contacts (one step due) and a few MM contacts owned by a
rep. An SMTP sink in its own process (aiosmtpd) notes when each alert arrives. `campaign tick`
sends the step in its own process; once it is under way, contact requests are made three ways,
each timed from the request to the alert's arrival at the sink:

- as the contact page, the API and `inbox poll` do it: recorded, then sent at once on a
  connection of its own (in this process);
- the whole `campaign contact-request EMAIL` command (a new process: Python's start included);
- recorded only, left to the running tick, which sends due alerts between its batches.

The reference is the first way with the relay idle, before the tick starts (same run).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import Load, Row, free_port, print_rows  # noqa: E402

from campaign_engine.audience.imports import import_contacts, import_reps  # noqa: E402
from campaign_engine.core.config import Settings, load_settings  # noqa: E402
from campaign_engine.engine.launch import launch  # noqa: E402
from campaign_engine.reps.alerts import send_alerts_now  # noqa: E402
from campaign_engine.reps.contact_requests import RequestForm, record_contact_request  # noqa: E402
from campaign_engine.sending.transport import make_transport  # noqa: E402
from campaign_engine.store.db import Database  # noqa: E402

CAMPAIGN = str(Path(sys.executable).parent / "campaign")
START = date(2021, 4, 27)
NOW = datetime(2021, 4, 27, 9, tzinfo=UTC)
REP = "rita.rep@vendor.example"
SINK = """
import sys, time
from aiosmtpd.controller import Controller
class Note:
    count = 0
    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or b""
        if b"X-Campaign-Alert:" in raw.split(b"\\r\\n\\r\\n", 1)[0]:
            to = envelope.rcpt_tos[0]
            subject = [l for l in raw.split(b"\\r\\n") if l.startswith(b"Subject:")][0]
            print(f"ALERT {time.time()} {subject.decode(errors='replace')}", flush=True)
        else:
            Note.count += 1
            if Note.count % 500 == 0:
                print(f"COUNT {Note.count}", flush=True)
        return "250 OK"
controller = Controller(Note(), hostname="127.0.0.1", port=int(sys.argv[1]))
controller.start()
print("ready", flush=True)
sys.stdin.read()
"""


class Sink:
    """The sink's output: alert arrival times (by the asker named in the subject), message count."""

    def __init__(self, lines: queue.Queue[str]) -> None:
        self.lines = lines
        self.sent = 0

    def arrival(self, name: str, timeout: float = 120.0) -> float:
        """When the alert naming `name` arrived (time.time())."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                continue
            if line.startswith("COUNT "):
                self.sent = int(line.split()[1])
            elif line.startswith("ALERT ") and name in line:
                return float(line.split()[1])
        raise SystemExit(f"no alert for {name} within {timeout} s")

    def wait_sent(self, count: int) -> None:
        while self.sent < count:
            line = self.lines.get(timeout=120)
            if line.startswith("COUNT "):
                self.sent = int(line.split()[1])


@contextmanager
def sink(port: int) -> Iterator[Sink]:
    process = subprocess.Popen(
        [sys.executable, "-c", SINK, str(port)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    lines: queue.Queue[str] = queue.Queue()
    stdout = process.stdout
    threading.Thread(target=lambda: [lines.put(line) for line in stdout], daemon=True).start()
    try:
        yield Sink(lines)
    finally:
        process.terminate()
        process.wait()


def set_up(workdir: Path, port: int, count: int, askers: int) -> tuple[Settings, Database]:
    config = workdir / "config.toml"
    config.write_text(
        f'database_url = "sqlite:///{workdir}/bench.db"\ntransport = "smtp"\n'
        f'secret = "bench-secret-0123456789abcdef0123456789"\n'
        f'sequences_dir = "{ROOT / "sequences"}"\ntemplates_dir = "{ROOT / "templates"}"\n'
        f"max_per_tick = {count}\n[smtp]\nport = {port}\nconcurrency = 4\n"
    )
    settings = load_settings(config, environ={})
    db = Database(settings.database_url)
    reps = workdir / "reps.csv"
    reps.write_text(f"email,name\n{REP},Rita Rep\n")
    import_reps(db, reps, now=NOW)
    contacts = workdir / "contacts.csv"
    with contacts.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["email", "first_name", "last_name", "account", "employees", "owner_email"])
        for i in range(count):
            writer.writerow([f"user{i}@acct{i // 5}.example", f"First{i}", f"Last{i}",
                             f"Account {i // 5}", "40", REP])  # fmt: skip
        for i in range(askers):
            writer.writerow([f"asker{i}@mid{i}.example", "Asker", f"No{i}", f"Mid {i}", "300", REP])
    import_contacts(db, contacts, NOW)
    launch(db, settings, "premium-to-ultimate", START, NOW)
    return settings, db


def request_and_send(settings: Settings, db: Database, email: str) -> None:
    """What the contact page does: record the request, then send its alert at once."""
    record_contact_request(db, settings, NOW, email=email, form=RequestForm("call me"))
    asyncio.run(send_alerts_now(db, settings, lambda: make_transport(settings), NOW))


def timed(sink: Sink, name: str, request: Callable[[], object]) -> float:
    started = time.time()
    request()
    return sink.arrival(name) - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    load = Load()
    port = free_port()
    askers = 1 + 3 * args.rounds
    with tempfile.TemporaryDirectory() as tmp, sink(port) as relay:
        settings, db = set_up(Path(tmp), port, args.contacts, askers)
        idle = timed(relay, "No0", lambda: request_and_send(settings, db, "asker0@mid0.example"))
        env = {**os.environ, "CAMPAIGN_CONFIG": str(settings.config_path)}
        started = time.monotonic()
        ticking = subprocess.Popen(
            [CAMPAIGN, "tick", "--now", NOW.isoformat(), "--quiet"],
            env=env,
            stdout=subprocess.DEVNULL,
        )
        relay.wait_sent(1000)  # the step is under way
        page, command, tick_only = [], [], []
        for r in range(args.rounds):
            n = 1 + 3 * r
            page.append(timed(relay, f"No{n}", lambda n=n: request_and_send(  # type: ignore[misc]
                settings, db, f"asker{n}@mid{n}.example")))  # fmt: skip
            command.append(timed(relay, f"No{n + 1}", lambda n=n: subprocess.run(  # type: ignore[misc]
                [CAMPAIGN, "contact-request", f"asker{n + 1}@mid{n + 1}.example", "--now",
                 NOW.isoformat()], env=env, capture_output=True, check=True)))  # fmt: skip
            tick_only.append(timed(relay, f"No{n + 2}", lambda n=n: record_contact_request(  # type: ignore[misc]
                db, settings, NOW, email=f"asker{n + 2}@mid{n + 2}.example")))  # fmt: skip
        during = relay.sent
        ticking.wait()
        took = time.monotonic() - started
        db.dispose()
    print(f"{args.contacts:,} messages sent in {took:.0f} s; requests made from message"
          f" {1000:,} to {during:,}, {args.rounds} of each kind")  # fmt: skip
    rows = [
        Row("request -> alert at the relay, sent at once (page, API, inbox), worst", max(page),
            idle, "s"),
        Row("same, median", sorted(page)[len(page) // 2], idle, "s"),
        Row("`campaign contact-request` command -> alert, worst", max(command), idle, "s"),
        Row("recorded only, sent by the tick between batches, worst", max(tick_only), idle, "s"),
    ]  # fmt: skip
    print_rows(f"Alert latency during a {args.contacts:,}-message step (target < 5 s)", rows, load)


if __name__ == "__main__":
    main()
