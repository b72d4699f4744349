"""Inbound mail acts only on proof: forged reports are held for a person, who applies or
dismisses them (`campaign inbox review`); a flood from one domain cannot suppress a list."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from campaign_engine.core.config import Settings, load_settings
from campaign_engine.reps.drafts import list_drafts
from campaign_engine.store.db import Database
from campaign_engine.store.inbound_tables import InboundReview
from campaign_engine.store.models import Contact, Enrollment, Suppression
from tests.helpers import campaign_cli, tick
from tests.inbound_expect import EMAIL_1, READ_AT, kinds_recorded
from tests.inbound_fixtures import (
    TOMAS,
    inbound_settings_fixture,  # noqa: F401  (fixture)
    launched_fixture,  # noqa: F401  (fixture)
)
from tests.inbound_mail import DATA, fill, fill_text


def read(db: Database, settings: Settings, *names: str) -> str:
    """`campaign inbox import` of fixture files (filled in), its stdout on one line."""
    paths = []
    for name in names:
        path = settings.config_path.parent / name
        path.write_bytes(fill(db, name))
        paths.append(str(path))
    result = campaign_cli(settings, "inbox", "import", *paths, "--now", READ_AT.isoformat())
    assert result.returncode == 0, result.stdout + result.stderr
    return " ".join(result.stdout.split())


def suppressed(db: Database) -> dict[str, str]:
    with db.session() as session:
        return dict(session.exec(select(Suppression.email, Suppression.reason)).all())


def stopped(db: Database, email: str) -> list[str | None]:
    with db.session() as session:
        contact = session.exec(select(Contact).where(Contact.email == email)).one()
        rows = session.exec(select(Enrollment).where(Enrollment.contact_id == contact.id))
        return [e.stop_reason for e in rows if e.status == "stopped"]


def review(settings: Settings, *args: str) -> str:
    now = ["--now", READ_AT.isoformat()] if args[0] != "list" else []
    result = campaign_cli(settings, "inbox", "review", *args, *now)
    assert result.returncode == 0, result.stdout + result.stderr
    return " ".join(result.stdout.split())


def test_a_forged_complaint_naming_a_victim_and_a_foreign_message_id_changes_nobody(
    launched: str, db: Database, inbound_settings: Settings
) -> None:
    tick(db, inbound_settings, EMAIL_1)
    output = read(db, inbound_settings, "forged-arf-victim.eml")
    assert (
        "forged-arf-victim.eml: unmatched: complaint about ada@tiny.example held for review #1:"
        " it names no message we sent (no signed tag, no Message-ID of ours)"
    ) in output
    assert suppressed(db) == {}
    assert stopped(db, "ada@tiny.example") == []
    listed = review(inbound_settings, "list")
    assert "complaint" in listed and "ada@tiny.example" in listed
    assert "abuse@attacker.example" in listed and "Abuse report" in listed


def test_a_delivery_report_to_the_plain_bounce_address_naming_a_contact_changes_nobody(
    launched: str, db: Database, inbound_settings: Settings
) -> None:
    tick(db, inbound_settings, EMAIL_1)
    output = read(db, inbound_settings, "forged-dsn-plain.eml")
    assert "forged-dsn-plain.eml: unmatched: bounce about grace@tiny.example held for review" in (
        output
    )
    assert suppressed(db) == {}
    assert stopped(db, "grace@tiny.example") == []


def test_a_report_on_our_message_naming_another_recipient_changes_nobody(
    launched: str, db: Database, inbound_settings: Settings
) -> None:
    tick(db, inbound_settings, EMAIL_1)
    output = read(db, inbound_settings, "arf-wrong-recipient.eml")
    assert (
        "unmatched: complaint held for review #1: it names grace@tiny.example, but the message it"
        " refers to (email 1) was sent to ada@tiny.example"
    ) in output
    assert suppressed(db) == {}
    assert stopped(db, "ada@tiny.example") == stopped(db, "grace@tiny.example") == []


def test_a_person_applies_or_dismisses_held_mail_and_who_and_when_are_recorded(
    launched: str, db: Database, inbound_settings: Settings
) -> None:
    tick(db, inbound_settings, EMAIL_1)
    read(db, inbound_settings, "forged-arf-victim.eml", "forged-dsn-plain.eml", "forged-tag.eml")
    listed = review(inbound_settings, "list")
    assert "Held for review (3 open)" in listed
    assert "a reply that names nothing we sent" in listed  # forged-tag.eml: a person's reply

    assert review(inbound_settings, "dismiss", "1", "--by", "olga") == (
        "review #1 dismissed: nothing changed"
    )
    applied = review(inbound_settings, "apply", "2", "--by", "olga")
    assert applied.startswith("review #2 applied to grace@tiny.example: bounce: 5.1.1")
    assert suppressed(db) == {"grace@tiny.example": "bounce"}
    assert stopped(db, "grace@tiny.example") == ["bounced"]
    assert stopped(db, "ada@tiny.example") == []
    # The reply names no contact: the person says whose it is.
    refused = campaign_cli(inbound_settings, "inbox", "review", "apply", "3", "--by", "olga")
    assert refused.returncode == 1
    assert "review #3 names no contact: say which one (--address EMAIL)" in refused.stderr
    applied = review(inbound_settings, "apply", "3", "--address", "pat@team.example", "--by", "sam")
    assert "review #3 applied to pat@team.example: reply: contact request" in applied
    assert stopped(db, "pat@team.example") == ["contact request"]

    again = campaign_cli(inbound_settings, "inbox", "review", "apply", "1")
    assert again.returncode == 1
    assert "review #1 was already dismissed by olga on 2021-04-28 08:00 UTC" in again.stderr
    assert "Held for review (0 open)" in review(inbound_settings, "list")
    everything = review(inbound_settings, "list", "--all")
    assert "Held for review (3, decided included)" in everything
    assert "dismissed by olga" in everything and "applied by olga" in everything
    with db.session() as session:
        decided = session.exec(select(InboundReview).order_by(InboundReview.id)).all()
    assert [(r.status, r.decided_by, r.decided_at) for r in decided] == [
        ("dismissed", "olga", READ_AT),
        ("applied", "olga", READ_AT),
        ("applied", "sam", READ_AT),
    ]
    assert kinds_recorded(db) == {"unmatched": 1, "bounce": 1, "reply": 1}


def test_a_genuine_complaint_on_a_reps_email_stops_the_rep_enrollment_too(
    launched: str, db: Database, inbound_settings: Settings
) -> None:
    with db.session() as session:
        (draft,) = [d for d in list_drafts(session, TOMAS) if d.step == 1]
    sent = campaign_cli(inbound_settings, "drafts", "send", str(draft.id), "--rep", TOMAS,
                        "--now", EMAIL_1.isoformat())  # fmt: skip
    assert sent.returncode == 0, sent.stdout + sent.stderr
    raw = (DATA / "yahoo-arf-complaint.eml").read_text(encoding="utf-8")
    path = inbound_settings.config_path.parent / "mia-complaint.eml"
    path.write_bytes(fill_text(db, raw.replace("angry@yahoo.example", "mia@midsize.example")))
    result = campaign_cli(inbound_settings, "inbox", "import", str(path))
    assert result.returncode == 0, result.stderr
    assert "complaint mia@midsize.example (email 1, matched by tag)" in result.stdout
    with db.session() as session:
        mia = session.exec(select(Contact).where(Contact.email == "mia@midsize.example")).one()
        (enrollment,) = session.exec(select(Enrollment).where(Enrollment.contact_id == mia.id))
    assert (enrollment.channel, enrollment.status, enrollment.stop_reason) == (
        "rep",
        "stopped",
        "complaint",
    )
    assert suppressed(db) == {"mia@midsize.example": "complaint"}


def test_over_the_hourly_limit_a_domains_reports_are_held(
    launched: str, db: Database, inbound_settings: Settings
) -> None:
    config = inbound_settings.config_path
    config.write_text(config.read_text() + "\n[inbox]\nreports_per_domain_hour = 2\n")
    limited = load_settings(config, environ={})
    tick(db, limited, EMAIL_1)
    folder = limited.config_path.parent
    paths = []
    for number, address in enumerate(["ada@tiny.example", "grace@tiny.example",
                                      "hans@klein.example"], start=1):  # fmt: skip
        text = (DATA / "postfix-dsn-hard.eml").read_text(encoding="utf-8")
        text = text.replace("gone@nowhere.example", address).replace("4FTq2D0xYzz", f"n{number}")
        path = folder / f"bounce-{number}.eml"
        path.write_bytes(fill_text(db, text))
        paths.append(str(path))
    result = campaign_cli(limited, "inbox", "import", *paths, "--now", READ_AT.isoformat())
    assert result.returncode == 0, result.stderr
    output = " ".join(result.stdout.split())
    assert "bounce-1.eml: bounce ada@tiny.example" in output
    assert "bounce-2.eml: bounce grace@tiny.example" in output
    assert (
        "bounce-3.eml: unmatched: bounce about hans@klein.example held for review #1: 2 reports"
        " from mx1.gitlab-demo.example changed contacts in the last hour ([inbox]"
        " reports_per_domain_hour = 2)"
    ) in output
    assert sorted(suppressed(db)) == ["ada@tiny.example", "grace@tiny.example"]
    an_hour_later = (READ_AT + timedelta(hours=1, minutes=1)).isoformat()
    applied = campaign_cli(limited, "inbox", "review", "apply", "1", "--now", an_hour_later)
    assert applied.returncode == 0, applied.stderr
    assert sorted(suppressed(db)) == ["ada@tiny.example", "grace@tiny.example",
                                      "hans@klein.example"]  # fmt: skip


def test_forgetting_a_person_deletes_the_held_mail_about_them(
    launched: str, db: Database, inbound_settings: Settings
) -> None:
    read(db, inbound_settings, "forged-arf-victim.eml", "forged-dsn-plain.eml")
    forget = campaign_cli(inbound_settings, "contacts", "forget", "ada@tiny.example", "--yes")
    assert forget.returncode == 0, forget.stderr
    with db.session() as session:
        assert [r.address for r in session.exec(select(InboundReview))] == ["grace@tiny.example"]
