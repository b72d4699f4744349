"""The SMB campaign end to end: import, launch, ticks over weeks, real SMTP into aiosmtpd."""

from __future__ import annotations

import re
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlmodel import select

from campaign_engine.core.config import Settings, load_settings
from campaign_engine.core.errors import SequenceError
from campaign_engine.core.kinds import MessageState
from campaign_engine.core.tokens import TokenKind, TokenSigner
from campaign_engine.engine.launch import launch
from campaign_engine.sending.recovery import accept_uncertain, retry_uncertain
from campaign_engine.store.db import Database
from campaign_engine.store.models import Message, Suppression
from tests.conftest import SmtpSink
from tests.helpers import html_of, import_with_reps, strand_claimed_batch, text_of, tick, write_csv

REP = "dana.reyes@gitlab-demo.example"
START = date(2021, 4, 27)
LAUNCH_TIME = datetime(2021, 4, 20, 12, tzinfo=UTC)


def at(month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(2021, month, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def target_list(tmp_path: Path) -> Path:
    return write_csv(
        tmp_path / "targets.csv",
        [
            [
                "Ada.Lovelace@Tiny.example",
                "Ada",
                "Lovelace",
                "Software Engineer",
                "Tiny Co",
                "12",
                "",
                REP,
                "",
            ],
            ["grace@tiny.example", "Grace", "Hopper", "CISO", "Tiny Co", "12", "", REP, "C"],
            ["bob@tiny.example", "Bob", "Quiet", "Developer", "Tiny Co", "12", "", REP, "A"],
            ["bea@tiny.example", "Bea", "Direct", "Developer", "Tiny Co", "12", "", REP, "B"],
            ["mia@midsize.example", "Mia", "Middle", "CTO", "Midsize", "300", "", REP, ""],
            ["eve@bigcorp.example", "Eve", "Large", "CISO", "BigCorp", "", "Strategic", REP, ""],
        ],
    )


@pytest.fixture
def launched(db: Database, settings: Settings, target_list: Path) -> str:
    result = import_with_reps(db, target_list, LAUNCH_TIME)
    assert result.rejected == []
    return launch(db, settings, "premium-to-ultimate", START, LAUNCH_TIME).name


def test_three_weekly_emails_reach_only_smb_mode_c(
    launched: str, db: Database, settings: Settings, smtp_sink: SmtpSink
) -> None:
    assert tick(db, settings, at(4, 27, 8, 59)).counts["sent"] == 0  # before the window
    assert smtp_sink.messages == []

    tick(db, settings, at(4, 27, 9, 0))
    assert sorted(m["To"].addresses[0].addr_spec for m in smtp_sink.messages) == [
        "ada.lovelace@tiny.example",
        "grace@tiny.example",
    ]
    assert {str(m["Subject"]) for m in smtp_sink.messages} == {"Interested in speed and security?"}

    for moment in (at(4, 27, 12), at(4, 28), at(5, 3, 16, 59), at(5, 4, 8, 59)):
        tick(db, settings, moment)
    assert len(smtp_sink.messages) == 2, "nothing more until day 7 at the window start"

    tick(db, settings, at(5, 4, 9, 0))
    tick(db, settings, at(5, 4, 9, 5))
    assert len(smtp_sink.messages) == 4
    assert {str(m["Subject"]) for m in smtp_sink.messages[2:]} == {
        "Learn how to deploy to production 6x faster"
    }

    tick(db, settings, at(5, 11, 10))
    tick(db, settings, at(5, 18, 10))
    tick(db, settings, at(5, 25, 10))
    ada = smtp_sink.to("ada.lovelace@tiny.example")
    assert [str(m["Subject"]) for m in ada] == [
        "Interested in speed and security?",
        "Learn how to deploy to production 6x faster",
        "No more afterthought security",
    ]
    assert [m["Date"].datetime for m in ada] == [at(4, 27), at(5, 4), at(5, 11, 10)]
    assert len(smtp_sink.messages) == 6
    for absent in (
        "bob@tiny.example",
        "bea@tiny.example",
        "mia@midsize.example",
        "eve@bigcorp.example",
    ):
        assert smtp_sink.to(absent) == []


def test_message_is_multipart_personalised_and_tracked(
    launched: str, db: Database, settings: Settings, smtp_sink: SmtpSink
) -> None:
    tick(db, settings, at(4, 27, 9, 30))
    (message,) = smtp_sink.to("ada.lovelace@tiny.example")
    assert message.get_content_type() == "multipart/alternative"
    assert str(message["From"]) == "Marketing <marketing@gitlab-demo.example>"
    assert re.fullmatch(r"<\d+\.[0-9a-f]{16}@gitlab-demo\.example>", message["Message-ID"])
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text, html = text_of(message), html_of(message)
    assert text.startswith("Hi Ada,")
    assert "Tiny Co" in text and "Dana Reyes" in text
    assert "1 Test Street, Testville" in text
    # No raw offer URL survives: every link goes through the signed tracker.
    assert "about.gitlab.com" not in text + html
    signer = TokenSigner("test-secret-7f3a9c2e51b84d06a1e6c9f02b7d4e8a")
    tokens = re.findall(r"https://track\.example\.test/(\w)/([\w-]+)", text)
    kinds = {signer.verify(token).kind for _, token in tokens}  # type: ignore[union-attr]
    assert kinds == {TokenKind.CLICK, TokenKind.CONTACT, TokenKind.UNSUBSCRIBE}
    assert re.search(r'<img src="https://track\.example\.test/o/[\w-]+\.gif"', html)


def test_ticking_again_sends_nothing_twice(
    launched: str, db: Database, settings: Settings, smtp_sink: SmtpSink
) -> None:
    for _ in range(3):
        tick(db, settings, at(4, 27, 10))
    assert len(smtp_sink.messages) == 2
    with db.session() as session:
        steps = session.exec(select(Message.contact_id, Message.step)).all()
    assert len(steps) == len(set(steps)) == 2


def test_4xx_is_retried_with_backoff_and_5xx_bounces_and_suppresses(
    launched: str, db: Database, settings: Settings, smtp_sink: SmtpSink
) -> None:
    smtp_sink.replies["ada.lovelace@tiny.example"] = "451 4.3.0 try again later"
    smtp_sink.replies["grace@tiny.example"] = "550 5.1.1 no such user"
    report = tick(db, settings, at(4, 27, 9))
    assert (report.counts["retry"], report.counts["bounced"]) == (1, 1)

    del smtp_sink.replies["ada.lovelace@tiny.example"]
    tick(db, settings, at(4, 27, 9, 9))  # back-off is 600 s: too early
    to_contacts = [m for m in smtp_sink.messages if m["To"].addresses[0].addr_spec != REP]
    assert to_contacts == []
    tick(db, settings, at(4, 27, 9, 10))
    to_contacts = [m for m in smtp_sink.messages if m["To"].addresses[0].addr_spec != REP]
    assert [str(m["To"]) for m in to_contacts] == ["Ada Lovelace <ada.lovelace@tiny.example>"]
    (digest,) = smtp_sink.to(REP)  # the rep hears about the bounce in the 09:00 tick's digest
    assert "Grace Hopper" in text_of(digest) and "Email bounced" in text_of(digest)

    with db.session() as session:
        suppressed = session.exec(select(Suppression.email, Suppression.reason)).all()
    assert suppressed == [("grace@tiny.example", "bounce")]
    tick(db, settings, at(5, 4, 10))
    assert smtp_sink.to("grace@tiny.example") == [], "a bounced address gets nothing more"
    assert len(smtp_sink.to("ada.lovelace@tiny.example")) == 2


def test_a_crash_mid_send_marks_uncertain_and_never_resends(
    launched: str, db: Database, settings: Settings, smtp_sink: SmtpSink
) -> None:
    strand_claimed_batch(db, settings, launched, at(4, 27, 9))
    # ...the worker dies here, SMTP outcome unknown. Later ticks, after the lease:
    report = tick(db, settings, at(4, 27, 10))
    assert report.counts["uncertain"] == 2
    tick(db, settings, at(4, 27, 11))
    assert smtp_sink.messages == []
    with db.session() as session:
        states = session.exec(select(Message.state)).all()
    assert states == [MessageState.UNCERTAIN, MessageState.UNCERTAIN]


def test_broken_template_is_refused_at_launch_with_file_and_line(
    db: Database, settings: Settings, target_list: Path, tmp_path: Path
) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(settings.templates_dir, templates)
    broken = templates / "premium-to-ultimate" / "email2.html.j2"
    broken.write_text(broken.read_text() + "\n{% if contact.first_name %}unclosed\n")
    config = settings.config_path.read_text().replace(str(settings.templates_dir), str(templates))
    settings.config_path.write_text(config)
    patched = load_settings(settings.config_path, environ={})
    import_with_reps(db, target_list, LAUNCH_TIME)
    with pytest.raises(SequenceError, match=r"email2\.html\.j2:\d+"):
        launch(db, patched, "premium-to-ultimate", START, LAUNCH_TIME)
    with db.session() as session:
        assert session.exec(select(Message)).all() == []


def test_operator_decides_about_uncertain_messages(
    launched: str, db: Database, settings: Settings, smtp_sink: SmtpSink
) -> None:
    strand_claimed_batch(db, settings, launched, at(4, 27, 9))
    tick(db, settings, at(4, 27, 10))  # both are uncertain now

    assert retry_uncertain(db, at(4, 29, 11)) == 2
    tick(db, settings, at(4, 29, 11))
    assert len(smtp_sink.messages) == 2
    # Sent two days late after a retry, step 2 still waits the full spacing (7 local days).
    tick(db, settings, at(5, 4, 9, 30))
    assert len(smtp_sink.messages) == 2
    tick(db, settings, at(5, 6, 8, 59))
    assert len(smtp_sink.messages) == 2
    tick(db, settings, at(5, 6, 9))
    assert len(smtp_sink.messages) == 4
    assert accept_uncertain(db, at(5, 6, 12)) == 0


def test_personas_sequence_sends_management_and_practitioner_offers(
    db: Database, settings: Settings, smtp_sink: SmtpSink, target_list: Path
) -> None:
    import_with_reps(db, target_list, LAUNCH_TIME)
    launch(db, settings, "premium-to-ultimate-personas", START, LAUNCH_TIME)
    tick(db, settings, at(4, 27, 9))
    (engineer,) = smtp_sink.to("ada.lovelace@tiny.example")
    (ciso,) = smtp_sink.to("grace@tiny.example")
    assert str(engineer["Subject"]) == "Are you getting the most out of GitLab?"
    assert "A Developer's Guide to Application Security" in text_of(engineer)
    assert "CI the new frontier for Security pros" not in text_of(engineer)
    assert "CI the new frontier for Security pros" in text_of(ciso)
    assert "A Developer's Guide to Application Security" not in text_of(ciso)


def test_a_configured_mailbox_is_offered_as_a_second_unsubscribe_target(
    db: Database, settings: Settings, smtp_sink: SmtpSink, target_list: Path
) -> None:
    config = settings.config_path
    config.write_text(
        config.read_text().replace(
            "[smtp]", 'unsubscribe_mailto = "optout@gitlab-demo.example"\n[smtp]'
        )
    )
    settings = load_settings(config, environ={})
    import_with_reps(db, target_list, LAUNCH_TIME)
    launch(db, settings, "premium-to-ultimate", START, LAUNCH_TIME)
    tick(db, settings, at(4, 27, 9))
    (message,) = smtp_sink.to("grace@tiny.example")
    https, mailto = (part.strip() for part in message["List-Unsubscribe"].split(","))
    token = https.strip("<>").rsplit("/", 1)[-1]
    assert https.startswith("<https://track.example.test/u/")
    assert mailto == f"<mailto:optout@gitlab-demo.example?subject=unsubscribe%20{token}>"
