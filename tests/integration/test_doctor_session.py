"""`campaign doctor` walks the whole envelope a send walks (EHLO, STARTTLS, AUTH, MAIL FROM the
real envelope sender, RCPT TO a probe address, RSET, QUIT) against a relay with Postfix's
restrictions, shows each reply as the relay gave it, sends nothing, and names the fix; the
first tick with the same settings pauses with the same reason."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from campaign_engine.core.config import Settings
from campaign_engine.core.kinds import MessageState
from campaign_engine.engine.doctor import Check, smtp_session
from campaign_engine.sending.relay_state import current_pause, describe_pause
from campaign_engine.store.db import Database
from tests.delivery_setup import DAY1, launch_smb, point_at, states
from tests.faultrelay import fault_relay
from tests.helpers import campaign_cli, tick
from tests.tls_certs import private_ca_relay

SENDER = "marketing@gitlab-demo.example"


def walk(settings: Settings) -> list[Check]:
    return asyncio.run(smtp_session(settings, "gitlab-demo.example"))


def details(checks: list[Check], level: str) -> list[str]:
    return [check.detail for check in checks if check.level == level]


def test_a_relay_that_takes_us_shows_every_step_and_gets_no_message(settings: Settings) -> None:
    with fault_relay(username="ops", password="right") as relay:
        settings = point_at(settings, relay.port, username="ops", password="right",
                            probe_rcpt="probe@smb.example")  # fmt: skip
        checks = walk(settings)
        assert relay.received == [] and relay.logins["ok"] == 1
    assert details(checks, "error") == [] and details(checks, "warning") == []
    steps = details(checks, "ok")
    assert re.fullmatch(rf"connect 127\.0\.0\.1:{relay.port}: 220 .+", steps[0]), steps
    assert re.fullmatch(r"EHLO \S+: 250 .*AUTH LOGIN PLAIN.*", steps[1]), steps
    assert steps[2:] == [
        "AUTH PLAIN as ops: 235 2.7.0 Authentication successful",
        f"MAIL FROM:<{SENDER}>: 250 OK",
        "RCPT TO:<probe@smb.example>: 250 OK",
        "RSET: 250 OK",
        "QUIT: 221 Bye",
    ]


def test_the_real_envelope_sender_is_the_verp_bounce_address(settings: Settings) -> None:
    text = settings.config_path.read_text()
    settings.config_path.write_text(
        text.replace("from = ", 'bounce_address = "bounces@gitlab-demo.example"\nfrom = ', 1)
    )
    with fault_relay() as relay:
        steps = details(walk(point_at(settings, relay.port)), "ok")
    mail_from = next(step for step in steps if step.startswith("MAIL FROM"))
    assert re.fullmatch(r"MAIL FROM:<bounces\+[\w.-]+@gitlab-demo\.example>: 250 OK", mail_from)
    assert f"RCPT TO:<{SENDER}>: 250 OK" in steps  # probe_rcpt defaults to the From address


def test_a_helo_name_refused_at_rcpt_is_found_before_the_first_tick(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    with fault_relay(helo_fqdn=True) as relay:
        localhost = point_at(settings, relay.port, ehlo_name="localhost")
        checks = walk(localhost)
        assert "EHLO localhost: 250" in " ".join(details(checks, "ok"))  # EHLO itself passes
        assert details(checks, "error") == [
            "rcpt: relay refused our EHLO name (504 5.5.2 <localhost>: Helo command rejected:"
            " need fully-qualified hostname); set [smtp] ehlo_name to this host's public name"
            " (a FQDN)"
        ]
        doctor = campaign_cli(localhost, "doctor")
        assert doctor.returncode == 1
        assert "error smtp: rcpt: relay refused our EHLO name" in " ".join(doctor.stdout.split())

        launch_smb(db, localhost, ["a@smb.example", "b@smb.example"], tmp_path)
        tick(db, localhost, DAY1)
        line = describe_pause(current_pause(db), localhost, DAY1)
        assert "relay refused our EHLO name (504 5.5.2" in line and "set [smtp] ehlo_name" in line

        named = point_at(settings, relay.port, ehlo_name="mail.gitlab-demo.example")
        assert details(walk(named), "error") == []
        tick(db, named, DAY1.replace(hour=10))
        assert sorted(relay.arrived()) == ["a@smb.example", "b@smb.example"]
        assert relay.received and states(db) == {MessageState.SENT: 2}


def test_auth_offered_only_after_starttls_is_reported_as_that_with_its_fix(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    ca_file, certificate = private_ca_relay(tmp_path)
    with fault_relay(
        tls=certificate, username="ops", password="right", auth_after_tls=True
    ) as relay:
        plain = point_at(settings, relay.port, username="ops", password="right",
                         ca_file=str(ca_file), starttls=False)  # fmt: skip
        (error,) = details(walk(plain), "error")
        assert error.startswith("auth: the relay offers AUTH only after STARTTLS (its EHLO reply:")
        assert "STARTTLS" in error and error.endswith("; set [smtp] starttls = true"), error
        assert "530" not in error and "rejected login" not in error
        assert relay.logins == {}  # no login was ever tried

        launch_smb(db, plain, ["a@smb.example"], tmp_path)
        tick(db, plain, DAY1)
        line = describe_pause(current_pause(db), plain, DAY1)
        assert "the relay offers AUTH only after STARTTLS" in line and "530" not in line, line

        secured = point_at(settings, relay.port, username="ops", password="right",
                           ca_file=str(ca_file), starttls=True)  # fmt: skip
        checks = walk(secured)
        assert details(checks, "error") == [], checks
        assert "STARTTLS: 220 Ready to start TLS; certificate checked" in details(checks, "ok")
        tick(db, secured, DAY1.replace(hour=10))  # the changed config lifts the pause
        assert list(relay.arrived()) == ["a@smb.example"]


def test_a_relay_that_refuses_to_relay_without_a_login_is_named(settings: Settings) -> None:
    with fault_relay(username="ops", password="right", relay_after_auth=True) as relay:
        checks = walk(point_at(settings, relay.port))
        assert f"MAIL FROM:<{SENDER}>: 250 OK" in details(checks, "ok")
        assert details(checks, "error") == [
            "rcpt: the relay refuses to relay for us (554 5.7.1 <localhost[127.0.0.1]>: Client"
            " host rejected: Access denied); check [smtp] username and password"
            " (CAMPAIGN_SMTP_PASSWORD)"
        ]
        wrong = walk(point_at(settings, relay.port, username="ops", password="wrong"))
        assert details(wrong, "error")[0].startswith("auth: relay rejected login (535 5.7.8")


def test_a_refused_sender_or_probe_address_says_which(settings: Settings) -> None:
    with fault_relay(mail_reply="553 5.7.1 sender not authorised") as relay:
        sender_refused = details(walk(point_at(settings, relay.port)), "error")
        assert sender_refused == [
            "mail: relay rejected our sender (MAIL FROM) (553 5.7.1 sender not authorised)"
        ]
    with fault_relay(rcpt_replies={SENDER: "550 5.1.1 no such user"}) as relay:
        checks = walk(point_at(settings, relay.port))
        assert details(checks, "error") == []
        assert details(checks, "warning") == [
            f"RCPT TO:<{SENDER}>: 550 5.1.1 no such user: the relay refused this address, not"
            " our session; set [smtp] probe_rcpt to an address it delivers to"
        ]
