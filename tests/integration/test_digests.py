"""Engagement digests end to end: a simulated SMB campaign, events as tracking writes them,
digests arriving over real SMTP into aiosmtpd."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import subprocess
import sys
import threading
from datetime import UTC, date, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlmodel import col, select

from campaign_engine.audience.imports import import_contacts, import_reps
from campaign_engine.core.config import RepsSettings, Settings
from campaign_engine.core.kinds import DigestState
from campaign_engine.engine.launch import launch
from campaign_engine.reps.digest_claims import claim_events
from campaign_engine.reps.digest_delivery import DigestReport
from campaign_engine.reps.digests import send_due_digests, set_preference
from campaign_engine.sending.transport import make_transport
from campaign_engine.store.db import Database
from campaign_engine.store.digest_tables import Digest, DigestItem
from campaign_engine.store.models import Contact, Event, Message, Rep
from tests.conftest import SmtpSink
from tests.helpers import html_of, tick, write_csv
from tests.helpers import text_of as raw_text_of

DANA = "dana.reyes@gitlab-demo.example"  # Europe/Berlin: 08:00 CEST is 06:00 UTC
TOMAS = "tomas.herrera@gitlab-demo.example"  # America/New_York: 08:00 EDT is 12:00 UTC
RITA = "rita.quiet@gitlab-demo.example"  # owns a contact only a mail scanner touched
START = date(2021, 4, 27)  # a Tuesday
OFFER1 = "From DevOps to DevSecOps: Automate your security tests with CI"
CAMPAIGN = str(Path(sys.executable).parent / "campaign")


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2021, month, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def campaign(db: Database, settings: Settings, tmp_path: Path) -> str:
    """Five SMB contacts owned by three reps get email 1 on Tuesday 2021-04-27 09:00 UTC."""
    people = [
        ["ada@tiny.example", "Ada", "Lovelace", "Software Engineer", "Tiny Co", "12", "", DANA, ""],
        ["grace@tiny.example", "Grace", "Hopper", "CISO", "Tiny Co", "12", "", DANA, ""],
        ["hal@small.example", "Hal", "Jordan", "Developer", "Small Co", "30", "", DANA, ""],
        ["sam@small.example", "Sam", "Scanned", "Developer", "Small Co", "30", "", DANA, ""],
        ["ivy@nyc.example", "Ivy", "Chen", "VP Engineering", "NYC Co", "40", "", TOMAS, ""],
        ["zed@quiet.example", "Zed", "Zero", "Developer", "Quiet Co", "20", "", RITA, ""],
    ]
    reps = [
        ["dana.reyes@gitlab-demo.example", "Dana Reyes", "AE", "Europe/Berlin"],
        ["tomas.herrera@gitlab-demo.example", "Tomás Herrera", "AE", "America/New_York"],
        ["rita.quiet@gitlab-demo.example", "Rita Quiet", "AE", "UTC"],
    ]
    import_contacts(db, write_csv(tmp_path / "contacts.csv", people), at(4, 20, 12))
    import_reps(db, write_csv(tmp_path / "reps.csv", reps, ["email", "name", "title", "timezone"]))
    name = launch(db, settings, "premium-to-ultimate", START, at(4, 20, 12)).name
    tick(db, settings, at(4, 27, 9))  # email 1 goes out; Dana's digest slot passed: nothing yet
    tick(db, settings, at(4, 27, 12))  # 08:00 in New York: nothing for Tomas either
    return name


def event(db: Database, kind: str, who: str, when: datetime, step: int = 1, **extra: object) -> int:
    """An event row exactly as the tracking endpoints write it."""
    with db.session() as session:
        contact = session.exec(select(Contact).where(Contact.email == who)).one()
        message = session.exec(
            select(Message).where(Message.contact_id == contact.id, Message.step == step)
        ).one()
        row = Event(
            kind=kind,
            message_id=message.id,
            contact_id=contact.id,
            occurred_at=when,
            **extra,  # type: ignore[arg-type]
        )
        session.add(row)
        session.flush()
        assert row.id is not None
        return row.id


def engage(db: Database) -> None:
    """Tuesday's engagement after email 1 went out at 09:00 UTC."""
    scanner = {"is_human": False, "bot_reason": "clicked within 2 s of delivery"}
    event(db, "click", "sam@small.example", at(4, 27, 9, 0), link_index=0, **scanner)
    event(db, "open", "sam@small.example", at(4, 27, 9, 0), **scanner)
    event(db, "click", "zed@quiet.example", at(4, 27, 9, 1), link_index=0, **scanner)
    event(db, "click", "ada@tiny.example", at(4, 27, 9, 0), link_index=0, **scanner)
    event(db, "open", "ada@tiny.example", at(4, 27, 10))
    event(db, "click", "ada@tiny.example", at(4, 27, 10, 5), link_index=0)
    event(db, "open", "grace@tiny.example", at(4, 27, 11))
    event(db, "contact_page", "grace@tiny.example", at(4, 27, 11, 5))
    event(db, "contact_page", "hal@small.example", at(4, 27, 12))
    event(db, "contact_request", "hal@small.example", at(4, 27, 12, 1), note="Call me <Thursday>")
    event(db, "open", "ivy@nyc.example", at(4, 27, 13))


