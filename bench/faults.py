"""Every delivery fault of issue 15 against a 2,000-contact campaign, then SIGKILLs mid-step.

    .venv/bin/python bench/faults.py [--contacts 2000] [--only NAME] [--kill-step 4000] \
        [--postgres URL]

Each scenario gets a fresh SQLite database and a fault-injecting relay (tests/faultrelay.py),
misbehaves during the first tick(s), then heals (the "one relay of two down" row adds a healthy
second relay of equal weight: all mail must go through it, none twice); the engine ticks on until nothing is due. Then:
delivered (distinct recipients the relay took), duplicates (extra copies), lost (contacts with
neither an arrival nor an expected bounce/failure nor `uncertain`), wrongly suppressed
(suppressed but not meant to bounce) and uncertain. Duplicates, lost and wrongly suppressed must
be 0; uncertain only for the drop-after-dot and SIGKILL rows.

The pacing table (`--only pacing`): a provider deferring 50% of its recipients for 10 minutes
(one domain on Google, one on Microsoft, by the [pacing] mx table): per provider, what was tried
in those minutes, its rate at the end of them, how often it was halved, when all its mail had
arrived, and delivered / duplicates / lost. Google's rate must back off (at least one slowdown),
Microsoft must not be slowed, and nothing may be lost or arrive twice.

The second table (`--only SIGKILL`) kills `campaign tick` with SIGKILL at several points of one
4,000-message step, on SQLite and on PostgreSQL (`--postgres`, default
$CAMPAIGN_TEST_DATABASE_URL), lets the lease expire, runs `messages retry --uncertain` and ticks
until nothing is due. Uncertain must stay within connections + AHEAD (wire_ledger), nothing
recorded as sent may arrive twice, nobody may be lost; duplicates can only come from the
uncertain ones the operator chose to send again.

The third table (`--only "8% bad"`) sends the campaign to a list with 8% unknown users (550
5.1.1 at RCPT TO): the automatic brakes must pause it within their window (500 sends), ops must
get the alert, a later tick must mail nobody; then the list is cleaned (the unknown users not
tried yet suppressed), the campaign resumed, and every other contact must get it exactly once.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from campaign_engine.core.config import Settings, load_settings  # noqa: E402
from campaign_engine.core.kinds import MessageState  # noqa: E402
from campaign_engine.sending.pace_store import paces  # noqa: E402
from campaign_engine.sending.recovery import retry_uncertain  # noqa: E402
from campaign_engine.sending.wire_ledger import AHEAD  # noqa: E402
from campaign_engine.store.db import Database  # noqa: E402
from tests.conftest import free_port  # noqa: E402
from tests.delivery_setup import (  # noqa: E402
    DAY1,
    launch_smb,
    point_at,
    states,
    suppressed,
    with_relays,
)
from tests.faultrelay import FaultRelay, fault_relay  # noqa: E402
from tests.helpers import CAMPAIGN, campaign_cli, tick  # noqa: E402


@dataclass
class Scenario:
    name: str
    behaviour: dict[str, object]
    heal: Callable[[FaultRelay], None]
    bounce: float = 0.0  # share of contacts meant to bounce (5.1.1)
    refuse: float = 0.0  # share meant to fail for policy (5.7.1), never suppressed
    smtp: dict[str, object] | None = None
    crash: signal.Signals | None = None
    relays: int = 1  # 2: the faulty relay and a healthy one, equal weights ([[smtp.relays]])


def _clear(relay: FaultRelay) -> None:
    relay.greeting = relay.mail_reply = relay.rcpt_reply_all = ""
    relay.rcpt_replies = {k: v for k, v in relay.rcpt_replies.items() if v.startswith("550")}
    relay.drop_at_data.clear()
    relay.drop_after_dot.clear()
    relay.delay = 0.0


def scenarios(emails: list[str]) -> list[Scenario]:
    some = set(emails[::50])  # 2%
    return [
        Scenario(
            "wrong password (535), then fixed",
            {"username": "ops", "password": "right"},
            _clear,
            smtp={"username": "ops", "password": "wrong"},
        ),
        Scenario("421 at connect", {"greeting": "421 4.3.2 try later"}, _clear),
        Scenario("553 at MAIL FROM", {"mail_reply": "553 5.1.8 sender rejected"}, _clear),
        Scenario(
            "452 for 2% at RCPT", {"rcpt_replies": dict.fromkeys(some, "452 4.2.2 full")}, _clear
        ),
        Scenario(
            "550 5.1.1 for 2% at RCPT",
            {"rcpt_replies": dict.fromkeys(some, "550 5.1.1 gone")},
            _clear,
            bounce=0.02,
        ),
        Scenario(
            "550 5.7.1 for 2% at RCPT",
            {"rcpt_replies": dict.fromkeys(some, "550 5.7.1 spam")},
            _clear,
            refuse=0.02,
        ),
        Scenario("block list (554 5.7.1 for all)", {"rcpt_reply_all": "554 5.7.1 blocked"}, _clear),
        Scenario("drop mid-DATA for 2%", {"drop_at_data": set(some)}, _clear),
        Scenario("drop after the dot for 2%", {"drop_after_dot": set(some)}, _clear),
        Scenario("slow replies (20 ms)", {"delay": 0.02}, _clear),
        Scenario("SIGTERM mid-tick", {"delay": 0.005}, _clear, crash=signal.SIGTERM),
        Scenario("SIGKILL mid-tick", {"delay": 0.005}, _clear, crash=signal.SIGKILL),
        Scenario("one relay of two down (421)", {"greeting": "421 4.3.2 down"}, _clear, relays=2),
    ]


def write_config(directory: Path, database_url: str = "") -> Settings:
    config = directory / "config.toml"
    config.write_text(
        f"""database_url = "{database_url or f"sqlite:///{directory / 'campaign.db'}"}"
