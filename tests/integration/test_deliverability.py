"""DKIM on every kind of outgoing mail, and the headers and footer each kind must carry.

Signatures are checked with dkimpy's own verifier against the public key of a key generated
by `generate_key`, served through a stub DNS lookup (no network).
"""

from __future__ import annotations

import dataclasses
import email
import re
from datetime import UTC, date, datetime
from email.policy import default
from pathlib import Path

import dkim
import pytest
from sqlmodel import select

from campaign_engine.audience.imports import import_contacts, import_reps
from campaign_engine.core.config import DkimSettings, Settings, load_settings
from campaign_engine.engine.launch import launch
from campaign_engine.reps.drafts import list_drafts
from campaign_engine.sending.dkim import DkimSigner, dkim_txt_value, generate_key
from campaign_engine.sending.mime import build_mime
from campaign_engine.store.db import Database
from campaign_engine.store.models import Contact, Event, Message
from tests.conftest import SmtpSink
from tests.helpers import campaign_cli, html_of, text_of, tick, write_csv

DANA = "dana.reyes@gitlab-demo.example"  # Europe/Berlin: her digest goes out 06:00 UTC
START = date(2021, 4, 27)
SELECTOR = "mail2026"
DOMAIN = "gitlab-demo.example"


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2021, month, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def key(tmp_path: Path) -> tuple[Path, bytes]:
    """A fresh key file and the TXT value a verifier finds in DNS for it."""
    pair = generate_key()
    path = tmp_path / "dkim.pem"
    path.write_bytes(pair.private_pem)
    return path, dkim_txt_value(pair.public_b64)


@pytest.fixture
def signed(settings: Settings, key: tuple[Path, bytes]) -> Settings:
    return dataclasses.replace(settings, dkim=DkimSettings(SELECTOR, DOMAIN, key[0]))


def verify(raw: bytes, txt: bytes) -> bool:
    def dns(name: bytes, timeout: int = 5) -> bytes:
        assert name == f"{SELECTOR}._domainkey.{DOMAIN}.".encode()
        return txt

    return bool(dkim.verify(raw, dnsfunc=dns))


def signed_headers(raw: bytes) -> set[str]:
    header = raw.split(b"\r\n\r\n", 1)[0].decode()
    unfolded = re.sub(r"\r\n[ \t]+", " ", header)
    (signature,) = [line for line in unfolded.split("\r\n") if line.startswith("DKIM-Signature")]
    tags = dict(t.strip().split("=", 1) for t in signature.split(":", 1)[1].split(";"))
    assert tags["c"] == "relaxed/relaxed"
    assert tags["d"] == DOMAIN and tags["s"] == SELECTOR
    return {h.strip().lower() for h in tags["h"].split(":")}


@pytest.fixture
def people(db: Database, tmp_path: Path) -> None:
    rows = [
        ["ada@tiny.example", "Ada", "Lovelace", "Software Engineer", "Tiny Co", "12", "", DANA, ""],
        ["grace@tiny.example", "Grace", "Hopper", "CISO", "Tiny Co", "12", "", DANA, ""],
    ]
    import_contacts(db, write_csv(tmp_path / "contacts.csv", rows), at(4, 20, 12))
    reps = [[DANA, "Dana Reyes", "AE", "Europe/Berlin"]]
    import_reps(db, write_csv(tmp_path / "reps.csv", reps, ["email", "name", "title", "timezone"]))


def test_campaign_mail_is_signed_over_the_one_click_headers_and_has_the_footer(
    people: None, db: Database, signed: Settings, key: tuple[Path, bytes], smtp_sink: SmtpSink
) -> None:
    launch(db, signed, "premium-to-ultimate", START, at(4, 20, 12))
    tick(db, signed, at(4, 27, 9))
    assert len(smtp_sink.envelopes) == 2
    for envelope, message in zip(smtp_sink.envelopes, smtp_sink.messages, strict=True):
        raw = envelope.original_content
        assert raw is not None and verify(raw, key[1])
        assert {
            "from",
            "to",
            "subject",
            "date",
            "message-id",
            "list-unsubscribe",
            "list-unsubscribe-post",
            "list-id",
            "mime-version",
            "content-type",
        } <= signed_headers(raw)
        # Tampering with the one-click header breaks the signature.
        forged = raw.replace(b"List-Unsubscribe-Post: List-Unsubscribe=One-Click", b"X: y")
        assert not verify(forged, key[1])
        # The headers and footer every marketing email must carry.
        unsubscribe = re.fullmatch(
            r"<(https://track\.example\.test/u/[\w-]+)>", message["List-Unsubscribe"]
        )
        assert unsubscribe is not None
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert message["List-Id"] == "premium-to-ultimate <premium-to-ultimate.gitlab-demo.example>"
        for body in (text_of(message), html_of(message)):
            assert "1 Test Street, Testville" in body
            assert unsubscribe.group(1) in body
        assert message["From"] and message["Date"] and message["Message-ID"]