def send(db: Database, settings: Settings, now: datetime, rep: str | None = None) -> DigestReport:
    async def run() -> DigestReport:
        async with make_transport(settings) as transport:
            return await send_due_digests(db, settings, transport, now, rep)

    return asyncio.run(run())


def text_of(message: EmailMessage) -> str:
    return raw_text_of(message).replace("\r\n", "\n")


def cards(text: str) -> list[str]:
    """The numbered entries of a text digest, in order."""
    return [
        line.split(". ", 1)[1].split(",")[0] for line in text.splitlines() if line[:1].isdigit()
    ]


def claimed_events(db: Database) -> list[int]:
    with db.session() as session:
        return list(session.exec(select(DigestItem.event_id)).all())


def test_scheduled_digest_lists_human_engagement_by_value_with_offer_names(
    campaign: str, db: Database, settings: Settings, smtp_sink: SmtpSink
) -> None:
    engage(db)
    assert smtp_sink.to(DANA) == [], "the 09:00 tick ran Tuesday's digest: nothing to report yet"
    tick(db, settings, at(4, 28, 5, 59))
    assert smtp_sink.to(DANA) == []

    tick(db, settings, at(4, 28, 6))  # Wednesday 08:00 in Berlin
    (digest,) = smtp_sink.to(DANA)
    assert str(digest["To"]) == "Dana Reyes <dana.reyes@gitlab-demo.example>"
    assert str(digest["Subject"]) == "Email offer engagement: 3 contacts, 1 asked to be contacted"
    assert digest["Auto-Submitted"] == "auto-generated"
    text, html = text_of(digest), html_of(digest)
    assert cards(text) == ["Hal Jordan", "Grace Hopper", "Ada Lovelace"]
    assert "Sam" not in text and "Sam" not in html, "scanner-only contacts are left out"
    hal, grace, ada = text.split("\n\n")[2:5]
    assert "Developer (other)" in hal and "Small Co (SMB)" in hal
    assert "Asked to be contacted" in hal
    assert hal.index('They wrote: "Call me <Thursday>"') < hal.index("Asked to be contacted")
    assert "Visited the contact page" not in hal, "the visit led to the request"
    assert "Next step: Reply today and run Meeting 1: assess business objectives." in hal
    # The play's guide for meeting 1, from the sequence file: once, after the cards.
    assert 'Guide: "Meeting 1 - assess business objectives", at the end' in hal
    guides = text.split("\nMeeting guides\n", 1)[1]
    assert text.count("The play's guide:") == 1
    assert "The play's guide: Meeting 1 - assess business objectives" in guides
    assert "Ask 4 questions:" in guides and "1. Wanting to shift left?" in guides
    assert "4. Which desired outcomes do they most relate to" in guides
    assert "Manage Compliance with GitLab\n    https://youtu.be/QV2dIocn-hk" in guides
    assert "Milestones: Identify key value driver, champion, and economic buyer" in guides
    assert "Sales Accepted Opp" in guides
    assert "Grace Hopper, CISO (economic buyer)" in grace, "the play's buying role"
    assert "Visited the contact page without sending the request" in grace
    assert (
        "Opened\n     Email 1 “Interested in speed and security?”, Tue 27 Apr 13:00 CEST" in grace
    )
    assert "Next step: Reach out personally" in grace
    assert f"Clicked: {OFFER1}\n" in ada, "one human click: the scanner's is not counted"
    assert "Opened" not in ada, "the click implies the open"
    assert "Tue 27 Apr 12:05 CEST" in ada
    assert "Offer: https://about.gitlab.com/webcast/automate-security-ci/\n" in ada
    assert (
        "Next step: Email 2 “Learn how to deploy to production 6x faster” goes out automatically;"
        " call while the offer is fresh." in ada
    )
    for part in (text, html):
        assert "utm_" not in part and "track.example.test/t/" not in part, "no URL blobs"
        assert "https://track.example.test/app/contacts/" in part, "a link to the contact"
    assert '<a href="https://about.gitlab.com/webcast/automate-security-ci/"' in html
    assert "Call me &lt;Thursday&gt;" in html, "HTML is autoescaped"
    assert "max-width:600px" in html and "<table" not in html, "one column, readable on a phone"

    assert smtp_sink.to(TOMAS) == [], "still 02:00 in New York"
    tick(db, settings, at(4, 28, 12))
    (ivy,) = smtp_sink.to(TOMAS)
    assert cards(text_of(ivy)) == ["Ivy Chen"]
    assert str(ivy["Subject"]) == "Email offer engagement: 1 contact"
    assert smtp_sink.to(RITA) == [], "a rep with only scanner hits gets nothing"


