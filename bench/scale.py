"""Scale-out on PostgreSQL: msgs/s with 1, 2 and 4 `campaign tick` workers, and the cost of a
tick that finds nothing due among 1,000,000 enrollments.

    CAMPAIGN_BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench_speed .venv/bin/python bench/scale.py \
        [--messages 50000] [--idle-enrollments 1000000]

Per worker count: msgs/s (vs raw aiosmtplib into the same sink, measured in the same run, and
vs one worker), CPU seconds per 1,000 messages per worker process (from the workers' rusage)
and PostgreSQL lock waits (pg_locks sampled every 20 ms for locks not granted). Sinks: Postfix's
C smtp-sink (`make bench-deps`; not the bottleneck) and the Python aiosmtpd sink. Target: 2
workers >= 1.6x one, or, where the box cannot show it, CPU per message flat with no lock waits.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import sqlalchemy as sa

from campaign_engine.core.config import load_settings
from campaign_engine.engine.launch import launch
from campaign_engine.engine.tick import Ticker
from campaign_engine.sending.campaigns import schedule_for, sequence_of
from campaign_engine.sending.transport import make_transport
from campaign_engine.store.db import Database
from campaign_engine.store.queries import campaign_by_name

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import Load, Row, print_rows, smtp_sink
from send import raw_rate

ROOT = Path(__file__).resolve().parent.parent
# Its own database: the bench drops every table in it (never point it at a shared one).
URL = os.environ.get(
    "CAMPAIGN_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/bench_speed"
)
START = date(2021, 4, 27)
NOW = datetime(2021, 4, 27, 9, tzinfo=UTC)


def fresh(workdir: Path, port: int, concurrency: int) -> tuple[Path, Database]:
    config = workdir / "config.toml"
    config.write_text(
        f'database_url = "{URL}"\ntransport = "smtp"\nsecret = "bench"\n'
        f'sequences_dir = "{ROOT / "sequences"}"\ntemplates_dir = "{ROOT / "templates"}"\n'
        f"batch_size = 500\nmax_per_tick = 1000000\n[smtp]\nport = {port}\nconcurrency = {concurrency}\n"
    )
    db = Database(URL, migrate=False)
    db.drop_everything()
    return config, Database(URL)


def seed(db: Database, contacts: int, offset_days: int = 0) -> None:
    """Accounts and contacts straight in SQL: an import of this size is not what is measured."""
    with db.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO rep (email, name, title, timezone) VALUES ('rep@v.example', 'Rep', '', 'UTC')"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO account (name, employees, segment, rep_id) SELECT 'Acct ' || g, 20, 'SMB', 1 FROM generate_series(1, :n) g"
            ),
            {"n": contacts // 10 + 1},
        )
        conn.execute(
            sa.text(
                "INSERT INTO contact (email, first_name, last_name, title, account_id, outreach_mode) "
                "SELECT 'c' || g || '@a' || (g / 10) || '.example', 'First', 'Last', 'Developer', g / 10 + 1, 'C' "
                "FROM generate_series(1, :n) g"
            ),
            {"n": contacts},
        )


@dataclass(frozen=True)
class Run:
    workers: int
    rate: float  # msgs/s
    cpu_per_1000: float  # CPU seconds (user+sys) per 1,000 messages, per worker process
    lock_waits: int  # samples of pg_locks showing a lock not granted
    longest_wait: int  # most waiting locks seen in one sample


class LockSampler(threading.Thread):
    """Samples pg_locks every 20 ms for locks not granted (a waiting backend)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.waits = 0
        self.most = 0

    def run(self) -> None:
        engine = sa.create_engine(URL.replace("postgresql://", "postgresql+psycopg://", 1))
        with engine.connect() as conn:
            while not self.stop.wait(0.02):
                waiting = conn.execute(
                    sa.text(
                        "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                        " WHERE NOT l.granted AND a.datname = current_database()"
                    )
                ).scalar_one()
                conn.rollback()
                self.waits += 1 if waiting else 0
                self.most = max(self.most, int(waiting))
        engine.dispose()


def cpu_of(proc: subprocess.Popen[bytes]) -> float:
    """Wait for a worker; its user+system CPU seconds."""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.returncode == 0, f"worker exited {proc.returncode}"
    return usage.ru_utime + usage.ru_stime


