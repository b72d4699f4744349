"""`campaign report` and the dashboard on a big history: 1,000,000 messages, 200,000 events.

    CAMPAIGN_BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench_speed \
        .venv/bin/python bench/report.py [--contacts 333334] [--steps 3] [--events 200000] [--reuse]

Generated with bulk INSERT ... SELECT generate_series (PostgreSQL; the bench drops every table
of its database first), the message and engagement counters rebuilt, then VACUUM ANALYZE as
autovacuum would (`--reuse`: the data an earlier run left, migrated). Times `reports.load_report`
with the statuses (the data behind `campaign report`) and `render_dashboard` on top of it,
and the first GET /app/dashboard of a web app just started (the report counted in the request),
logged in as ops, target < 1 s each (the reference column); and the
messages per step and state (`campaign status`) from the counters, the full count they replace
as the reference. Each figure is the median of 3 runs.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

import sqlalchemy as sa
from starlette.testclient import TestClient

from campaign_engine.core.config import Settings, load_settings
from campaign_engine.engine.launch import launch
from campaign_engine.reporting import reports
from campaign_engine.reporting.dashboard import render_dashboard
from campaign_engine.store import engagement_counts, message_counts
from campaign_engine.store.db import Database
from campaign_engine.store.models import Message
from campaign_engine.web.app import create_app
from campaign_engine.web.users import add_user

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import Load, Row, print_rows
from scale import ROOT, seed

URL = os.environ.get(
    "CAMPAIGN_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/bench_speed"
)
START = date(2021, 4, 27)
NOW = datetime(2021, 4, 27, 9, tzinfo=UTC)
RUNS = 3
OPS, PASSWORD = "ops@bench.example", "bench password 1"


def write_config(workdir: Path) -> Path:
    config = workdir / "config.toml"
    config.write_text(
        f'database_url = "{URL}"\nsecret = "bench"\n'
        f'sequences_dir = "{ROOT / "sequences"}"\ntemplates_dir = "{ROOT / "templates"}"\n'
    )
    return config


def build(config: Path, contacts: int, steps: int, events: int) -> Database:
    Database(URL, migrate=False).drop_everything()
    db = Database(URL)
    seed(db, contacts)
    launch(db, load_settings(config, environ={}), "premium-to-ultimate", START, NOW)
    with db.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO message (enrollment_id, campaign_id, contact_id, step, origin, state,"
                " recipient, subject, message_id_header, attempts, sent_at, created_at,"
                " segment, title, rep_id, zone)"
                " SELECT e.id, e.campaign_id, e.contact_id, s, 'automated', 'sent',"
                " 'c' || e.contact_id || '@x.example', 'Subject', '<' || e.id || '.' || s || '@v>',"
                " 1, :now + s * interval '1 day', :now, a.segment, c.title, a.rep_id,"
                " COALESCE(NULLIF(e.timezone, ''),"
                " (SELECT timezone FROM campaign WHERE id = e.campaign_id))"
                " FROM enrollment e JOIN contact c ON c.id = e.contact_id"
                " JOIN account a ON a.id = c.account_id CROSS JOIN generate_series(1, :steps) s"
            ),
            {"now": NOW, "steps": steps},
        )
        conn.execute(
            sa.text(
                "INSERT INTO event (kind, message_id, contact_id, link_index, is_human, occurred_at)"
                " SELECT CASE WHEN g % 3 = 0 THEN 'click' ELSE 'open' END, m.id, m.contact_id,"
                " CASE WHEN g % 3 = 0 THEN 0 END, g % 10 <> 0, m.sent_at + interval '1 hour'"
                " FROM generate_series(1, :events) g"
                " JOIN message m ON m.id = (g * 7919) % (SELECT max(id) FROM message) + 1"
            ),
            {"events": events},
        )
        message_counts.rebuild(conn)  # the rows above came in by SQL, past the counters
        engagement_counts.rebuild(conn)
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE"))  # as autovacuum leaves a live database
    return db


def reused() -> Database | None:
    """The database an earlier run built, brought to this tree's schema (its migrations fill
    what they add), or None when there is none."""
    probe = Database(URL, migrate=False)
    try:
        if not sa.inspect(probe.engine).has_table("message"):
            return None
        with probe.engine.connect() as conn:
            if not conn.execute(sa.text("SELECT EXISTS (SELECT 1 FROM message)")).scalar_one():
                return None
    finally:
        probe.dispose()
    return Database(URL)


def time_report(db: Database, settings: Settings) -> tuple[float, float]:
    """Seconds for the data of `campaign report` (report + statuses) and for the dashboard
    (report + render), as the CLI and the web app get them."""
    started = time.perf_counter()
    with db.session() as session:
        result = reports.load_report(session, NOW)
        local_days = {c.name: c.sent_per_local_day for c in result.campaigns}
        reports.campaign_statuses(session, None, local_days)  # as `campaign report` does
    report_s = time.perf_counter() - started
    started = time.perf_counter()
    html = render_dashboard(result, settings.templates_dir)
    assert "premium-to-ultimate" in html
    return report_s, time.perf_counter() - started + report_s


def time_step_counts(db: Database) -> tuple[float, float]:
    """Seconds for the messages per step and state of `campaign status` (the status table of
    the report, the campaigns page, /metrics): from the counters, and by the full count over the
    messages they replace (the reference)."""
    m = Message.__table__.c  # type: ignore[attr-defined]
    full = sa.select(m.campaign_id, m.step, m.state, m.skip_reason, sa.func.count()).group_by(
        m.campaign_id, m.step, m.state, m.skip_reason
    )
    with db.session() as session:
        ids = list(session.execute(sa.select(sa.func.distinct(m.campaign_id))).scalars())
        started = time.perf_counter()
        kept = reports.step_counts(session, ids)
        counters_s = time.perf_counter() - started
        started = time.perf_counter()
        counted = session.execute(full).all()
        full_s = time.perf_counter() - started
    assert sum(sum(s.states.values()) for s in kept.values()) == sum(r[-1] for r in counted)
    return counters_s, full_s


def time_dashboard_page(db: Database, settings: Settings) -> float:
    """Seconds for the first GET /app/dashboard of a web app just started, logged in as ops
    (in-process client): the report is counted in the request (later ones show that count up
    to `recount_seconds`)."""
    add_user(db, OPS, "ops", PASSWORD, NOW, replace=True)
    with TestClient(create_app(settings, db)) as client:
        form = client.get("/app/login").text
        token = re.search(r'name="csrf" value="([^"]+)"', form)
        assert token is not None
        data = {"email": OPS, "password": PASSWORD, "csrf": token.group(1)}
        assert client.post("/app/login", data=data, follow_redirects=False).status_code == 303
        started = time.perf_counter()
        page = client.get("/app/dashboard")
        elapsed = time.perf_counter() - started
    assert page.status_code == 200 and "premium-to-ultimate" in page.text, page.text[:500]
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--contacts", type=int, default=333_334)
    parser.add_argument("--steps", type=int, default=3, help="messages per contact (<= 3)")
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="time the data an earlier run left in the database (built when there is none)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config = write_config(Path(tmp))
        db = (reused() if args.reuse else None) or build(
            config, args.contacts, args.steps, args.events
        )
        load = Load()
        settings = load_settings(config, environ={})
        with db.engine.connect() as conn:
            messages = conn.execute(sa.text("SELECT count(*) FROM message")).scalar_one()
            events = conn.execute(sa.text("SELECT count(*) FROM event")).scalar_one()
        steps = [time_step_counts(db) for _ in range(RUNS)]
        runs = [time_report(db, settings) for _ in range(RUNS)]
        pages = [time_dashboard_page(db, settings) for _ in range(RUNS)]
        db.dispose()
    report_s = statistics.median(r for r, _ in runs)
    dashboard_s = statistics.median(d for _, d in runs)
    rows = [
        Row("campaign report (load_report + statuses)", report_s, 1.0, unit="s"),
        Row("dashboard (load_report + render)", dashboard_s, 1.0, unit="s"),
        Row("dashboard page, first GET (counted)", statistics.median(pages), 1.0, unit="s"),
        Row(
            "messages per step and state: counters (ref.: full count)",
            statistics.median(c for c, _ in steps) * 1000,
            statistics.median(f for _, f in steps) * 1000,
            unit="ms",
        ),
    ]
    print_rows(
        f"PostgreSQL, {messages:,} messages, {events:,} events (median of {RUNS})", rows, load
    )


if __name__ == "__main__":
    main()
