"""MM/ENT outreach end to end: drafts at launch, reps send through the engine over real SMTP,
next-step reminders, per-contact outreach mode; through the real `campaign` command."""

from __future__ import annotations

import asyncio
import json
import re
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import select

from campaign_engine.core.config import Settings
from campaign_engine.core.kinds import Channel, EventKind, MessageState
from campaign_engine.core.tokens import TokenKind, TokenSigner
from campaign_engine.engine.launch import launch
from campaign_engine.reps.digests import send_due_digests
from campaign_engine.reps.drafts import create_drafts_for_contact, list_drafts
from campaign_engine.sending.transport import make_transport
from campaign_engine.store.db import Database
from campaign_engine.store.models import (
    Contact,
    Draft,
    Enrollment,
    Event,
    Exclusion,
    Message,
    ReminderNotice,
)
from tests.conftest import SmtpSink
from tests.helpers import campaign_cli, html_of, import_with_reps, text_of, tick, write_csv

DANA = "dana.reyes@gitlab-demo.example"
TOMAS = "tomas.herrera@gitlab-demo.example"
START = date(2021, 4, 27)
LAUNCH_TIME = datetime(2021, 4, 20, 12, tzinfo=UTC)
OFFER_1 = "https://about.gitlab.com/webcast/automate-security-ci/"
EMAIL_2_LINK = (
    "https://learn.gitlab.com/c/chorus-gitlab?x=h7zzhf&utm_medium=email&utm_source=gmail"
    "&utm_campaign=premtoultimatesp&utm_content=choruscasestudy"
)
TRACKED = re.compile(r"https://track\.example\.test/(\w)/([\w-]+)")


