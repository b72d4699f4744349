"""Compliance through the real `campaign` command: global suppression that survives re-imports,
consent records, export and forget, and erased people never mailed again."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

from sqlmodel import col, select

from campaign_engine.core.config import Settings
from campaign_engine.core.kinds import MessageState
from campaign_engine.engine.launch import launch
from campaign_engine.store.compliance_tables import ConsentRecord, HashedSuppression, email_hash
from campaign_engine.store.db import Database
from campaign_engine.store.models import Contact, Event, Message, Suppression
from tests.conftest import SmtpSink
from tests.helpers import HEADER, import_with_reps, tick, write_csv

CAMPAIGN = str(Path(sys.executable).parent / "campaign")
REP = "dana.reyes@gitlab-demo.example"
START = date(2021, 4, 27)
HEADER_CONSENT = [*HEADER, "consent"]


def at(month: int, day: int, hour: int = 9) -> datetime:
    return datetime(2021, month, day, hour, tzinfo=UTC)


def campaign(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CAMPAIGN_CONFIG": str(settings.config_path), "COLUMNS": "200"}
    return subprocess.run([CAMPAIGN, *args], env=env, capture_output=True, text=True, check=False)


def people(tmp_path: Path, consent: dict[str, str] | None = None) -> Path:
    consent = consent or {"ada": "customer", "grace": "Opt In", "hal": ""}
    rows = [
        ["ada@tiny.example", "Ada", "Lovelace", "Software Engineer", "Tiny Co", "12", "", REP, ""],
        ["grace@tiny.example", "Grace", "Hopper", "CISO", "Tiny Co", "12", "", REP, ""],
        ["hal@tiny.example", "Hal", "Jordan", "Developer", "Tiny Co", "12", "", REP, ""],
    ]
    for row in rows:
        row.append(consent[row[0].split("@")[0]])
    return write_csv(tmp_path / "contacts.csv", rows, HEADER_CONSENT)


def recipients(smtp_sink: SmtpSink) -> list[str]:
    return sorted(m["To"].addresses[0].addr_spec for m in smtp_sink.messages)


def test_suppression_is_global_permanent_and_survives_reimport(
    settings: Settings, db: Database, tmp_path: Path, smtp_sink: SmtpSink
) -> None:
    contacts = people(tmp_path)
    import_with_reps(db, contacts, at(4, 20))
    report = write_csv(
        tmp_path / "fbl.csv",
        [["<Grace@Tiny.example>", "abuse"], ["not an address", "abuse"]],
        ["Original-Rcpt-To", "feedback_type"],
    )
    (tmp_path / "arf.csv").write_text("recipient,feedback_type\ngrace@tiny.example,abuse\n")
    done = campaign(settings, "suppress", "import", str(report))
    assert done.returncode == 1, "a rejected row is reported"
    assert "1 suppressed (complaint), 0 already, 1 rejected" in done.stdout
    assert "fbl.csv:3" in done.stderr
    done = campaign(settings, "suppress", "import", str(tmp_path / "arf.csv"))
    assert done.returncode == 0 and "0 suppressed (complaint), 1 already" in done.stdout
    done = campaign(settings, "suppress", "add", "HAL@tiny.example", "--reason", "bounce")
    assert done.returncode == 0 and "hal@tiny.example suppressed (bounce)" in done.stdout

    launch(db, settings, "premium-to-ultimate", START, at(4, 20), name="plain")
    launch(
        db,
        settings,
        "premium-to-ultimate-personas",
        START,
        at(4, 20),
        name="personas",
        allow_overlap=True,
    )
    tick(db, settings, at(4, 27))
    assert recipients(smtp_sink) == ["ada@tiny.example", "ada@tiny.example"]

    # A re-import (even one that changes the contact) never lifts a suppression.
    assert (
        import_with_reps(
            db, people(tmp_path, {"ada": "", "grace": "customer", "hal": ""}), at(5, 1)
        ).updated
        == 0
    )
    with db.session() as session:
        assert sorted(session.exec(select(Suppression.email)).all()) == [
            "grace@tiny.example",
            "hal@tiny.example",
        ]
        skipped = session.exec(
            select(Message.recipient, Message.skip_reason).where(
                Message.state == MessageState.SKIPPED
            )
        ).all()
    assert sorted(skipped) == [
        ("grace@tiny.example", "suppressed: complaint"),
        ("grace@tiny.example", "suppressed: complaint"),
        ("hal@tiny.example", "suppressed: bounce"),
        ("hal@tiny.example", "suppressed: bounce"),
    ]
    listed = campaign(settings, "suppress", "list")
    assert "grace@tiny.example" in listed.stdout and "complaint" in listed.stdout
    assert "fbl.csv" in listed.stdout, "where the opt-out came from is recorded"

    # A new campaign launched after the re-import does not mail them either.
    launch(
        db,
        settings,
        "premium-to-ultimate",
        date(2021, 5, 4),
        at(5, 1),
        name="later",
        allow_overlap=True,
    )
    tick(db, settings, at(5, 4))
    assert "grace@tiny.example" not in recipients(smtp_sink)
    assert "hal@tiny.example" not in recipients(smtp_sink)

    assert campaign(settings, "suppress", "remove", "hal@tiny.example").returncode == 0
    assert campaign(settings, "suppress", "remove", "hal@tiny.example").returncode == 1


def test_consent_basis_is_recorded_per_import_with_history(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    import_with_reps(db, people(tmp_path), at(4, 20))
    import_with_reps(db, people(tmp_path), at(4, 21))  # same file again: nothing new
    import_with_reps(
        db, people(tmp_path, {"ada": "customer", "grace": "customer", "hal": ""}), at(4, 22)
    )
    with db.session() as session:
        rows = session.exec(select(ConsentRecord).order_by(col(ConsentRecord.id))).all()
        history = [(r.email, r.basis, r.source_file, r.recorded_at) for r in rows]
    assert history == [
        ("ada@tiny.example", "customer", "contacts.csv", at(4, 20)),
        ("grace@tiny.example", "opt-in", "contacts.csv", at(4, 20)),
        ("grace@tiny.example", "customer", "contacts.csv", at(4, 22)),
    ]


def test_export_then_forget_erases_the_person_and_never_mails_them_again(
    settings: Settings, db: Database, tmp_path: Path, smtp_sink: SmtpSink
) -> None:
    import_with_reps(db, people(tmp_path), at(4, 20))
    launch(db, settings, "premium-to-ultimate", START, at(4, 20), name="first")
    tick(db, settings, at(4, 27))
    with db.session() as session:
        ada = session.exec(select(Contact).where(Contact.email == "ada@tiny.example")).one()
        message = session.exec(select(Message).where(Message.contact_id == ada.id)).one()
        session.add(
            Event(
                kind="contact_request",
                message_id=message.id,
                contact_id=ada.id,
                user_agent="Mozilla/5.0",
                ip_prefix="203.0.113.0/24",
                note="Call me on Thursday",
                occurred_at=at(4, 27, 11),
            )
        )

    done = campaign(settings, "contacts", "export", "Ada@Tiny.example")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["contact"]["first_name"] == "Ada"
    assert data["account"]["name"] == "Tiny Co"
    assert data["rep"]["email"] == REP
    assert [c["basis"] for c in data["consent"]] == ["customer"]
    assert len(data["enrollments"]) == 1
    assert data["messages"][0]["recipient"] == "ada@tiny.example"
    assert data["messages"][0]["subject"] == "Interested in speed and security?"
    assert data["events"][0]["note"] == "Call me on Thursday"
    assert data["suppression"] is None

    done = campaign(settings, "contacts", "forget", "ada@tiny.example", "--yes")
    assert done.returncode == 0, done.stderr
    assert "hashed suppression kept" in done.stdout
    with db.session() as session:
        erased = session.get(Contact, ada.id)
        assert erased is not None and "ada" not in erased.email
        assert (erased.first_name, erased.last_name, erased.title) == ("", "", "")
        message = session.exec(select(Message).where(Message.contact_id == ada.id)).one()
        assert (message.recipient, message.subject) == ("", "")
        event = session.exec(select(Event).where(Event.contact_id == ada.id)).one()
        assert (event.user_agent, event.ip_prefix, event.note) == (None, None, None)
        assert (
            session.exec(
                select(ConsentRecord).where(ConsentRecord.email == "ada@tiny.example")
            ).all()
            == []
        )
        hashed = session.exec(select(HashedSuppression)).one()
        assert hashed.email_hash == email_hash("ada@tiny.example")
    data = json.loads(campaign(settings, "contacts", "export", "ada@tiny.example").stdout)
    assert data["contact"] is None and data["hashed_suppression"]["reason"] == "forgotten"

    # Imported again from an old list, she is still never mailed.
    import_with_reps(db, people(tmp_path), at(5, 1))
    launch(
        db,
        settings,
        "premium-to-ultimate-personas",
        date(2021, 5, 4),
        at(5, 1),
        name="next",
        allow_overlap=True,
    )
    tick(db, settings, at(5, 4))
    assert recipients(smtp_sink).count("ada@tiny.example") == 1, "only the mail before forget"
    with db.session() as session:
        reasons = session.exec(
            select(Message.skip_reason).where(Message.recipient == "ada@tiny.example")
        ).all()
    # Both campaigns tried (she is a late joiner of the first one too); both skipped her.
    assert reasons == ["suppressed: forgotten"] * 2

    assert campaign(settings, "contacts", "export", "nobody@nowhere.example").returncode == 1