def test_nothing_is_duplicated_across_runs(
    campaign: str, db: Database, settings: Settings, smtp_sink: SmtpSink
) -> None:
    engage(db)
    send(db, settings, at(4, 28, 6))
    send(db, settings, at(4, 28, 6))
    assert send(db, settings, at(4, 28, 6, 5), DANA).nothing_new == [DANA]
    assert len(smtp_sink.to(DANA)) == 1

    event(db, "open", "ada@tiny.example", at(4, 28, 15))
    send(db, settings, at(4, 28, 16))
    assert len(smtp_sink.to(DANA)) == 1, "the next digest waits for Thursday 08:00"
    send(db, settings, at(4, 29, 6))
    second = smtp_sink.to(DANA)[1]
    assert cards(text_of(second)) == ["Ada Lovelace"]
    assert "Opened\n     Email 1" in text_of(second) and "Clicked" not in text_of(second)
    assert str(second["Subject"]) == "Email offer engagement: 1 contact"

    ids = claimed_events(db)
    assert len(ids) == len(set(ids)) == 8  # 7 human events for Dana and Tomas on Tue, 1 on Wed
    assert smtp_sink.to(RITA) == []


def test_two_workers_at_once_send_each_engagement_once(
    campaign: str, db: Database, settings: Settings, smtp_sink: SmtpSink
) -> None:
    engage(db)
    barrier = threading.Barrier(2)

    def worker() -> None:
        barrier.wait()
        send(db, settings, at(4, 28, 12))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(smtp_sink.to(DANA)) == 1 and len(smtp_sink.to(TOMAS)) == 1
    ids = claimed_events(db)
    assert len(ids) == len(set(ids)) == 7


def test_a_crash_after_claiming_is_sent_by_the_next_run(
    campaign: str, db: Database, settings: Settings, smtp_sink: SmtpSink
) -> None:
    engage(db)
    with db.session() as session:
        dana = session.exec(select(Rep).where(Rep.email == DANA)).one()
        events = session.exec(select(Event.id).where(col(Event.is_human).is_(True))).all()
    assert dana.id is not None
    # A worker claims Dana's events, then dies before sending.
    assert claim_events(db, dana.id, [e for e in events if e is not None], at(4, 28, 6)) is not None
    assert smtp_sink.to(DANA) == []
    send(db, settings, at(4, 28, 6, 1))
    (digest,) = smtp_sink.to(DANA)
    assert cards(text_of(digest)) == ["Hal Jordan", "Grace Hopper", "Ada Lovelace", "Ivy Chen"]


def test_a_failed_send_is_retried_and_delivered_once(
    campaign: str, db: Database, settings: Settings, smtp_sink: SmtpSink
) -> None:
    engage(db)
    smtp_sink.replies[DANA] = "451 4.2.1 mailbox busy, try later"
    report = send(db, settings, at(4, 28, 6))
    assert report.retry == [DANA] and smtp_sink.to(DANA) == []
    with db.session() as session:
        (digest,) = session.exec(select(Digest).where(Digest.state != DigestState.EMPTY)).all()
    assert (digest.state, digest.attempts) == (DigestState.QUEUED, 1)
    assert digest.error == "451 4.2.1 mailbox busy, try later"

    del smtp_sink.replies[DANA]
    send(db, settings, at(4, 28, 6, 5))  # back-off is 600 s
    assert smtp_sink.to(DANA) == []
    assert send(db, settings, at(4, 28, 6, 10)).sent == [DANA]
    send(db, settings, at(4, 28, 7))
    send(db, settings, at(4, 29, 6))
    (delivered,) = smtp_sink.to(DANA)
    assert cards(text_of(delivered)) == ["Hal Jordan", "Grace Hopper", "Ada Lovelace"]
    with db.session() as session:
        retried = session.get(Digest, digest.id)
    assert retried is not None
    assert (retried.state, retried.attempts, retried.error) == (DigestState.SENT, 2, None)


