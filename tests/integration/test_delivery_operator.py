"""What the operator sees and does after delivery faults: the pause line, failed reasons,
`messages retry|skip --failed`, `relay resume`, `contacts resume`; one bad message fails alone."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
from sqlmodel import select

from campaign_engine.core.config import Settings
from campaign_engine.core.kinds import EnrollmentStatus, MessageState
from campaign_engine.store.db import Database
from campaign_engine.store.models import Contact, Enrollment
from campaign_engine.web.app import create_app
from tests.delivery_setup import DAY1, launch_smb, point_at, state_of, states, suppressed
from tests.faultrelay import FaultRelay, fault_relay
from tests.helpers import campaign_cli, tick
from tests.web import serving

LATER = (DAY1 + timedelta(hours=1)).isoformat()


def paused_by_a_wrong_password(
    settings: Settings, db: Database, tmp_path: Path, relay: FaultRelay
) -> Settings:
    """One contact launched, and a tick with a wrong password: a lasting pause since 09:00."""
    wrong = point_at(settings, relay.port, username="ops", password="wrong")
    launch_smb(db, wrong, ["a@smb.example"], tmp_path)
    tick(db, wrong, DAY1)
    return wrong


def test_a_paused_relay_is_one_line_in_status_and_doctor_and_resume_lifts_it(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    with fault_relay(username="ops", password="right") as relay:
        wrong = paused_by_a_wrong_password(settings, db, tmp_path, relay)
        status = campaign_cli(wrong, "status")
        assert status.stdout.splitlines()[0].startswith(  # another day: with the date
            "sending paused since 2021-04-27 09:00: relay rejected login (535 5.7.8"
        )
        doctor = campaign_cli(wrong, "doctor")
        assert doctor.returncode == 1
        assert "error smtp: auth: relay rejected login (535 5.7.8" in " ".join(
            doctor.stdout.split()
        )
        assert "error relay: sending paused since" in " ".join(doctor.stdout.split())
        assert relay.received == []

        resumed = campaign_cli(wrong, "relay", "resume", "--now", LATER)
        assert resumed.stdout.startswith(
            "resumed: sending paused since 09:00: relay rejected login"
        )
        assert campaign_cli(wrong, "relay", "status").stdout.strip() == "sending is not paused"


def what_each_reader_says(settings: Settings, db: Database) -> dict[str, str]:
    """The pause as `relay status`, `status`, `doctor` and /healthz show it."""
    doctor = " ".join(campaign_cli(settings, "doctor").stdout.split())
    with serving(create_app(settings, db)) as base:
        health = httpx.get(base + "/healthz", timeout=10)
    return {
        "relay status": campaign_cli(settings, "relay", "status").stdout.strip(),
        "status": campaign_cli(settings, "status").stdout.splitlines()[0],
        "doctor": doctor[doctor.find("relay: ") :] if "error relay: " in doctor else "no pause",
        "healthz": f"{health.status_code} {health.json()['relay']}",
    }


def test_a_fixed_config_lifts_a_lasting_pause_for_every_reader_and_the_tick(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    with fault_relay(username="ops", password="right") as relay:
        wrong = paused_by_a_wrong_password(settings, db, tmp_path, relay)
        paused = what_each_reader_says(wrong, db)
        assert paused["relay status"].startswith("sending paused since 2021-04-27 09:00: relay")
        assert paused["status"] == paused["relay status"]
        assert paused["doctor"].startswith(f"relay: {paused['relay status']}")
        assert paused["healthz"] == f"503 {paused['relay status']}"

        fixed = point_at(settings, relay.port, username="ops", password="right")  # no resume
        lifted = what_each_reader_says(fixed, db)
        assert lifted["relay status"] == (
            "sending is not paused: the [smtp] settings changed since the pause of 2021-04-27"
            " 09:00 (relay rejected login); the next tick tries the relay"
        )
        assert "paused" not in lifted["status"]
        assert lifted["doctor"] == "no pause"
        assert lifted["healthz"] == "200 sending"
        tick(db, fixed, DAY1 + timedelta(hours=1))
        assert list(relay.arrived()) == ["a@smb.example"]
        assert campaign_cli(fixed, "relay", "status").stdout.strip() == "sending is not paused"


def test_failed_messages_are_counted_by_reason_then_retried_or_skipped(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    spam, other = "spam@smb.example", "other@smb.example"
    refused = "550 5.7.1 message refused as spam"
    with fault_relay(rcpt_replies={spam: refused, other: refused}) as relay:
        settings = point_at(settings, relay.port)
        launch_smb(db, settings, [spam, other], tmp_path)
        tick(db, settings, DAY1)
        assert "2 (2 refused 5.7.1)" in campaign_cli(settings, "status").stdout

        relay.rcpt_replies.pop(spam)
        done = campaign_cli(
            settings, "messages", "retry", "--failed", "--step", "1", "--now", LATER
        )
        assert done.stdout.startswith("2 failed message(s) queued again")
        relay.rcpt_replies[other] = refused
        tick(db, settings, DAY1 + timedelta(hours=1))
        assert sorted(relay.arrived()) == [spam]

        skipped = campaign_cli(settings, "messages", "skip", "--failed", "--now", LATER)
        assert skipped.stdout.startswith("1 failed message(s) skipped")
        assert state_of(db, other).skip_reason == "given up by the operator"
        with db.session() as session:
            enrollment = session.exec(
                select(Enrollment).join(Contact).where(Contact.email == other)
            ).one()
        assert enrollment.next_due_at is not None  # moves on to email 2
        assert suppressed(db) == set()


def test_a_lifted_bounce_can_resume_the_contact_at_the_step_that_bounced(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    email = "back@smb.example"
    with fault_relay(rcpt_replies={email: "550 5.1.1 no such mailbox"}) as relay:
        settings = point_at(settings, relay.port)
        launch_smb(db, settings, [email], tmp_path)
        tick(db, settings, DAY1)
        assert suppressed(db) == {email}
        refused = campaign_cli(settings, "contacts", "resume", email)
        assert "still suppressed (bounce): `campaign suppress remove` first" in refused.stdout

        relay.rcpt_replies.clear()
        campaign_cli(settings, "suppress", "remove", email)
        done = campaign_cli(settings, "contacts", "resume", email, "--now", LATER)
        assert done.stdout.strip() == f"{email}: resumed in 1 campaign(s)"
        tick(db, settings, DAY1 + timedelta(hours=1))
        assert relay.arrived() == {email: 1}
        assert state_of(db, email).state == MessageState.SENT


def test_one_message_that_cannot_be_built_fails_alone(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    emails = [f"m{i}@smb.example" for i in range(5)]
    with fault_relay() as relay:
        settings = point_at(settings, relay.port)
        launch_smb(db, settings, emails, tmp_path)
        with db.session() as session:
            contact = session.exec(select(Contact).where(Contact.email == emails[2])).one()
            contact.email = "jö..sé@smb.example"  # written around the import's checks
            session.add(contact)
        tick(db, settings, DAY1)
        assert sorted(relay.arrived()) == sorted(set(emails) - {emails[2]})
        broken = state_of(db, "jö..sé@smb.example")
        assert broken.state == MessageState.FAILED
        assert (broken.error or "").startswith("could not build the message: address")
        assert states(db) == {MessageState.SENT: 4, MessageState.FAILED: 1}
        with db.session() as session:
            statuses = set(session.exec(select(Enrollment.status)).all())
        assert statuses == {EnrollmentStatus.ACTIVE}
