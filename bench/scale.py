"""Scale-out on PostgreSQL: msgs/s with 1, 2 and 4 `campaign tick` workers, and the cost of a
tick that finds nothing due among 1,000,000 enrollments.

    CAMPAIGN_BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench .venv/bin/python bench/scale.py \
        [--messages 50000] [--idle-enrollments 1000000]

The reference in the same run is raw aiosmtplib into the same sink with the same connections
(bench/send.py measures that ratio in detail); the sink runs in its own process.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

from campaign_engine.core.config import load_settings
from campaign_engine.engine.launch import launch
from campaign_engine.engine.tick import Ticker
from campaign_engine.sending.campaigns import schedule_for, sequence_of
from campaign_engine.sending.transport import make_transport
from campaign_engine.store.db import Database
from campaign_engine.store.queries import campaign_by_name

sys.path.insert(0, str(Path(__file__).resolve().parent))
from send import raw_rate
from sink import running_sink

ROOT = Path(__file__).resolve().parent.parent
URL = os.environ.get("CAMPAIGN_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
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


def send_rate(workers: int, messages: int, port: int, concurrency: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        config, db = fresh(Path(tmp), port, concurrency)
        seed(db, messages)
        settings = load_settings(config, environ={})
        launch(db, settings, "premium-to-ultimate", START, NOW)
        db.dispose()
        env = {**os.environ, "CAMPAIGN_CONFIG": str(config)}
        binary = str(Path(sys.executable).parent / "campaign")
        started = time.perf_counter()
        procs = [
            subprocess.Popen(
                [binary, "tick", "--now", NOW.isoformat()], env=env, stdout=subprocess.DEVNULL
            )
            for _ in range(workers)
        ]
        assert all(p.wait() == 0 for p in procs)
        elapsed = time.perf_counter() - started
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
        return messages / elapsed


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
    args = parser.parse_args()
    with running_sink() as port:
        raw = asyncio.run(raw_rate(port, min(args.messages, 20_000), args.concurrency))
        rows = [
            (workers, send_rate(workers, args.messages, port, args.concurrency))
            for workers in (1, 2, 4)
        ]
        idle_ms, plan = idle_tick_ms(args.idle_enrollments, port)
    table = Table(
        title=f"PostgreSQL, {args.messages:,} messages, {args.concurrency} SMTP connections per worker"
    )
    table.add_column("workers")
    table.add_column("msgs/s", justify="right")
    table.add_column("vs raw aiosmtplib", justify="right")
    table.add_row("raw", f"{raw:,.0f}", "100%")
    for workers, rate in rows:
        table.add_row(str(workers), f"{rate:,.0f}", f"{rate / raw:.0%}")
    Console().print(table)
    Console().print(
        f"idle tick over {args.idle_enrollments:,} enrollments (none due): {idle_ms:.1f} ms"
    )
    Console().print(plan)


if __name__ == "__main__":
    main()