def send_rate(workers: int, messages: int, port: int, concurrency: int) -> Run:
    with tempfile.TemporaryDirectory() as tmp:
        config, db = fresh(Path(tmp), port, concurrency)
        seed(db, messages)
        settings = load_settings(config, environ={})
        launch(db, settings, "premium-to-ultimate", START, NOW)
        db.dispose()
        env = {**os.environ, "CAMPAIGN_CONFIG": str(config)}
        binary = str(Path(sys.executable).parent / "campaign")
        sampler = LockSampler()
        sampler.start()
        started = time.perf_counter()
        procs = [
            subprocess.Popen(
                [binary, "tick", "--now", NOW.isoformat()], env=env, stdout=subprocess.DEVNULL
            )
            for _ in range(workers)
        ]
        cpu = sum(cpu_of(proc) for proc in procs)
        elapsed = time.perf_counter() - started
        sampler.stop.set()
        sampler.join()
        # What a worker costs with nothing to send (start-up, imports): not per-message work.
        idle = subprocess.Popen(
            [binary, "tick", "--now", NOW.isoformat()], env=env, stdout=subprocess.DEVNULL
        )
        cpu -= workers * cpu_of(idle)
        db = Database(URL)
        with db.engine.connect() as conn:
            sent = conn.execute(
                sa.text("SELECT count(*) FROM message WHERE state = 'sent'")
            ).scalar_one()
            dupes = conn.execute(
                sa.text("SELECT count(*) - count(DISTINCT contact_id) FROM message")
            ).scalar_one()
        db.dispose()
        assert sent == messages and dupes == 0, (sent, dupes)
        # CPU per 1,000 messages: the workers' CPU beyond start-up, over the messages sent.
        per_worker = cpu / messages * 1000
        return Run(workers, messages / elapsed, per_worker, sampler.waits, sampler.most)


def idle_tick_ms(enrollments: int, port: int) -> tuple[float, str]:
    import asyncio

    with tempfile.TemporaryDirectory() as tmp:
        config, db = fresh(Path(tmp), port, 1)
        seed(db, enrollments)
        settings = load_settings(config, environ={})
        launch(db, settings, "premium-to-ultimate", START, NOW)
        with db.engine.begin() as conn:  # everyone got step 1; step 2 is a week away
            conn.execute(
                sa.text("UPDATE enrollment SET next_step = 2, next_due_at = '2021-05-04 09:00'")
            )
            conn.execute(sa.text("ANALYZE enrollment"))
            plan = "\n".join(
                row[0]
                for row in conn.execute(
                    sa.text(
                        "EXPLAIN SELECT id FROM enrollment WHERE campaign_id = 1 AND channel = 'automated' "
                        "AND status = 'active' AND next_due_at <= '2021-04-28 09:00' ORDER BY next_due_at LIMIT 500"
                    )
                )
            )

        async def one_tick() -> float:
            async with make_transport(settings) as transport:
                ticker = Ticker(db, settings, transport)
                await ticker.tick(datetime(2021, 4, 28, 9, tzinfo=UTC))  # warm
                started = time.perf_counter()
                for _ in range(20):
                    await ticker.tick(datetime(2021, 4, 28, 9, tzinfo=UTC))
                return (time.perf_counter() - started) / 20 * 1000

        ms = asyncio.run(one_tick())
        with db.session() as session:
            campaign = campaign_by_name(session, f"premium-to-ultimate {START}")
            schedule_for(campaign, sequence_of(campaign))
        db.dispose()
        return ms, plan


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--idle-enrollments", type=int, default=1_000_000)
    parser.add_argument("--concurrency", type=int, default=4, help="SMTP connections per worker")
    parser.add_argument(
        "--sink", choices=["python", "postfix", "both"], default="both", help="SMTP sink(s)"
    )
    parser.add_argument("--workers", default="1,2,4", help="worker counts to measure")
    args = parser.parse_args()
    load = Load()
    counts = [int(w) for w in args.workers.split(",")]
    sinks = ["postfix", "python"] if args.sink == "both" else [args.sink]
    for kind in sinks:
        with smtp_sink(kind) as port:
            raw = asyncio.run(raw_rate(port, min(args.messages, 20_000), args.concurrency)).rate
            runs = [send_rate(w, args.messages, port, args.concurrency) for w in counts]
        one = runs[0]
        rows = [Row("raw aiosmtplib, one process", raw)]
        for run in runs:
            rows.append(Row(f"{run.workers} worker(s): msgs/s vs raw", run.rate, raw))
            rows.append(Row(f"{run.workers} worker(s): msgs/s vs 1 worker", run.rate, one.rate))
            rows.append(
                Row(
                    f"{run.workers} worker(s): CPU s per 1,000 msgs (start-up excluded) vs 1 worker"
                    f" (lock waits seen: {run.lock_waits}, most at once: {run.longest_wait})",
                    run.cpu_per_1000,
                    one.cpu_per_1000,
                    unit="s",
                )
            )
        title = f"PostgreSQL, {args.messages:,} messages, {args.concurrency} connections/worker"
        print_rows(f"{title}, {kind} sink", rows, load)
    with smtp_sink("python") as port:
        idle_ms, plan = idle_tick_ms(args.idle_enrollments, port)
    print_rows(
        "idle tick (none due)",
        [Row(f"idle tick over {args.idle_enrollments:,} enrollments", idle_ms, 50.0, unit="ms")],
        load,
    )
    print(plan)


if __name__ == "__main__":
    main()