def test_immediate_mode_sends_once_per_tick_with_new_engagement(
    campaign: str, db: Database, settings: Settings, smtp_sink: SmtpSink
) -> None:
    set_preference(db, TOMAS, mode="immediate")
    event(db, "open", "ivy@nyc.example", at(4, 27, 13))
    tick(db, settings, at(4, 27, 13, 1))
    tick(db, settings, at(4, 27, 13, 2))
    assert len(smtp_sink.to(TOMAS)) == 1
    event(db, "click", "ivy@nyc.example", at(4, 27, 14), link_index=0)
    tick(db, settings, at(4, 27, 14, 1))
    second = smtp_sink.to(TOMAS)[1]
    assert f"Clicked: {OFFER1}" in text_of(second)


def run_cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CAMPAIGN_CONFIG": str(settings.config_path), "COLUMNS": "400"}
    return subprocess.run([CAMPAIGN, *args], env=env, capture_output=True, text=True, check=False)


def test_cli_set_preview_send(
    campaign: str, db: Database, settings: Settings, smtp_sink: SmtpSink
) -> None:
    engage(db)
    result = run_cli(
        settings, "digests", "set", "--rep", DANA, "--hour", "7", "--weekdays", "mon,wed"
    )
    assert result.returncode == 0, result.stderr
    assert "scheduled: mon,wed at 07:00 Europe/Berlin" in result.stdout

    result = run_cli(settings, "digests", "preview", "--rep", DANA, "--now", "2021-04-28T04:00:00Z")
    assert result.returncode == 0, result.stderr
    assert "not due yet" in result.stdout and "Tue 27 Apr 14:01 CEST" in result.stdout
    out = result.stdout
    assert out.index("Hal Jordan") < out.index("Grace Hopper") < out.index("Ada Lovelace")
    assert OFFER1 in out and "Sam" not in out
    assert smtp_sink.messages[-1]["To"].addresses[0].addr_spec != DANA, "preview sends nothing"

    result = run_cli(settings, "digests", "send", "--now", "2021-04-28T04:00:00Z")
    assert "No digest due." in result.stdout and smtp_sink.to(DANA) == []
    result = run_cli(settings, "digests", "send", "--rep", DANA, "--now", "2021-04-28T04:00:00Z")
    assert result.returncode == 0, result.stderr
    assert f"sent: {DANA}" in result.stdout
    assert len(smtp_sink.to(DANA)) == 1
    result = run_cli(settings, "digests", "preview", "--rep", DANA, "--now", "2021-04-28T04:01:00Z")
    assert "Nothing new" in result.stdout

    result = run_cli(settings, "digests", "set", "--rep", "nobody@example.com", "--mode", "off")
    assert result.returncode == 1 and "no rep with email 'nobody@example.com'" in result.stderr
    result = run_cli(settings, "digests", "set", "--rep", DANA, "--weekdays", "funday")
    assert result.returncode == 1 and "unknown weekday 'funday'" in result.stderr


def test_a_digest_stuck_in_sending_is_sent_again_after_the_lease(
    campaign: str, db: Database, settings: Settings, smtp_sink: SmtpSink
) -> None:
    event(db, "unsubscribe", "ada@tiny.example", at(4, 27, 10))
    with db.session() as session:
        dana = session.exec(select(Rep).where(Rep.email == DANA)).one()
        events = [e for e in session.exec(select(Event.id)).all() if e is not None]
    assert dana.id is not None
    digest_id = claim_events(db, dana.id, events, at(4, 28, 6))
    with db.session() as session:  # a worker took it for sending, then died mid-SMTP
        digest = session.get(Digest, digest_id)
        assert digest is not None
        digest.state, digest.claimed_until = DigestState.SENDING, at(4, 28, 6, 5)
        session.add(digest)
    send(db, settings, at(4, 28, 6, 4))
    assert smtp_sink.to(DANA) == [], "the lease has not run out: the worker may still be sending"
    send(db, settings, at(4, 28, 6, 6))
    (delivered,) = smtp_sink.to(DANA)
    text = text_of(delivered)
    assert cards(text) == ["Ada Lovelace"]
    assert "- Unsubscribed\n" in text
    assert "Next step: Do not email them again: they unsubscribed." in text


