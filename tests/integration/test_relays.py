"""Several relays ([[smtp.relays]]): mail spread by weight, a failed relay's mail sent by the
others with nothing lost, doubled or counted as an attempt, and each relay's domains honoured.

Two real fault relays (tests/faultrelay.py) stand for two providers.
"""

from __future__ import annotations

import dataclasses
import html
import re
from collections import Counter
from datetime import timedelta
from pathlib import Path

from sqlmodel import select

from campaign_engine.core.config import Settings, load_settings
from campaign_engine.core.kinds import MessageState
from campaign_engine.store.db import Database
from campaign_engine.store.models import Message
from campaign_engine.web.app import create_app
from campaign_engine.web.users import add_user
from tests.conftest import free_port
from tests.delivery_setup import (
    DAY1,
    launch_smb,
    queue_rep_alert,
    states,
    suppressed,
    with_relays,
)
from tests.faultrelay import fault_relay
from tests.helpers import campaign_cli, tick
from tests.web import Clock, serving
from tests.webapp_fixtures import OPS, PASSWORD, WebApp

EMAILS = [f"c{i}@smb.example" for i in range(8)]
NOW = DAY1.isoformat()


def attempts(db: Database) -> Counter[int]:
    with db.session() as session:
        return Counter(m.attempts for m in session.exec(select(Message)).all())


def relay_status(settings: Settings) -> list[str]:
    return campaign_cli(settings, "relay", "status", "--now", NOW).stdout.splitlines()


