"""Contact data with markup in it reaches every email's HTML part escaped and its text part as
written: campaign mail, rep-sent drafts, the contact-request alert, digests and reminders.
Imported from CSV, sent over real SMTP into aiosmtpd."""

from __future__ import annotations

from datetime import UTC, date, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlmodel import select

from campaign_engine.core.config import Settings
from campaign_engine.engine.launch import launch
from campaign_engine.reps.contact_requests import record_contact_request
from campaign_engine.reps.digests import set_preference
from campaign_engine.reps.drafts import list_drafts
from campaign_engine.store.db import Database
from campaign_engine.store.models import Event, Message
from tests.conftest import SmtpSink
from tests.helpers import campaign_cli, html_of, import_with_reps, text_of, tick, write_csv

DANA = "dana.reyes@gitlab-demo.example"
ADA = "ada@ab.example"  # SMB: automated mail
MIA = "mia@mm.example"  # MM: drafts for the rep
ADA_FIRST, ADA_ACCOUNT = "<b>Ada</b>", "A&B <Co>"
MIA_FIRST, MIA_ACCOUNT = "<i>Mia</i>", "M&M <Mid>"
ESCAPED = {
    ADA_FIRST: "&lt;b&gt;Ada&lt;/b&gt;",
    ADA_ACCOUNT: "A&amp;B &lt;Co&gt;",
    MIA_FIRST: "&lt;i&gt;Mia&lt;/i&gt;",
    MIA_ACCOUNT: "M&amp;M &lt;Mid&gt;",
}


def at(month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(2021, month, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def launched(db: Database, settings: Settings, tmp_path: Path) -> str:
    rows = [
        [ADA, ADA_FIRST, "Lovelace", "Software Engineer", ADA_ACCOUNT, "12", "", DANA, ""],
        [MIA, MIA_FIRST, "Middle", "CTO", MIA_ACCOUNT, "300", "", DANA, ""],
    ]
    result = import_with_reps(db, write_csv(tmp_path / "targets.csv", rows), at(4, 20, 12))
    assert result.rejected == []
    return launch(db, settings, "premium-to-ultimate", date(2021, 4, 27), at(4, 20, 12)).name


def assert_escaped(message: EmailMessage, *raw: str) -> None:
    """Each raw value is escaped in the HTML part (never there as markup) and as-is in the text."""
    html, text = html_of(message), text_of(message)
    for value in raw:
        assert ESCAPED[value] in html, f"{value!r} should arrive as {ESCAPED[value]!r} in HTML"
        assert value not in html, f"{value!r} arrived unescaped in the HTML part"
        assert value in text, f"{value!r} should arrive as written in the text part"
        assert ESCAPED[value] not in text, f"{value!r} arrived HTML-escaped in the text part"


def draft_of(db: Database, contact: str, step: int) -> int:
    with db.session() as session:
        (draft,) = [
            d for d in list_drafts(session, DANA) if d.contact_email == contact and d.step == step
        ]
    return draft.id


def send_draft(settings: Settings, draft: int, now: datetime) -> None:
    result = campaign_cli(
        settings, "drafts", "send", str(draft), "--rep", DANA, "--now", now.isoformat()
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_campaign_email(
    launched: str, db: Database, settings: Settings, smtp_sink: SmtpSink
) -> None:
    tick(db, settings, at(4, 27, 9))
    (message,) = smtp_sink.to(ADA)
    assert_escaped(message, ADA_FIRST, ADA_ACCOUNT)
    assert f"Hi {ESCAPED[ADA_FIRST]}," in html_of(message)
    assert text_of(message).startswith(f"Hi {ADA_FIRST},")


def test_contact_request_alert(
    launched: str, db: Database, settings: Settings, smtp_sink: SmtpSink
) -> None:
    tick(db, settings, at(4, 27, 9))
    record_contact_request(db, settings, at(4, 27, 10), email=ADA)
    tick(db, settings, at(4, 27, 10, 1))  # sends the queued alert
    (alert,) = [m for m in smtp_sink.to(DANA) if str(m["Subject"]).startswith("Contact request")]
    assert_escaped(alert, ADA_FIRST, ADA_ACCOUNT)
    assert f"Account:    {ADA_ACCOUNT} (SMB)" in text_of(alert)


def test_rep_sent_draft_as_rendered_and_as_edited(
    launched: str, db: Database, settings: Settings, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    send_draft(settings, draft_of(db, MIA, 1), at(4, 28, 10))
    (rendered,) = smtp_sink.to(MIA)
    assert_escaped(rendered, MIA_FIRST, MIA_ACCOUNT)

    # A rep's own text is plain text too: what they type about the contact is escaped in HTML.
    second = draft_of(db, MIA, 2)
    body = tmp_path / "body.txt"
    body.write_text(f"Hi {MIA_FIRST},\n\nfollowing up for {MIA_ACCOUNT}.\n\nDana\n")
    edit = campaign_cli(
        settings, "drafts", "edit", str(second), "--rep", DANA, "--body-file", str(body)
    )
    assert edit.returncode == 0, edit.stderr
    send_draft(settings, second, at(5, 5, 10))
    edited = smtp_sink.to(MIA)[1]
    assert_escaped(edited, MIA_FIRST, MIA_ACCOUNT)


def test_engagement_digest(
    launched: str, db: Database, settings: Settings, smtp_sink: SmtpSink
) -> None:
    set_preference(db, DANA, mode="immediate")
    tick(db, settings, at(4, 27, 9))
    with db.session() as session:  # a human click, as the tracking endpoint records it
        message = session.exec(select(Message).where(Message.recipient == ADA)).one()
        session.add(
            Event(
                kind="click",
                message_id=message.id,
                contact_id=message.contact_id,
                link_index=0,
                occurred_at=at(4, 27, 10),
            )
        )
    tick(db, settings, at(4, 27, 10, 1))
    (digest,) = smtp_sink.to(DANA)
    assert_escaped(digest, ADA_FIRST, ADA_ACCOUNT)


def test_next_email_reminder(
    launched: str, db: Database, settings: Settings, smtp_sink: SmtpSink
) -> None:
    set_preference(db, DANA, mode="off")  # reminders then come as an email of their own
    send_draft(settings, draft_of(db, MIA, 1), at(4, 28, 10))
    tick(db, settings, at(5, 5, 10))
    (reminder,) = smtp_sink.to(DANA)
    assert str(reminder["Subject"]) == "Time for the next email: 1 contact"
    assert_escaped(reminder, MIA_ACCOUNT)