def at(month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(2021, month, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def launched(db: Database, settings: Settings, tmp_path: Path) -> str:
    rows = [
        ["ada@tiny.example", "Ada", "Lovelace", "Developer", "Tiny Co", "12", "", DANA, "C"],
        ["bea@tiny.example", "Bea", "Direct", "Developer", "Tiny Co", "12", "", DANA, "B"],
        ["mia@midsize.example", "Mia", "Middle", "CTO", "Midsize", "300", "", DANA, ""],
        ["max@midsize.example", "Max", "Quiet", "CTO", "Midsize", "300", "", DANA, "A"],
        ["eve@bigcorp.example", "Eve", "Large", "CISO", "BigCorp", "", "Strategic", TOMAS, ""],
        ["ned@bigcorp.example", "Ned", "Stark", "Engineer", "BigCorp", "", "Strategic", TOMAS, ""],
    ]
    result = import_with_reps(db, write_csv(tmp_path / "targets.csv", rows), LAUNCH_TIME)
    assert result.rejected == []
    return launch(db, settings, "premium-to-ultimate", START, LAUNCH_TIME).name


def drafts_of(settings: Settings, *args: str) -> list[dict[str, object]]:
    result = campaign_cli(settings, "drafts", "list", "--format", "json", *args)
    assert result.returncode == 0, result.stderr
    return list(json.loads(result.stdout))


def draft_id(db: Database, rep: str, contact: str, step: int) -> int:
    with db.session() as session:
        (found,) = [
            d
            for d in list_drafts(session, rep, status=None)
            if d.contact_email == contact and d.step == step
        ]
    return found.id


def send(settings: Settings, draft: int, rep: str, now: datetime) -> tuple[int, str]:
    result = campaign_cli(
        settings, "drafts", "send", str(draft), "--rep", rep, "--now", now.isoformat()
    )
    return result.returncode, " ".join((result.stdout + result.stderr).split())


def tokens(body: str) -> list[tuple[TokenKind, int, int]]:
    signer = TokenSigner("test-secret-7f3a9c2e51b84d06a1e6c9f02b7d4e8a")
    found = []
    for _, token in TRACKED.findall(body):
        payload = signer.verify(token)
        assert payload is not None, f"forged or broken token {token}"
        found.append((payload.kind, payload.message_id, payload.link_index))
    return found


def test_mm_ent_and_mode_b_contacts_never_get_automated_mail_in_a_whole_campaign(
    launched: str, db: Database, settings: Settings, smtp_sink: SmtpSink
) -> None:
    moment = at(4, 27)
    while moment < at(5, 19):  # three weeks and a day, twice a day inside the window
        tick(db, settings, moment)
        tick(db, settings, moment + timedelta(hours=6))
        moment += timedelta(days=1)
    assert {m["To"].addresses[0].addr_spec for m in smtp_sink.messages} == {"ada@tiny.example"}
    assert len(smtp_sink.messages) == 3
    with db.session() as session:
        origins = session.exec(select(Message.origin, Message.state)).all()
        drafts = list_drafts(session)
    assert origins == [(Channel.AUTOMATED, MessageState.SENT)] * 3
    # Each rep-channel contact has the whole sequence as drafts; mode A (max) has nothing.
    per_contact = {(d.contact_email, d.step) for d in drafts}
    assert per_contact == {
        (email, step)
        for email in (
            "bea@tiny.example",
            "mia@midsize.example",
            "eve@bigcorp.example",
            "ned@bigcorp.example",
        )
        for step in (1, 2, 3)
    }


def test_a_rep_sends_a_draft_from_themselves_with_tracked_links_and_the_pixel(
    launched: str, db: Database, settings: Settings, smtp_sink: SmtpSink
) -> None:
    listed = drafts_of(settings, "--rep", DANA)
    assert {"id", "contact_email", "account", "segment", "step", "subject", "status"} <= set(
        listed[0]
    )
    mia_1 = draft_id(db, DANA, "mia@midsize.example", 1)
    shown = campaign_cli(settings, "drafts", "show", str(mia_1), "--rep", DANA)
    assert shown.returncode == 0 and "Hi Mia," in shown.stdout and OFFER_1 in shown.stdout

    code, output = send(settings, mia_1, DANA, at(4, 28, 10))
    assert code == 0, output
    (message,) = smtp_sink.messages
    assert str(message["From"]) == f"Dana Reyes <{DANA}>"
    assert str(message["Reply-To"]) == f"Dana Reyes <{DANA}>"
    assert str(message["To"]) == "Mia Middle <mia@midsize.example>"
    assert str(message["Subject"]) == "Interested in speed and security?"
    assert smtp_sink.envelopes[0].mail_from == "marketing@gitlab-demo.example"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    with db.session() as session:
        row = session.exec(select(Message)).one()
    assert (row.origin, row.state, row.step, row.sent_at) == ("rep", "sent", 1, at(4, 28, 10))
    text, html = text_of(message), html_of(message)
    assert "about.gitlab.com" not in text + html, "the offer link must go out tracked"
    assert "Midsize" in text and text.count("1 Test Street, Testville") == 1
    assert html.count("1 Test Street, Testville") == 1
    assert set(tokens(text)) == {
        (TokenKind.CLICK, row.id, 0),
        (TokenKind.CONTACT, row.id, 0),
        (TokenKind.UNSUBSCRIBE, row.id, 0),
    }
    assert (TokenKind.OPEN, row.id, 0) in tokens(html)
    assert re.search(r'<img src="https://track\.example\.test/o/[\w-]+\.gif"', html)
    assert message["List-Unsubscribe"] == f"<{TRACKED.search(text.split('Unsubscribe')[-1])[0]}>"  # type: ignore[index]

    code, output = send(settings, mia_1, DANA, at(4, 28, 11))
    assert code == 1 and "email 1 to mia@midsize.example was already sent" in output
    assert len(smtp_sink.messages) == 1
    assert drafts_of(settings, "--rep", DANA, "--status", "sent")[0]["id"] == mia_1


def test_an_edited_draft_keeps_campaign_links_tracked_and_refuses_lookalikes(
    launched: str, db: Database, settings: Settings, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    mia_1 = draft_id(db, DANA, "mia@midsize.example", 1)
    body = tmp_path / "body.txt"
    for bad, why in (
        (OFFER_1 + "?utm_source=dana", "would not be tracked"),
        ("https://track.example.test/t/abc", "is a tracking link"),
        (EMAIL_2_LINK, "is the link of email 2"),
        ("{{offer.url}}", "unknown placeholder"),
    ):
        body.write_text(f"Hi Mia,\n\nHave a look: {bad}\n")
        result = campaign_cli(
            settings, "drafts", "edit", str(mia_1), "--body-file", str(body), "--rep", DANA
        )
        assert result.returncode == 1, bad
        assert why in " ".join(result.stderr.split()), result.stderr

    body.write_text(
        "Hi Mia,\n\nGood talking on Tuesday. The webcast I mentioned:\n"
        f"{OFFER_1}?utm_medium=email&utm_source=gmail&utm_campaign=premtoultimatesp"
        "&utm_content=automatesecurityci\n\n"
        "Book a slot: https://calendar.example/dana\nOr reply here: {{contact_url}}\n\nDana\n"
    )
    result = campaign_cli(
        settings,
        "drafts",
        "edit",
        str(mia_1),
        "--rep",
        DANA,
        "--subject",
        "Following up, Mia",
        "--body-file",
        str(body),
    )
    assert result.returncode == 0, result.stderr
    code, output = send(settings, mia_1, DANA, at(4, 28, 10))
    assert code == 0, output
    (message,) = smtp_sink.messages
    assert str(message["Subject"]) == "Following up, Mia"
    text, html = text_of(message).replace("\r\n", "\n"), html_of(message)
    assert text.startswith("Hi Mia,\n\nGood talking on Tuesday.")
    assert "about.gitlab.com" not in text + html
    assert "https://calendar.example/dana" in text, "the rep's own link goes as written"
    with db.session() as session:
        mid = session.exec(select(Message.id)).one()
    kinds = {kind for kind, message_id, _ in tokens(text) if message_id == mid}
    assert kinds == {TokenKind.CLICK, TokenKind.CONTACT, TokenKind.UNSUBSCRIBE}
    assert (TokenKind.CLICK, mid, 0) in tokens(html) and (TokenKind.OPEN, mid, 0) in tokens(html)
    assert "1 Test Street, Testville" in text + html, "the company footer is always added"


def test_reminders_come_in_the_first_digest_after_day_7_and_never_twice(
    launched: str, db: Database, settings: Settings, smtp_sink: SmtpSink
) -> None:
    mia_2 = draft_id(db, DANA, "mia@midsize.example", 2)
    assert send(settings, draft_id(db, DANA, "mia@midsize.example", 1), DANA, at(4, 28, 10))[0] == 0

    def reminders(now: datetime) -> str:
        result = campaign_cli(settings, "reminders", "--rep", DANA, "--now", now.isoformat())
        assert result.returncode == 0, result.stderr
        return result.stdout

    assert "No reminders due." in reminders(at(5, 5, 9, 59))
    due = reminders(at(5, 5, 10))
    assert "mia@midsize.example" in due and "email 2" in due and str(mia_2) in due

    tick(db, settings, at(5, 5, 9, 59))  # Wednesday's 08:00 digest slot: nothing due yet
    tick(db, settings, at(5, 5, 10))  # due now, but the slot ran: no separate reminder email
    tick(db, settings, at(5, 6, 7, 59))
    assert smtp_sink.to(DANA) == []
    preview = campaign_cli(
        settings, "digests", "preview", "--rep", DANA, "--now", at(5, 6, 7, 59).isoformat()
    )
    assert preview.returncode == 0, preview.stderr
    assert "Next emails due (1)" in preview.stdout and "mia@midsize.example" in preview.stdout
    assert f"campaign drafts send {mia_2}" in preview.stdout

    tick(db, settings, at(5, 6, 8))  # Thursday's slot: a digest with no engagement, the reminder
    (digest,) = smtp_sink.to(DANA)
    assert str(digest["Subject"]) == "Email offer engagement: 1 next email due"
    text = " ".join(text_of(digest).split())
    assert "Next emails due - mia@midsize.example (Midsize, premium-to-ultimate" in text
    assert "You sent email 1 on 2021-04-28; time for email 2." in text
    assert f"Draft #{mia_2}: run `campaign drafts send {mia_2}`" in text
    assert f'href="https://track.example.test/app/drafts/{mia_2}"' in html_of(digest)
    tick(db, settings, at(5, 7, 8))
    tick(db, settings, at(5, 10, 8))
    assert len(smtp_sink.to(DANA)) == 1, "each reminder is in one digest only"

    done = campaign_cli(
        settings, "drafts", "done", "mia@midsize.example", "--reason", "meeting", "--rep", DANA
    )
    assert done.returncode == 0, done.stderr
    assert "No reminders due." in reminders(at(5, 6, 10))


def test_a_rep_with_digests_off_gets_reminders_by_separate_email_once(
    launched: str, db: Database, settings: Settings, smtp_sink: SmtpSink
) -> None:
    off = campaign_cli(settings, "digests", "set", "--rep", TOMAS, "--mode", "off")
    assert off.returncode == 0, off.stderr
    eve_2 = draft_id(db, TOMAS, "eve@bigcorp.example", 2)
    assert (
        send(settings, draft_id(db, TOMAS, "eve@bigcorp.example", 1), TOMAS, at(4, 28, 10))[0] == 0
    )
    tick(db, settings, at(5, 5, 9, 59))
    assert smtp_sink.to(TOMAS) == []
    tick(db, settings, at(5, 5, 10))
    (reminder,) = smtp_sink.to(TOMAS)
    assert str(reminder["Subject"]) == "Time for the next email: 1 contact"
    assert f"campaign drafts send {eve_2}" in text_of(reminder)
    assert "eve@bigcorp.example" in text_of(reminder)
    tick(db, settings, at(5, 6, 8))
    tick(db, settings, at(5, 6, 10))
    assert len(smtp_sink.to(TOMAS)) == 1, "each reminder is emailed once, and no digest"


def test_engagement_and_the_reminder_share_one_digest_even_with_two_workers(
    launched: str, db: Database, settings: Settings, smtp_sink: SmtpSink
) -> None:
    assert send(settings, draft_id(db, DANA, "mia@midsize.example", 1), DANA, at(4, 28, 10))[0] == 0
    with db.session() as session:
        (message,) = session.exec(select(Message).where(Message.recipient == "mia@midsize.example"))
        session.add(
            Event(
                kind=EventKind.OPEN,
                message_id=message.id,
                contact_id=message.contact_id,
                occurred_at=at(5, 5, 12),
            )
        )

    async def digests() -> None:
        async with make_transport(settings) as transport:
            await send_due_digests(db, settings, transport, at(5, 6, 8))

    barrier = threading.Barrier(2)

    def worker() -> None:
        barrier.wait()
        asyncio.run(digests())

    workers = [threading.Thread(target=worker) for _ in range(2)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    asyncio.run(digests())
    (digest,) = smtp_sink.to(DANA)
    assert str(digest["Subject"]) == "Email offer engagement: 1 contact, 1 next email due"
    text = text_of(digest).replace("\r\n", "\n")
    assert text.index("Mia Middle") < text.index("Next emails due\n\n- mia@midsize.example")
    with db.session() as session:
        notices = session.exec(select(ReminderNotice)).all()
    assert [(n.step, n.sent_at) for n in notices] == [(2, at(5, 6, 8))]


def test_a_digest_that_fails_for_good_offers_its_reminders_to_the_next_digest(
    launched: str, db: Database, settings: Settings, smtp_sink: SmtpSink
) -> None:
    mia_2 = draft_id(db, DANA, "mia@midsize.example", 2)
    assert send(settings, draft_id(db, DANA, "mia@midsize.example", 1), DANA, at(4, 28, 10))[0] == 0
    smtp_sink.replies[DANA] = "550 5.2.1 mailbox disabled"
    tick(db, settings, at(5, 6, 8))
    assert smtp_sink.to(DANA) == []
    del smtp_sink.replies[DANA]
    tick(db, settings, at(5, 6, 10))
    assert smtp_sink.to(DANA) == [], "no separate reminder email for a rep with digests"
    tick(db, settings, at(5, 7, 8))
    (digest,) = smtp_sink.to(DANA)
    assert f"campaign drafts send {mia_2}" in text_of(digest)


def test_a_contact_request_after_the_send_ends_the_reminders(
    launched: str, db: Database, settings: Settings
) -> None:
    assert send(settings, draft_id(db, DANA, "mia@midsize.example", 1), DANA, at(4, 28))[0] == 0
    with db.session() as session:
        mia = session.exec(select(Contact).where(Contact.email == "mia@midsize.example")).one()
        session.add(Event(kind=EventKind.CONTACT_REQUEST, contact_id=mia.id, occurred_at=at(4, 30)))
    result = campaign_cli(settings, "reminders", "--now", at(5, 10).isoformat())
    assert "No reminders due." in result.stdout


def test_a_rep_cannot_see_or_send_another_reps_drafts(
    launched: str, db: Database, settings: Settings, smtp_sink: SmtpSink
) -> None:
    tomas = drafts_of(settings, "--rep", TOMAS)
    assert {d["contact_email"] for d in tomas} == {"eve@bigcorp.example", "ned@bigcorp.example"}
    mia_1 = draft_id(db, DANA, "mia@midsize.example", 1)
    shown = campaign_cli(settings, "drafts", "show", str(mia_1), "--rep", TOMAS)
    assert shown.returncode == 1 and f"no draft {mia_1}" in shown.stderr
    code, output = send(settings, mia_1, TOMAS, at(4, 28))
    assert code == 1 and f"no draft {mia_1}" in output
    edit = campaign_cli(settings, "drafts", "edit", str(mia_1), "--subject", "x", "--rep", TOMAS)
    assert edit.returncode == 1 and f"no draft {mia_1}" in edit.stderr
    assert smtp_sink.messages == []
    unknown = campaign_cli(settings, "drafts", "list", "--rep", "nobody@example.com")
    assert unknown.returncode == 1 and "no rep with email" in unknown.stderr


def test_excluded_or_unsubscribed_contacts_drafts_are_refused_with_the_reason(
    launched: str, db: Database, settings: Settings, smtp_sink: SmtpSink
) -> None:
    with db.session() as session:
        session.add(Exclusion(email="ned@bigcorp.example", reason="legal hold"))
        eve = session.exec(select(Contact).where(Contact.email == "eve@bigcorp.example")).one()
        eve.unsubscribed_at = at(4, 26)
        session.add(eve)
    code, output = send(settings, draft_id(db, TOMAS, "ned@bigcorp.example", 1), TOMAS, at(4, 28))
    assert code == 1 and "can't be sent: excluded: legal hold" in output
    code, output = send(settings, draft_id(db, TOMAS, "eve@bigcorp.example", 2), TOMAS, at(4, 28))
    assert code == 1 and "email 2 to eve@bigcorp.example can't be sent: unsubscribed" in output
    assert smtp_sink.messages == []
    with db.session() as session:
        assert session.exec(select(Message)).all() == []


def test_set_mode_b_stops_automated_mail_before_the_next_tick_and_hands_over_to_the_rep(
    launched: str, db: Database, settings: Settings, smtp_sink: SmtpSink
) -> None:
    tick(db, settings, at(4, 27))
    assert len(smtp_sink.to("ada@tiny.example")) == 1
    result = campaign_cli(settings, "contacts", "set-mode", "ada@tiny.example", "B")
    assert result.returncode == 0, result.stderr
    assert "outreach mode C -> B; 1 automated enrollment(s) handed to the rep" in result.stdout
    tick(db, settings, at(5, 4, 10))
    tick(db, settings, at(5, 11, 10))
    assert len(smtp_sink.to("ada@tiny.example")) == 1, "no automated email after mode B"
    ada = [
        d for d in drafts_of(settings, "--rep", DANA) if d["contact_email"] == "ada@tiny.example"
    ]
    assert [d["step"] for d in ada] == [2, 3], "email 1 went out already; the rep continues"
    code, output = send(settings, int(str(ada[0]["id"])), DANA, at(5, 12, 10))
    assert code == 0, output
    assert str(smtp_sink.to("ada@tiny.example")[-1]["From"]) == f"Dana Reyes <{DANA}>"


def test_set_mode_a_cancels_drafts_and_the_send_time_check_skips_automated_mail(
    launched: str, db: Database, settings: Settings, smtp_sink: SmtpSink
) -> None:
    mia_1 = draft_id(db, DANA, "mia@midsize.example", 1)
    result = campaign_cli(settings, "contacts", "set-mode", "mia@midsize.example", "A")
    assert "3 open draft(s) cancelled" in result.stdout
    code, output = send(settings, mia_1, DANA, at(4, 28))
    assert code == 1 and "was cancelled: outreach mode A" in output
    # Mode A via the CLI for an SMB contact: the queued automated step is skipped at send time.
    campaign_cli(settings, "contacts", "set-mode", "ada@tiny.example", "A")
    tick(db, settings, at(4, 27))
    assert smtp_sink.messages == []
    with db.session() as session:
        enrollment = session.exec(
            select(Enrollment).join(Contact).where(Contact.email == "ada@tiny.example")
        ).one()
    assert (enrollment.status, enrollment.stop_reason) == ("stopped", "outreach mode A")


def test_the_drafts_list_takes_a_limit_and_csv(launched: str, settings: Settings) -> None:
    result = campaign_cli(settings, "drafts", "list", "--limit", "5")
    assert "Drafts (5 of 12)" in result.stdout
    assert "… 7 more (--limit 0 lists them all, --format csv for a file)" in result.stdout
    rows = campaign_cli(settings, "drafts", "list", "--format", "csv", "--limit", "0").stdout
    lines = rows.splitlines()
    assert lines[0] == "id,contact,account,segment,rep,step,subject,status" and len(lines) == 13
    assert sum(1 for line in lines if ",mia@midsize.example,Midsize," in line) == 3


def test_set_mode_c_moves_a_mid_market_thread_to_the_automated_sequence_at_once(
    launched: str, db: Database, settings: Settings, smtp_sink: SmtpSink
) -> None:
    assert send(settings, draft_id(db, DANA, "mia@midsize.example", 1), DANA, at(4, 28, 10))[0] == 0
    result = campaign_cli(settings, "contacts", "set-mode", "mia@midsize.example", "C")
    assert result.returncode == 0, result.stderr
    assert (
        "mia@midsize.example: outreach mode B -> C; 1 rep enrollment(s) moved to the automated"
        " sequence (the next emails go out on schedule), 2 open draft(s) cancelled"
    ) in " ".join(result.stdout.split())
    mia = [
        d for d in drafts_of(settings, "--rep", DANA) if d["contact_email"] == "mia@midsize.example"
    ]
    assert mia == [], "no open draft left for mia"
    code, output = send(settings, draft_id(db, DANA, "mia@midsize.example", 2), DANA, at(5, 4, 10))
    assert code == 1 and "outreach mode C: the automated sequence sends the rest" in output
    tick(db, settings, at(5, 4, 10))
    assert len(smtp_sink.to("mia@midsize.example")) == 1, "a week after the rep's email, not before"
    tick(db, settings, at(5, 5, 10))
    tick(db, settings, at(5, 12, 10))
    emails = smtp_sink.to("mia@midsize.example")
    assert len(emails) == 3, "the rep's email 1, then emails 2 and 3 automatically"
    assert [str(m["From"]) for m in emails[1:]] == [settings.from_address] * 2
    with db.session() as session:
        sent = session.exec(
            select(Message.step, Message.origin)
            .join(Contact)
            .where(Contact.email == "mia@midsize.example")
            .order_by(Message.step)
        ).all()
    assert sent == [(1, Channel.REP), (2, Channel.AUTOMATED), (3, Channel.AUTOMATED)]
    back = campaign_cli(settings, "contacts", "set-mode", "mia@midsize.example", "B")
    assert "outreach mode C -> B" in back.stdout


def test_set_mode_c_keeps_a_contact_who_asked_to_be_contacted_with_the_rep(
    launched: str, db: Database, settings: Settings, smtp_sink: SmtpSink
) -> None:
    asked = campaign_cli(
        settings,
        "contact-request",
        "mia@midsize.example",
        "--note",
        "call me",
        "--now",
        at(4, 26).isoformat(),
    )
    assert asked.returncode == 0, asked.stderr
    result = campaign_cli(settings, "contacts", "set-mode", "mia@midsize.example", "C")
    assert (
        "1 enrollment(s) kept with the rep: the contact asked to be contacted and the request"
        " is still open"
    ) in " ".join(result.stdout.split())
    tick(db, settings, at(4, 27, 10))
    assert smtp_sink.to("mia@midsize.example") == []


def test_a_refused_rep_email_bounces_or_can_be_sent_again_later(
    launched: str, db: Database, settings: Settings, smtp_sink: SmtpSink
) -> None:
    eve_1 = draft_id(db, TOMAS, "eve@bigcorp.example", 1)
    smtp_sink.replies["eve@bigcorp.example"] = "451 4.3.0 try again later"
    code, output = send(settings, eve_1, TOMAS, at(4, 28, 10))
    assert code == 1 and "451 4.3.0 try again later" in output and "again later" in output
    del smtp_sink.replies["eve@bigcorp.example"]
    code, output = send(settings, eve_1, TOMAS, at(4, 28, 11))
    assert code == 0, output
    assert len(smtp_sink.to("eve@bigcorp.example")) == 1

    smtp_sink.replies["ned@bigcorp.example"] = "550 5.1.1 no such user"
    code, output = send(settings, draft_id(db, TOMAS, "ned@bigcorp.example", 1), TOMAS, at(4, 28))
    assert code == 1 and "550 5.1.1 no such user" in output and "suppressed" in output
    code, output = send(settings, draft_id(db, TOMAS, "ned@bigcorp.example", 2), TOMAS, at(4, 29))
    assert code == 1 and "can't be sent: suppressed: bounce" in output
    with db.session() as session:
        states = session.exec(select(Message.recipient, Message.state).order_by(Message.id)).all()
    assert states == [("eve@bigcorp.example", "sent"), ("ned@bigcorp.example", "bounced")]


def test_a_contact_handed_to_the_rep_gets_drafts_at_once_and_listing_writes_nothing(
    launched: str, db: Database, settings: Settings, smtp_sink: SmtpSink
) -> None:
    tick(db, settings, at(4, 27))
    with db.session() as session:  # what the contact-request handler does
        ada = session.exec(select(Contact).where(Contact.email == "ada@tiny.example")).one()
        assert ada.id is not None
        assert create_drafts_for_contact(session, ada.id, at(4, 28), settings) == 2
    tick(db, settings, at(5, 4, 10))
    assert len(smtp_sink.to("ada@tiny.example")) == 1, "no automated email 2 after the hand-over"
    with db.session() as session:
        before = session.exec(select(sa.func.count()).select_from(Draft)).one()
    ada_drafts = [d for d in drafts_of(settings, "--rep", DANA) if d["contact_email"] == ada.email]
    assert [d["step"] for d in ada_drafts] == [2, 3]
    with db.session() as session:
        assert session.exec(select(sa.func.count()).select_from(Draft)).one() == before