def test_mail_is_spread_over_the_relays_by_weight(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    with fault_relay() as big, fault_relay() as small:
        settings = with_relays(
            settings, big={"port": big.port, "weight": 3}, small={"port": small.port}
        )
        launch_smb(db, settings, EMAILS, tmp_path)
        tick(db, settings, DAY1)

        assert (len(big.received), len(small.received)) == (6, 2)
        assert sorted([*big.arrived(), *small.arrived()]) == sorted(EMAILS)
        lines = [
            "relay big (weight 3): 75% of the last 24 h's sends (6): sending",
            "relay small (weight 1): 25% of the last 24 h's sends (2): sending",
        ]
        assert relay_status(settings) == ["sending is not paused", *lines]

        add_user(db, OPS, "ops", PASSWORD, DAY1)
        plain = dataclasses.replace(settings, tracking_base_url="http://track.example.test")
        with serving(create_app(plain, db, clock=Clock(DAY1))) as url:  # cookie over http
            web = WebApp(url, Clock(DAY1), plain, db)
            with web.login(OPS) as client:
                page = client.get("/app/campaigns").text
        shown = re.findall(r"<li data-relay=[^>]*>([^<]*)</li>", page)
        assert [html.unescape(" ".join(li.split())) for li in shown] == lines


def test_a_relay_that_refuses_connections_sends_nothing_and_the_other_sends_all(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    with fault_relay() as up:
        settings = with_relays(settings, down={"port": free_port()}, up={"port": up.port})
        launch_smb(db, settings, EMAILS, tmp_path)
        tick(db, settings, DAY1)

        assert sorted(up.arrived()) == sorted(EMAILS) and set(up.arrived().values()) == {1}
        assert states(db) == {MessageState.SENT: len(EMAILS)}
        assert attempts(db) == {1: len(EMAILS)}  # the failed relay cost nobody an attempt
        assert suppressed(db) == set()
        lines = relay_status(settings)
        assert lines[0] == "sending is not paused"
        assert lines[1].startswith(
            "relay down (weight 1): 0% of the last 24 h's sends (0): paused since 09:00:"
            " relay unreachable ("
        )
        assert lines[2] == "relay up (weight 1): 100% of the last 24 h's sends (8): sending"
        status = campaign_cli(settings, "status", "--now", NOW).stdout.splitlines()
        assert status[:2] == lines[1:]  # no pause line: sending goes on through `up`

        doctor = " ".join(campaign_cli(settings, "doctor").stdout.split())
        assert "error smtp down: connect: relay unreachable (" in doctor  # a session per relay
        assert "ok smtp up: connect 127.0.0.1:" in doctor and "ok smtp up: QUIT: 221" in doctor


def test_a_wrong_password_on_one_relay_costs_one_login_and_nothing_else(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    with fault_relay(username="ops", password="right") as locked, fault_relay() as open_:
        settings = with_relays(
            settings,
            locked={"port": locked.port, "username": "ops", "password": "wrong", "weight": 5},
            open={"port": open_.port},
        )
        launch_smb(db, settings, EMAILS, tmp_path)
        tick(db, settings, DAY1)
        queue_rep_alert(db)  # mail for a rep, later: the locked relay is still paused
        tick(db, settings, DAY1 + timedelta(minutes=30))

        assert locked.received == [] and locked.logins == {"failed": 1}
        assert sorted(open_.arrived()) == sorted([*EMAILS, "rep@gitlab-demo.example"])
        assert set(open_.arrived().values()) == {1}
        assert attempts(db) == {1: len(EMAILS)}
        assert "run `campaign relay resume locked` once fixed" in relay_status(settings)[1]
        doctor = " ".join(campaign_cli(settings, "doctor").stdout.split())
        assert "error smtp locked: auth: relay rejected login (535" in doctor
        assert "ok smtp open: QUIT: 221" in doctor
        assert (  # doctor runs now, years after these sends: their share is of the last day
            "warning relay locked: 0% of the last 24 h's sends (0): paused since 2021-04-27 09:00:"
            " relay rejected login (535"
        ) in doctor

        resumed = campaign_cli(settings, "relay", "resume", "locked", "--now", NOW)
        assert resumed.stdout.startswith("resumed: relay locked: paused since 09:00: relay")
        assert campaign_cli(settings, "relay", "resume", "nope").returncode != 0


def test_with_every_relay_down_sending_pauses_with_one_line_and_a_fixed_one_sends_all(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    with (
        fault_relay(username="ops", password="right") as first,
        fault_relay(greeting="421 4.3.2 try later") as second,
    ):
        wrong = {"port": first.port, "username": "ops", "password": "wrong"}
        down = with_relays(settings, first=wrong, second={"port": second.port})
        launch_smb(db, down, EMAILS, tmp_path)
        tick(db, down, DAY1)
        tick(db, down, DAY1 + timedelta(minutes=5))

        assert first.received == second.received == []
        assert states(db) == {MessageState.QUEUED: len(EMAILS)}
        assert attempts(db) == {0: len(EMAILS)}
        line = relay_status(down)[0]
        assert line.startswith(
            "sending paused since 09:00: every relay is paused: first relay rejected login (535"
        )
        assert (
            ", second relay unreachable (421 4.3.2 try later); see `campaign relay status`" in line
        )
        assert campaign_cli(down, "status", "--now", NOW).stdout.splitlines()[0] == line
        first_line = next(s for s in relay_status(down) if s.startswith("relay first"))
        assert first_line.endswith(
            'check the [[smtp.relays]] entry "first": username and password'
            " (CAMPAIGN_SMTP_RELAYS_FIRST_PASSWORD), or run `campaign relay resume first` once"
            " fixed"
        ), first_line

        fixed = with_relays(
            settings, first={**wrong, "password": "right"}, second={"port": second.port}
        )  # a changed password lifts that relay's pause
        tick(db, fixed, DAY1 + timedelta(minutes=10))
        assert sorted(first.arrived()) == sorted(EMAILS) and second.received == []
        assert states(db) == {MessageState.SENT: len(EMAILS)}


def test_a_relay_carries_only_its_domains(settings: Settings, db: Database, tmp_path: Path) -> None:
    with fault_relay() as ours, fault_relay() as theirs:
        settings = with_relays(
            settings,
            theirs={"port": theirs.port, "weight": 9, "domains": ["other.example"]},
            ours={"port": ours.port, "domains": ["GitLab-Demo.example"]},
        )
        launch_smb(db, settings, EMAILS, tmp_path)
        tick(db, settings, DAY1)
        assert sorted(ours.arrived()) == sorted(EMAILS) and theirs.received == []


def test_mail_waits_when_the_only_relay_for_its_domain_is_down(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    with fault_relay(greeting="421 4.3.2 try later") as ours, fault_relay() as theirs:
        settings = with_relays(
            settings,
            ours={"port": ours.port, "domains": ["gitlab-demo.example"]},
            theirs={"port": theirs.port, "domains": ["other.example"]},
        )
        launch_smb(db, settings, EMAILS, tmp_path)
        connections = ours.connections
        tick(db, settings, DAY1)

        assert theirs.received == [] and ours.connections == connections + 1
        assert states(db) == {MessageState.QUEUED: len(EMAILS)}
        assert attempts(db) == {0: len(EMAILS)}
        ours.greeting = ""
        tick(db, settings, DAY1 + timedelta(minutes=5))
        assert sorted(ours.arrived()) == sorted(EMAILS)


def test_a_message_moved_to_another_relay_holds_one_provider_connection(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    """Per-provider pacing counts a moved message once: with one connection for the provider,
    the move neither waits on its own first try nor lets two go at once."""
    with fault_relay() as up:
        settings = with_relays(settings, down={"port": free_port()}, up={"port": up.port})
        settings.config_path.write_text(
            settings.config_path.read_text()
            + '\n[pacing]\nlookup_mx = false\nmx = { "smb.example" = "aspmx.l.google.com" }\n'
            + "\n[pacing.google]\nmax_per_hour = 3600\nmax_connections = 1\n"
        )
        settings = load_settings(settings.config_path, environ={})
        launch_smb(db, settings, EMAILS, tmp_path)
        tick(db, settings, DAY1)
        assert sorted(up.arrived()) == sorted(EMAILS) and set(up.arrived().values()) == {1}
        assert attempts(db) == {1: len(EMAILS)}