def test_digests_to_reps_are_signed_with_from_date_and_message_id(
    people: None, db: Database, signed: Settings, key: tuple[Path, bytes], smtp_sink: SmtpSink
) -> None:
    launch(db, signed, "premium-to-ultimate", START, at(4, 20, 12))
    tick(db, signed, at(4, 27, 9))
    with db.session() as session:
        contact = session.exec(select(Contact).where(Contact.email == "ada@tiny.example")).one()
        message = session.exec(select(Message).where(Message.contact_id == contact.id)).one()
        session.add(
            Event(
                kind="contact_page",
                message_id=message.id,
                contact_id=contact.id,
                occurred_at=at(4, 27, 11),
            )
        )
    tick(db, signed, at(4, 28, 6))  # 08:00 in Berlin
    (digest,) = smtp_sink.to(DANA)
    raw = smtp_sink.envelopes[smtp_sink.messages.index(digest)].original_content
    assert raw is not None and verify(raw, key[1])
    assert {"from", "to", "subject", "date", "message-id"} <= signed_headers(raw)
    assert digest["From"] and digest["Date"] and digest["Message-ID"]
    assert "Email offer engagement" in str(digest["Subject"])


def test_long_and_non_ascii_headers_stay_on_one_line_and_verify(key: tuple[Path, bytes]) -> None:
    path, txt = key
    subject = "Über Sicherheit und Geschwindigkeit: Ihre Premium-Lizenz könnte mehr – viel mehr – für Sie tun, Müller"
    unsubscribe = "<https://track.example.test/u/" + "x" * 180 + ">"
    raw = build_mime(
        from_header="Marketing <marketing@gitlab-demo.example>",
        to_header="=?utf-8?q?J=C3=BCrgen?= <jurgen@example.com>",
        subject=subject,
        html="<p>Hallo</p>",
        text="Hallo",
        message_id="<1.abc@gitlab-demo.example>",
        date="Tue, 27 Apr 2021 09:00:00 +0000",
        extra_headers=[
            ("List-Unsubscribe", unsubscribe),
            ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        ],
    )
    header = raw.split(b"\r\n\r\n", 1)[0]
    assert not re.search(rb"\r\n[ \t]", header), "no folded header lines"
    signer = DkimSigner(SELECTOR, DOMAIN, path.read_bytes())
    signed_raw = signer.sign(raw)
    assert verify(signed_raw, txt)
    parsed = email.message_from_bytes(signed_raw, policy=default)
    assert str(parsed["Subject"]) == subject
    assert parsed["List-Unsubscribe"] == unsubscribe
    for word in re.findall(rb"=\?utf-8\?q\?[^?]*\?=", header):
        assert len(word) <= 75, "RFC 2047 encoded words stay short"


def test_a_rep_sent_draft_is_signed_from_the_rep_with_the_company_footer(
    people: None, db: Database, settings: Settings, key: tuple[Path, bytes], smtp_sink: SmtpSink
) -> None:
    """Rep mail goes through the same transport: signed for the company domain, From the rep."""
    config = settings.config_path.with_name("signed.toml")
    config.write_text(
        settings.config_path.read_text()
        + f'\n[dkim]\nselector = "{SELECTOR}"\ndomain = "{DOMAIN}"\nprivate_key_path = "{key[0]}"\n'
    )
    signed_cli = load_settings(config, environ={})
    rows = [["mia@midsize.example", "Mia", "Middle", "CTO", "Midsize", "300", "", DANA, ""]]
    import_contacts(db, write_csv(config.with_name("mm.csv"), rows), at(4, 20, 12))
    launch(db, signed_cli, "premium-to-ultimate", START, at(4, 20, 12))
    with db.session() as session:
        (draft,) = [
            d for d in list_drafts(session, DANA, status=None)
            if d.contact_email == "mia@midsize.example" and d.step == 1
        ]  # fmt: skip
    done = campaign_cli(
        signed_cli,
        "drafts",
        "send",
        str(draft.id),
        "--rep",
        DANA,
        "--now",
        "2021-04-28T10:00:00+00:00",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (message,) = smtp_sink.messages
    raw = smtp_sink.envelopes[0].original_content
    assert raw is not None and verify(raw, key[1])
    assert {"from", "to", "subject", "list-unsubscribe", "list-unsubscribe-post"} <= signed_headers(
        raw
    )
    assert str(message["From"]) == f"Dana Reyes <{DANA}>"
    assert "1 Test Street, Testville" in text_of(message)
    assert "1 Test Street, Testville" in html_of(message)
