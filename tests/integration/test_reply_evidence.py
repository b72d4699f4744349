"""Replies from real clients read from files: auto-replies stay quiet, every person reaches the rep.

A human reply whose subject speaks of absence, leave or holidays is a contact request like any
other (alert over SMTP, contact out of automation); an answer that only looks automatic is too,
and its alert says it may be automatic.
"""

from __future__ import annotations

from pathlib import Path

from sqlmodel import select

from campaign_engine.core.config import Settings
from campaign_engine.store.db import Database
from campaign_engine.store.models import Contact, Enrollment
from tests.conftest import SmtpSink
from tests.helpers import campaign_cli, text_of, tick
from tests.inbound_expect import EMAIL_1, READ_AT
from tests.inbound_fixtures import (
    DANA,
    inbound_settings_fixture,  # noqa: F401  (fixture)
    launched_fixture,  # noqa: F401  (fixture)
)
from tests.inbound_mail import fill

AUTOMATIC = {
    "exchange-online-oof-en.eml": "ada@tiny.example",
    "exchange2007-oof-fr.eml": "claire@petit.example",
    "exchange-rule-reply-sv.eml": "full@mailbox.example",
    "gmail-vacation-es.eml": "gone@nowhere.example",
    "dovecot-sieve-vacation-nl.eml": "exim@old.example",
    "zimbra-ooo-it.eml": "xch@corp.example",
    "vacation-autorespond-pt.eml": "angry@yahoo.example",
}
PEOPLE = {
    "thunderbird-reply-absence-en.eml": ("grace@tiny.example", "absence management"),
    "outlook-reply-urlaub-de.eml": ("hans@klein.example", "passt Ihnen der 11. Mai um 10 Uhr?"),
    "gmail-reply-out-of-office-en.eml": ("otto@away.example", "Could we talk on May 5th"),
    "applemail-reply-holiday-fr.eml": ("cross@outlook.example", "Appelez-moi jeudi"),
    "zimbra-reply-leave-it.eml": ("pat@team.example", "Lunedì alle 11 va bene"),
    "webmail-ooo-subject-only.eml": ("quit@tiny.example", "I am away until May 4th"),
}


def test_people_reach_their_rep_and_machines_do_not(
    launched: str, db: Database, inbound_settings: Settings, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    tick(db, inbound_settings, EMAIL_1)
    files = []
    for name in [*AUTOMATIC, *PEOPLE]:
        path = tmp_path / name
        path.write_bytes(fill(db, name))
        files.append(str(path))
    smtp_sink.messages.clear()
    result = campaign_cli(inbound_settings, "inbox", "import", *files, "--now", READ_AT.isoformat())
    assert result.returncode == 0, result.stderr
    out = " ".join(result.stdout.split())
    for name in AUTOMATIC:
        assert f"{name}: auto_reply" in out
    assert "webmail-ooo-subject-only.eml: reply quit@tiny.example" in out
    assert 'may be automatic: the subject starts with "Out of Office"' in out

    tick(db, inbound_settings, READ_AT)  # whatever alert is still queued goes now
    alerts = {
        str(m["Reply-To"].addresses[0].addr_spec): m
        for m in smtp_sink.to(DANA)
        if m["X-Campaign-Alert"] == "contact_request"
    }
    assert sorted(alerts) == sorted(address for address, _ in PEOPLE.values())
    for address, words in PEOPLE.values():
        text = " ".join(text_of(alerts[address]).split())
        assert words in text
        automatic = address == "quit@tiny.example"
        assert ("This reply may be automatic" in text) is automatic
        assert ("(may be automatic)" in str(alerts[address]["Subject"])) is automatic

    with db.session() as session:
        status = {
            email: status
            for email, status in session.exec(
                select(Contact.email, Enrollment.status).join(
                    Enrollment, Enrollment.contact_id == Contact.id
                )
            )
        }
    for address, _ in PEOPLE.values():
        assert status[address] == "stopped"
    for address in AUTOMATIC.values():
        assert status[address] == "active"