transport = "smtp"
from = "Marketing <marketing@gitlab-demo.example>"
secret = "bench-secret-0123456789abcdef0123456789"
postal_address = "1 Bench Street"
tracking_base_url = "https://track.example.test"
sequences_dir = "{ROOT / "sequences"}"
templates_dir = "{ROOT / "templates"}"
lease_seconds = 60

[smtp]
host = "127.0.0.1"
port = {free_port()}
concurrency = 4
timeout = 5
"""
    )
    return load_settings(config, environ={})


def run(scenario: Scenario, count: int) -> list[object]:
    emails = [f"p{i}@smb{i % 40}.example" for i in range(count)]
    behaviour = {
        k: (v if not isinstance(v, dict | set) else type(v)(v))  # a fresh copy per run
        for k, v in scenario.behaviour.items()
    }
    with (
        tempfile.TemporaryDirectory() as tmp,
        fault_relay(**behaviour) as relay,
        fault_relay() as healthy,
    ):
        settings = write_config(Path(tmp))
        settings = point_at(settings, relay.port, **(scenario.smtp or {}))
        if scenario.relays == 2:
            settings = with_relays(settings, down={"port": relay.port}, up={"port": healthy.port})
        db = Database(settings.database_url)
        launch_smb(db, settings, emails, Path(tmp))
        if scenario.crash is not None:
            _crash(settings, relay, scenario.crash, count // 3)  # mid-batch
        else:
            tick(db, settings, DAY1)
        scenario.heal(relay)
        healed = (
            point_at(settings, relay.port, username="ops", password="right")
            if scenario.smtp
            else settings
        )
        _tick_until_done(db, healed, DAY1 + timedelta(minutes=2))
        if scenario.relays == 2:  # the row counts what both relays took
            relay.received.extend(healthy.received)
        return _row(scenario, db, relay, emails)


def _tick_until_done(db: Database, settings: Settings, moment: datetime) -> datetime:
    for _ in range(12):
        tick(db, settings, moment)
        open_ = states(db)
        if not (
            open_[MessageState.QUEUED] or open_[MessageState.RETRY] or open_[MessageState.SENDING]
        ):
            break
        moment += timedelta(minutes=30)
    return moment


BRAKES_HEADER = [
    "list",
    "paused after",
    "within",
    "ops alerted",
    "mailed while paused",
    "delivered in all",
    "duplicates",
    "lost",
]


def brakes_row(count: int) -> list[object]:
    """A list with 8% unknown users: paused, nobody mailed while paused, resumed, nothing lost."""
    from sqlmodel import select

    from campaign_engine.audience.suppression import add_suppression
    from campaign_engine.store.models import Campaign

    emails = [f"p{i}@smb{i % 40}.example" for i in range(count)]
    bad = {e for i, e in enumerate(emails) if i % 25 in (7, 19)}  # 8%
    ops = "ops@gitlab-demo.example"
    with (
        tempfile.TemporaryDirectory() as tmp,
        fault_relay(rcpt_replies=dict.fromkeys(bad, "550 5.1.1 user unknown")) as relay,
    ):
        settings = point_at(write_config(Path(tmp)), relay.port)
        text = settings.config_path.read_text()
        settings.config_path.write_text(f'{text}\n[reps]\nunassigned_to = "{ops}"\n')
        settings = load_settings(settings.config_path, environ={})
        db = Database(settings.database_url)
        launch_smb(db, settings, emails, Path(tmp))
        tick(db, settings, DAY1)
        at_pause = states(db)
        mailed = len(relay.received)
        tick(db, settings, DAY1 + timedelta(minutes=30))
        while_paused = len(relay.received) - mailed
        alerted = sum(1 for _, m in relay.received if m["X-Campaign-Alert"] == "campaign_paused")
        untried = bad - _emails_in(db, MessageState.BOUNCED)
        with db.session() as session:
            name = session.exec(select(Campaign.name)).one()
            for address in untried:
                add_suppression(session, address, "manual", "list cleaned", DAY1)
        resumed = DAY1 + timedelta(hours=1)
        campaign_cli(settings, "campaigns", "resume", name, "--now", resumed.isoformat())
        _tick_until_done(db, settings, resumed)
        arrived = relay.arrived()
        db.dispose()
    arrived.pop(ops, None)
    sends = at_pause[MessageState.SENT] + at_pause[MessageState.BOUNCED]
    return [
        f"{count:,} contacts, 8% unknown users",
        f"{sends} sends ({at_pause[MessageState.BOUNCED]} bounced)",
        f"<= {settings.brakes.window}",
        alerted,
        while_paused,
        len(arrived),
        sum(n - 1 for n in arrived.values()),
        sum(1 for e in emails if e not in bad and e not in arrived),
    ]


KILL_HEADER = [
    "database",
    "killed after",
    "uncertain",
    "bound",
    "back to queued",
    "dup. of recorded",
    "dup. after retry --uncertain",
    "lost",
]


def kill_row(database: str, count: int, share: float) -> list[object]:
    """SIGKILL `campaign tick` once `share` of a `count`-message step has arrived."""
    emails = [f"p{i}@smb{i % 40}.example" for i in range(count)]
    with tempfile.TemporaryDirectory() as tmp, fault_relay(delay=0.002) as relay:
        url = "" if database == "sqlite" else database
        if url:
            Database(url, migrate=False).drop_everything()
        settings = point_at(write_config(Path(tmp), url), relay.port)
        db = Database(settings.database_url)
        launch_smb(db, settings, emails, Path(tmp))
        _crash(settings, relay, signal.SIGKILL, int(count * share))
        killed_after = len(relay.arrived())
        recovery = tick(db, settings, DAY1 + timedelta(minutes=2))  # the dead lease expired
        moment = _tick_until_done(db, settings, DAY1 + timedelta(minutes=3))
        uncertain = states(db)[MessageState.UNCERTAIN]
        recorded = _emails_in(db, MessageState.SENT)
        retry_uncertain(db, moment)
        _tick_until_done(db, settings, moment + timedelta(minutes=1))
        arrived = relay.arrived()
        db.dispose()
    return [
        "SQLite" if database == "sqlite" else "PostgreSQL",
        f"{killed_after} of {count}",
        uncertain,
        f"<= {settings.smtp.concurrency + AHEAD}",
        recovery.counts["released"],
        sum(1 for e in recorded if arrived[e] > 1),
        sum(n - 1 for n in arrived.values()),
        sum(1 for e in emails if e not in arrived),
    ]


def _emails_in(db: Database, state: str) -> set[str]:
    from sqlmodel import select

    from campaign_engine.store.models import Contact, Message

    with db.session() as session:
        query = select(Contact.email).join(Message).where(Message.state == state)
        return set(session.exec(query).all())


def _crash(settings: Settings, relay: FaultRelay, sig: signal.Signals, count: int) -> None:
    process = subprocess.Popen(
        [CAMPAIGN, "tick", "--now", DAY1.isoformat()],
        env={**os.environ, "CAMPAIGN_CONFIG": str(settings.config_path)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while len(relay.received) < count and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.02)
    process.send_signal(sig)
    process.wait(timeout=120)


def _row(scenario: Scenario, db: Database, relay: FaultRelay, emails: list[str]) -> list[object]:
    arrived = relay.arrived()
    final = states(db)
    with db.session() as session:
        from sqlmodel import select

        from campaign_engine.store.models import Contact, Message

        by_contact = dict(session.exec(select(Contact.email, Message.state).join(Message)).all())
    expected_bounce = {e for e, r in relay.rcpt_replies.items() if r.startswith("550 5.1")}
    expected_fail = {e for e, r in relay.rcpt_replies.items() if r.startswith("550 5.7")}
    settled = {MessageState.UNCERTAIN}
    lost = [
        e
        for e in emails
        if e not in arrived
        and e not in expected_bounce | expected_fail
        and by_contact.get(e) not in settled
    ]
    return [
        scenario.name,
        len(arrived),
        sum(n - 1 for n in arrived.values()),
        len(lost),
        len(suppressed(db) - expected_bounce),
        final[MessageState.UNCERTAIN],
    ]


PACING_HEADER = [
    "provider",
    "max/h",
    "tried in 10 min",
    "rate at 10 min (/h)",
    "slowdowns",
    "all in after (min)",
    "delivered",
    "duplicates",
    "lost",
]
DEFER_MINUTES = 10
PACING = """
[pacing]
lookup_mx = false
mx = { "gworks.example" = "aspmx.l.google.com", "msco.example" = "msco.mail.protection.outlook.com" }
"""


def pacing_rows(count: int) -> list[list[object]]:
    """Half the contacts on a Google domain, half on a Microsoft one ([pacing] mx); for the first
    DEFER_MINUTES the relay defers every other Google recipient (421 4.7.28), then heals. The
    engine ticks every simulated minute at the default limits (3,600 an hour each) until every
    message arrived: Google's rate must back off, Microsoft's mail go at its full rate, and
    everyone arrive exactly once."""
    google = [f"g{i}@gworks.example" for i in range(count // 2)]
    microsoft = [f"m{i}@msco.example" for i in range(count - count // 2)]
    groups = {"google": google, "microsoft": microsoft}
    deferred = dict.fromkeys(google[::2], "421 4.7.28 unusual rate of unsolicited mail")
    with tempfile.TemporaryDirectory() as tmp, fault_relay(rcpt_replies=deferred) as relay:
        settings = point_at(write_config(Path(tmp)), relay.port)
        settings.config_path.write_text(settings.config_path.read_text() + PACING)
        settings = load_settings(settings.config_path, environ={})
        db = Database(settings.database_url)
        launch_smb(db, settings, [*google, *microsoft], Path(tmp))
        done: dict[str, int] = {}
        tried: dict[str, int] = {}
        rates: dict[str, float] = {}
        for minute in range(8 * 60):  # the send window's day
            if minute == DEFER_MINUTES:
                tried = {name: sum(relay.asked[e] for e in group) for name, group in groups.items()}
                rates = {pace.provider: pace.rate for pace in paces(db)}
                relay.rcpt_replies.clear()
            tick(db, settings, DAY1 + timedelta(minutes=minute))
            arrived = relay.arrived()
            for name, group in groups.items():
                if name not in done and all(e in arrived for e in group):
                    done[name] = minute
            if len(done) == len(groups):
                break
        final = {pace.provider: pace for pace in paces(db)}
    return [
        [
            name,
            f"{settings.pacing.limit(name).max_per_hour:,.0f}",
            tried.get(name, len(group)),
            f"{rates.get(name, 0):,.0f}",
            final[name].slowdowns,
            done.get(name, "never"),
            sum(1 for e in group if arrived[e]),
            sum(arrived[e] - 1 for e in group if arrived[e] > 1),
            sum(1 for e in group if not arrived[e]),
        ]
        for name, group in groups.items()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=2000)
    parser.add_argument("--only", help="run the scenarios whose name contains this")
    parser.add_argument("--kill-step", type=int, default=4000, help="messages in the SIGKILL step")
    parser.add_argument("--postgres", default=os.environ.get("CAMPAIGN_TEST_DATABASE_URL", ""))
    args = parser.parse_args()
    header = ["scenario", "delivered", "duplicates", "lost", "wrongly suppressed", "uncertain"]
    rows = []
    for scenario in scenarios([f"p{i}@smb{i % 40}.example" for i in range(args.contacts)]):
        if args.only and args.only not in scenario.name:
            continue
        rows.append(run(scenario, args.contacts))
        print(" | ".join(str(c) for c in rows[-1]), flush=True, file=sys.stderr)
    if rows:
        _print_table(header, rows)
    bad = [r for r in rows if r[2] or r[3] or r[4]]
    if not args.only or args.only in "pacing":
        paced = pacing_rows(args.contacts)
        print(f"\nGoogle defers every other recipient (421 4.7.28) for {DEFER_MINUTES} min")
        _print_table(PACING_HEADER, paced)
        google, microsoft = paced
        bad += [r for r in paced if r[7] or r[8]]
        bad += [microsoft] if microsoft[4] or google[4] == 0 else []
    if not args.only or args.only in "8% bad addresses":
        braked = brakes_row(args.contacts)
        print("\nA list with 8% bad addresses: the automatic brakes")
        _print_table(BRAKES_HEADER, [braked])
        sends, window = int(str(braked[1]).split()[0]), int(str(braked[2]).removeprefix("<= "))
        if sends > window or braked[3] != 1 or braked[4] or braked[6] or braked[7]:
            bad.append(braked)
    if not args.only or args.only in "SIGKILL bound":
        kills = []
        for database in ("sqlite", *([args.postgres] if args.postgres else [])):
            for share in (0.1, 0.45, 0.8):
                kills.append(kill_row(database, args.kill_step, share))
                print(" | ".join(str(c) for c in kills[-1]), flush=True, file=sys.stderr)
        print(f"\nSIGKILL in one {args.kill_step:,}-message step, then retry --uncertain")
        _print_table(KILL_HEADER, kills)
        bound = int(str(kills[0][3]).removeprefix("<= ")) if kills else 0
        bad += [r for r in kills if int(str(r[2])) > bound or r[5] or r[7]]
    sys.exit(1 if bad else 0)


def _print_table(header: list[str], rows: list[list[object]]) -> None:
    lines: list[list[object]] = [list(header), *rows]
    widths = [max(len(str(r[i])) for r in lines) for i in range(len(header))]
    rule: list[object] = ["-" * w for w in widths]
    for line in [lines[0], rule, *lines[1:]]:
        print(" | ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)))


if __name__ == "__main__":
    main()
