"""Server time of every console page on a big history: 100,000 contacts, 1,000,000 messages.

    CAMPAIGN_BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench_web \
        .venv/bin/python bench/web.py [--contacts 100000] [--messages 1000000] [--reuse] \
        [--only "rep: My day"]

Generates (bulk INSERT ... SELECT generate_series; the bench drops every table of its database
first, unless --reuse finds the data of an earlier run) 20 reps and their accounts, contacts,
4 campaigns, messages (a fifth of the contacts worked by their rep: drafts, rep sends, reminders
due), opens, clicks and contact requests, and exclusions. Then serves the app as `campaign run`
does (its own process, a real socket), logs in as ops and as a rep, and requests every page
`--rounds` times, printing p50/p95 per page. Targets: < 300 ms per page, the dashboard < 1 s.
The dashboard and campaigns list are also measured counted in the request ("counted now").
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import sqlalchemy as sa

from campaign_engine.cli.web_child import web_process
from campaign_engine.core.config import Settings, load_settings
from campaign_engine.engine.launch import launch
from campaign_engine.store import message_counts
from campaign_engine.store.db import Database
from campaign_engine.web.users import add_user

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import Load, Row, free_port, print_rows

ROOT = Path(__file__).resolve().parent.parent
URL = os.environ.get(
    "CAMPAIGN_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/bench_web"
)
REPS = 20
CAMPAIGNS = 4
OPS, REP, PASSWORD = "ops@v.example", "rep1@v.example", "bench-password-1234"
Q = "SELECT count(*) FROM "
# The dashboard and campaigns pages show counts kept up to `recount_seconds`; "Count now"
# (?fresh=1) counts in the request: measured too, without a target (the background count's cost).
COUNTED_NOW = "counted now"


def sql(conn: sa.Connection, text: str, **params: object) -> None:
    conn.execute(sa.text(text), params)


def build(settings: Settings, contacts: int, messages: int, now: datetime) -> None:
    Database(URL, migrate=False).drop_everything()
    db = Database(URL)
    with db.engine.begin() as conn:
        sql(conn, "INSERT INTO rep (email, name, title, timezone) SELECT 'rep' || g || "
            "'@v.example', 'Rep ' || g, 'AE', 'UTC' FROM generate_series(1, :n) g", n=REPS)  # fmt: skip
        # Every fifth account is mid-market or enterprise: its contacts are the reps' work.
        sql(conn, "INSERT INTO account (name, employees, segment, rep_id) SELECT 'Acct ' || g, "
            "CASE WHEN g % 5 = 0 THEN 900 ELSE 20 END, 'SMB', g % :reps + 1 "
            "FROM generate_series(1, :n) g", n=contacts // 10 + 1, reps=REPS)  # fmt: skip
        sql(conn, "INSERT INTO contact (email, first_name, last_name, title, account_id, "
            "outreach_mode, timezone, created_at) SELECT 'c' || g || '@a' || (g / 10) || "
            "'.example', 'First' || (g % 997), 'Last' || (g % 991), 'Developer', g / 10 + 1, "
            "'C', 'UTC', :now FROM generate_series(1, :n) g", n=contacts, now=now)  # fmt: skip
    launch(db, settings, "premium-to-ultimate", (now - timedelta(days=30)).date(), now)
    per_enrollment = messages / (contacts * CAMPAIGNS)  # steps per enrollment, 1 to 3
    with db.engine.begin() as conn:
        sql(conn, "INSERT INTO campaign (name, sequence_key, sequence_json, links_json, "
            "start_date, timezone, window_start, window_end, send_days, late_joiners, "
            "created_at, paused) SELECT c.name || '-' || g, sequence_key, sequence_json, "
            "links_json, start_date + g * 7, timezone, window_start, window_end, send_days, "
            "late_joiners, created_at, false FROM campaign c CROSS JOIN generate_series(2, :n) g",
            n=CAMPAIGNS)  # fmt: skip
        sql(conn, "INSERT INTO enrollment (campaign_id, contact_id, channel, status, next_step, "
            "timezone, first_day, late_joiner, enrolled_at) SELECT c.id, e.contact_id, "
            "e.channel, e.status, e.next_step, e.timezone, e.first_day, false, e.enrolled_at "
            "FROM enrollment e CROSS JOIN campaign c WHERE e.campaign_id = 1 AND c.id > 1")  # fmt: skip
        sql(conn, "UPDATE account SET segment = CASE WHEN id % 10 = 0 THEN 'ENT' ELSE 'MM' END "
            "WHERE id % 5 = 0")  # fmt: skip
        # Steps 1..3 per enrollment (fewer for some, to reach `messages`); the last one of
        # every tenth enrollment is still queued; rep accounts' emails were sent by the rep.
        sql(conn, "INSERT INTO message (enrollment_id, campaign_id, contact_id, step, origin, "
            "state, recipient, subject, message_id_header, attempts, sent_at, due_at, "
            "next_attempt_at, created_at, segment, title, rep_id, zone) "
            "SELECT e.id, e.campaign_id, e.contact_id, s, "
            "CASE WHEN a.segment = 'SMB' THEN 'automated' ELSE 'rep' END, "
            "CASE WHEN e.id % 10 = 0 AND s = 3 THEN 'queued' ELSE 'sent' END, "
            "ct.email, 'Subject ' || s, '<' || e.id || '.' || s || '@v>', 1, "
            "CASE WHEN e.id % 10 = 0 AND s = 3 THEN NULL ELSE "
            ":now - (4 - s) * interval '7 days' + (e.id % 86400) * interval '1 second' END, "
            ":now, :now, :now, a.segment, ct.title, a.rep_id, "
            "COALESCE(NULLIF(e.timezone, ''), "
            "(SELECT timezone FROM campaign WHERE id = e.campaign_id)) "
            "FROM enrollment e JOIN contact ct ON ct.id = e.contact_id "
            "JOIN account a ON a.id = ct.account_id CROSS JOIN generate_series(1, 3) s "
            "WHERE s <= :base + CASE WHEN e.id % 1000 < :extra THEN 1 ELSE 0 END",
            now=now, base=int(per_enrollment),
            extra=round((per_enrollment - int(per_enrollment)) * 1000))  # fmt: skip
        # The reps' drafts: every step of every enrollment of a rep account; the steps sent
        # are "sent" drafts (reminders come due from them), the rest wait for the rep.
        sql(conn, "INSERT INTO draft (campaign_id, enrollment_id, contact_id, rep_id, step, "
            "subject, body_text, body_html, footer_text, footer_html, status, created_at, sent_at, "
            "message_id) "
            "SELECT e.campaign_id, e.id, e.contact_id, a.rep_id, s, 'Draft ' || s || ' for ' || "
            "ct.first_name, 'Hi ' || ct.first_name || ', a word about Ultimate. {{contact_url}}', "
            "'', '', '', CASE WHEN m.state = 'sent' AND s < 3 THEN 'sent' ELSE 'draft' END, :now, "
            "CASE WHEN m.state = 'sent' AND s < 3 THEN m.sent_at END, "
            "CASE WHEN m.state = 'sent' AND s < 3 THEN m.id END "
            "FROM enrollment e JOIN contact ct ON ct.id = e.contact_id "
            "JOIN account a ON a.id = ct.account_id CROSS JOIN generate_series(1, 3) s "
            "LEFT JOIN message m ON m.enrollment_id = e.id AND m.step = s "
            "WHERE a.segment <> 'SMB'", now=now)  # fmt: skip
        sql(conn, "INSERT INTO event (kind, message_id, contact_id, link_index, is_human, "
            "occurred_at, note) SELECT CASE WHEN g % 3 = 0 THEN 'click' WHEN g % 500 = 1 "
            "THEN 'contact_request' ELSE 'open' END, m.id, m.contact_id, "
            "CASE WHEN g % 3 = 0 THEN 0 END, g % 10 <> 0, "
            ":now - (g % 20) * interval '1 day', CASE WHEN g % 500 = 1 THEN "
            "'Can we talk next week?' END FROM generate_series(1, :events) g "
            "JOIN message m ON m.id = (g::bigint * 7919) % (SELECT max(id) FROM message) + 1",
            now=now, events=messages * 3 // 10)  # fmt: skip
        sql(conn, "INSERT INTO exclusion (email, domain, reason, source_file, source_line, "
            "created_by, created_at, removed_at, removed_by) SELECT CASE WHEN g % 4 <> 0 THEN "
            "'c' || (g * 5) || '@a' || (g / 2) || '.example' END, CASE WHEN g % 4 = 0 THEN "
            "'d' || g || '.example' END, CASE WHEN g % 2 = 0 THEN 'customer' ELSE 'partner' END, "
            "'upload-' || (g / 1000) || '.csv', g % 1000 + 2, :ops, :now, "
            "CASE WHEN g % 10 = 0 THEN :now END, CASE WHEN g % 10 = 0 THEN CAST(:ops AS varchar) END "
            "FROM generate_series(1, :n) g", n=contacts // 5, ops=OPS, now=now)  # fmt: skip
        message_counts.rebuild(conn)  # the messages above came in by SQL, past the counters
    # As autovacuum leaves tables minutes after a bulk load: statistics gathered and the
    # visibility map set, so index-only scans read no table pages.
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        sql(conn, "VACUUM ANALYZE")
    add_user(db, OPS, "ops", PASSWORD, now)
    add_user(db, REP, "rep", PASSWORD, now)
    db.dispose()


@dataclass(frozen=True)
class Ids:
    contact: int  # a contact of the rep with messages, events and drafts
    draft: int  # one of the rep's open drafts


def ids(db: Database) -> Ids:
    with db.engine.connect() as conn:
        draft, contact = conn.execute(
            sa.text("SELECT d.id, d.contact_id FROM draft d JOIN rep r ON r.id = d.rep_id "
                    "WHERE r.email = :rep AND d.status = 'draft' ORDER BY d.id LIMIT 1"),
            {"rep": REP},
        ).one()  # fmt: skip
    return Ids(contact, draft)


def pages(found: Ids) -> list[tuple[str, str, str]]:
    """(who, what, path) of every console page."""
    ops = [
        ("campaigns list", "/app/campaigns"),
        ("campaigns list, counted now", "/app/campaigns?fresh=1"),
        ("contacts search, first page", "/app/contacts"),
        ("contacts search, by email", "/app/contacts?q=c4242%40"),
        ("contacts search, by account", "/app/contacts?q=acct+777"),
        ("contacts search, page 1,000", "/app/contacts?page=1000"),
        ("contact page", f"/app/contacts/{found.contact}"),
        ("exclusions list", "/app/exclusions"),
        ("exclusions search", "/app/exclusions?q=a4242"),
        ("exclusions, page 300", "/app/exclusions?page=300"),
        ("exclusions, removed", "/app/exclusions?show=removed"),
        ("dashboard", "/app/dashboard"),
        ("dashboard, counted now", "/app/dashboard?fresh=1"),
        ("users", "/app/users"),
        ("drafts list (all reps)", "/app/drafts"),
        ("drafts search (all reps)", "/app/drafts?q=first17"),
        ("draft page", f"/app/drafts/{found.draft}"),
    ]
    rep = [
        ("My day", "/app/"),
        ("drafts list", "/app/drafts"),
        ("drafts search", "/app/drafts?q=first17"),
        ("drafts, page 20", "/app/drafts?page=20"),
        ("draft page", f"/app/drafts/{found.draft}"),
        ("contacts search", "/app/contacts?q=first17"),
        ("contact page", f"/app/contacts/{found.contact}"),
    ]
    return [("ops", w, p) for w, p in ops] + [("rep", w, p) for w, p in rep]


async def login(client: httpx.AsyncClient, email: str) -> None:
    page = await client.get("/app/login")
    csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    answer = await client.post(
        "/app/login", data={"email": email, "password": PASSWORD, "csrf": csrf}
    )
    assert answer.status_code == 303, answer.text[:300]


async def measure(
    settings: Settings, found: Ids, rounds: int, only: list[str]
) -> dict[tuple[str, str], list[float]]:
    port = free_port()
    web = web_process(settings, "127.0.0.1", port)
    web.start()
    times: dict[tuple[str, str], list[float]] = {}
    try:
        base = f"http://127.0.0.1:{port}"
        clients = {who: httpx.AsyncClient(base_url=base, timeout=120) for who in ("ops", "rep")}
        deadline = time.monotonic() + 60
        while True:
            try:
                await clients["ops"].get("/healthz")
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the web app never answered"
                await asyncio.sleep(0.1)
        await login(clients["ops"], OPS)
        await login(clients["rep"], REP)
        for who, what, path in pages(found):
            if only and not any(word in f"{who}: {what}" for word in only):
                continue
            try:  # warm: templates compiled, caches filled
                first = await clients[who].get(path)
            except httpx.TimeoutException:
                print(f"  {who:<4} {what:<32} timed out (> 120 s): skipped", file=sys.stderr)
                continue
            assert first.status_code == 200, (who, path, first.status_code, first.text[:300])
            samples = []
            for _ in range(max(3, rounds // 4) if COUNTED_NOW in what else rounds):
                started = time.perf_counter()
                response = await clients[who].get(path)
                samples.append(time.perf_counter() - started)
                assert response.status_code == 200, (path, response.status_code)
            times[(who, what)] = samples
            print(f"  {who:<4} {what:<32} p50 {1000 * statistics.median(samples):8.1f} ms",
                  file=sys.stderr)  # fmt: skip
        for client in clients.values():
            await client.aclose()
    finally:
        await web.stop(30)
    return times


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=20, help="requests per page")
    parser.add_argument("--reuse", action="store_true", help="keep the data of an earlier run")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="TEXT",
        help='measure only the pages whose "who: what" contains TEXT (repeatable), e.g.'
        ' --only "rep: My day" --only drafts',
    )
    args = parser.parse_args()
    load = Load()
    now = datetime.now(UTC).replace(microsecond=0)
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.toml"
        config.write_text(
            f'database_url = "{URL}"\nsecret = "bench-secret-for-the-web-pages"\n'
            f'sequences_dir = "{ROOT / "sequences"}"\ntemplates_dir = "{ROOT / "templates"}"\n'
        )
        settings = load_settings(config, environ={})
        db = Database(URL, migrate=False)
        have = sa.inspect(db.engine).has_table("message")
        if not (args.reuse and have):
            started = time.monotonic()
            build(settings, args.contacts, args.messages, now)
            print(f"generated in {time.monotonic() - started:.0f} s", file=sys.stderr)
        db = Database(URL)  # brings an earlier run's database to this version's schema
        with db.engine.connect() as conn:
            counts = {t: conn.execute(sa.text(Q + t)).scalar_one()
                      for t in ("contact", "message", "event", "draft", "exclusion")}  # fmt: skip
        found = ids(db)
        db.dispose()
        times = asyncio.run(measure(settings, found, args.rounds, args.only))
    rows = []
    for (who, what), samples in times.items():
        target = None if COUNTED_NOW in what else 1000 if what == "dashboard" else 300
        rows.append(Row(f"{who}: {what}, p50", 1000 * statistics.median(samples), None, "ms"))
        rows.append(Row(f"{who}: {what}, p95", 1000 * p95(samples), target, "ms"))
    title = ", ".join(f"{n:,} {t}s" for t, n in counts.items())
    print_rows(f"Console pages, server time over loopback (reference: target); {title}", rows, load)


if __name__ == "__main__":
    main()