SALES_OPS = "sales-ops@gitlab-demo.example"


@pytest.fixture
def unowned(db: Database, settings: Settings, tmp_path: Path) -> None:
    """Una's account has no rep (a blank owner), Ada's is Dana's; launched for Tuesday."""
    people = [
        ["ada@tiny.example", "Ada", "Lovelace", "Software Engineer", "Tiny Co", "12", "", DANA, ""],
        ["una@nobody.example", "Una", "Owned-Not", "CISO", "Nobody Co", "15", "", "", ""],
    ]
    reps = [[DANA, "Dana Reyes", "AE", "Europe/Berlin"]]
    import_reps(db, write_csv(tmp_path / "reps.csv", reps, ["email", "name", "title", "timezone"]))
    import_contacts(db, write_csv(tmp_path / "contacts.csv", people), at(4, 20, 12))
    launch(db, settings, "premium-to-ultimate", START, at(4, 20, 12))


def email_1_and_engagement(db: Database, settings: Settings) -> None:
    """Both get email 1 on Tuesday (every digest slot of the day has run) and engage with it."""
    tick(db, settings, at(4, 27, 9))
    event(db, "open", "una@nobody.example", at(4, 27, 10))
    event(db, "click", "una@nobody.example", at(4, 27, 10, 2), link_index=0)
    event(db, "open", "ada@tiny.example", at(4, 27, 11))


def test_engagement_no_rep_owns_goes_to_the_unassigned_fallback_saying_how_to_assign(
    unowned: None, db: Database, settings: Settings, smtp_sink: SmtpSink
) -> None:
    settings = dataclasses.replace(settings, reps=RepsSettings(unassigned_to=SALES_OPS))
    email_1_and_engagement(db, settings)
    tick(db, settings, at(4, 28, 7, 59))
    assert smtp_sink.to(SALES_OPS) == [], "the fallback's slot is 08:00 in the engine's zone"
    tick(db, settings, at(4, 28, 8))
    (digest,) = smtp_sink.to(SALES_OPS)
    assert str(digest["Subject"]) == (
        "Unassigned email offer engagement (no rep owns these accounts): 1 contact"
    )
    assert digest["X-Campaign-Alert"] == "unassigned_digest"
    text, html = text_of(digest), html_of(digest)
    assert text.startswith("Hello,\n\nNO REP OWNS THESE ACCOUNTS: their contacts' engagement")
    assert "  campaign accounts assign ACCOUNT REP_EMAIL\n" in text
    assert cards(text) == ["Una Owned-Not"]
    assert f"Clicked: {OFFER1}\n" in text
    assert "No rep owns Nobody Co: campaign accounts assign 'Nobody Co' REP_EMAIL" in text
    assert "Wed 28 Apr 08:00 UTC" in text, "the engine's time zone, named"
    assert "<strong>No rep owns these accounts.</strong>" in html
    assert "Ada" not in text, "Dana's contact goes to Dana"
    (dana,) = smtp_sink.to(DANA)  # her slot (06:00 UTC) passed at 07:59
    assert cards(text_of(dana)) == ["Ada Lovelace"] and "Una" not in text_of(dana)
    tick(db, settings, at(4, 29, 8))
    assert len(smtp_sink.to(SALES_OPS)) == 1, "each engagement in one digest only"


def test_without_unassigned_to_the_console_ops_users_get_it(
    unowned: None, db: Database, settings: Settings, smtp_sink: SmtpSink
) -> None:
    from campaign_engine.web.users import add_user, remove_user

    for email, role in (("olga@gitlab-demo.example", "ops"), ("otto@gitlab-demo.example", "ops"),
                        ("gone@gitlab-demo.example", "ops"), (DANA, "rep")):  # fmt: skip
        add_user(db, email, role, "a long enough password 1", at(4, 20, 12))
    remove_user(db, "gone@gitlab-demo.example", at(4, 21, 12))
    email_1_and_engagement(db, settings)
    tick(db, settings, at(4, 28, 8))
    fallback = [m for m in smtp_sink.messages if m["X-Campaign-Alert"] == "unassigned_digest"]
    assert sorted(str(m["To"]) for m in fallback) == [
        "olga@gitlab-demo.example",
        "otto@gitlab-demo.example",
    ]
    assert all(cards(text_of(m)) == ["Una Owned-Not"] for m in fallback)
