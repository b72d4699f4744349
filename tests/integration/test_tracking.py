"""The tracking endpoints over real HTTP (uvicorn on loopback), with mail over real SMTP."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import select
from typer.testing import CliRunner

from campaign_engine.audience.imports import import_contacts, import_reps
from campaign_engine.cli import app as cli_app
from campaign_engine.core.config import Settings
from campaign_engine.core.kinds import AlertState, MessageState
from campaign_engine.core.tokens import TokenKind, TokenSigner
from campaign_engine.engine.launch import launch
from campaign_engine.reps.contact_requests import record_contact_request
from campaign_engine.sending.campaigns import schedule_for, sequence_of
from campaign_engine.sending.dispatcher import Dispatcher
from campaign_engine.sending.transport import make_transport
from campaign_engine.store.db import Database
from campaign_engine.store.models import (
    Alert,
    Contact,
    Draft,
    Enrollment,
    Event,
    Message,
    Suppression,
)
from campaign_engine.store.queries import campaign_by_name
from campaign_engine.tracking.routes import PIXEL_GIF
from campaign_engine.web.app import create_app
from tests.conftest import SmtpSink, free_port
from tests.helpers import CAMPAIGN, html_of, text_of, tick, write_csv
from tests.web import Clock, serving, wait_until

REP = "dana.reyes@gitlab-demo.example"
ADA = "ada@tiny.example"
GRACE = "grace@tiny.example"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
TRACK = "https://track.example.test"
OFFER_1 = "https://about.gitlab.com/webcast/automate-security-ci/"


def at(month: int, day: int, hour: int = 9, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2021, month, day, hour, minute, second, tzinfo=UTC)


@pytest.fixture
def sent(db: Database, settings: Settings, tmp_path: Path, smtp_sink: SmtpSink) -> SmtpSink:
    """Email 1 went to Ada and Grace (SMB) on 2021-04-27 09:00; Mia (MM) is left to the rep."""
    contacts = write_csv(
        tmp_path / "targets.csv",
        [
            [ADA, "Ada", "Lovelace", "Software Engineer", "Tiny Co", "12", "", REP, ""],
            [GRACE, "Grace", "Hopper", "CISO", "Tiny Co", "12", "", REP, ""],
            ["mia@midsize.example", "Mia", "Middle", "CTO", "Midsize", "300", "", REP, ""],
        ],
    )
    reps = write_csv(
        tmp_path / "reps.csv",
        [[REP, "Dana Reyes", "Account Executive", "America/New_York"]],
        header=["email", "name", "title", "timezone"],
    )
    assert import_reps(db, reps).rejected == []
    assert import_contacts(db, contacts, at(4, 20)).rejected == []
    launch(db, settings, "premium-to-ultimate", date(2021, 4, 27), at(4, 20))
    tick(db, settings, at(4, 27, 9))
    assert len(smtp_sink.messages) == 2
    return smtp_sink


@pytest.fixture
def clock() -> Clock:
    return Clock(at(4, 27, 10))  # an hour after delivery: a person, as far as timing goes


@pytest.fixture
def base(settings: Settings, db: Database, clock: Clock, sent: SmtpSink) -> Iterator[str]:
    with serving(create_app(settings, db, clock=clock)) as url:
        yield url


@pytest.fixture
def http(base: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base, headers={"User-Agent": BROWSER}, timeout=10) as client:
        yield client


def links(message: EmailMessage, base: str) -> dict[str, str]:
    """The tracked URLs of a delivered email, pointed at the test server."""
    text, html = text_of(message), html_of(message)
    found = {kind: re.findall(rf"{TRACK}(/{kind}/[\w-]+)", text) for kind in "tcu"}
    pixel = re.search(rf"{TRACK}(/o/[\w-]+\.gif)", html)
    assert pixel and all(len(v) == 1 for v in found.values()), found
    return {
        "click": found["t"][0],
        "contact": found["c"][0],
        "unsubscribe": found["u"][0],
        "pixel": pixel.group(1),
    }


def events(db: Database, **where: object) -> list[Event]:
    with db.session() as session:
        query = select(Event).order_by(Event.id)  # type: ignore[arg-type]
        for key, value in where.items():
            query = query.where(getattr(Event, key) == value)
        return list(session.exec(query))


def wait_for_events(db: Database, count: int, **where: object) -> list[Event]:
    wait_until(lambda: len(events(db, **where)) >= count, what=f"{count} event(s) {where}")
    return events(db, **where)


def test_click_redirects_to_the_registered_url_with_utm_and_is_recorded(
    base: str, http: httpx.Client, db: Database, sent: SmtpSink
) -> None:
    ada = links(sent.to(ADA)[0], base)
    response = http.get(ada["click"])
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith(OFFER_1)
    assert parse_qs(urlsplit(location).query) == {
        "utm_medium": ["email"],
        "utm_source": ["gmail"],
        "utm_campaign": ["premtoultimatesp"],
        "utm_content": ["automatesecurityci"],
    }
    assert "no-store" in response.headers["cache-control"]
    (event,) = wait_for_events(db, 1, kind="click")
    with db.session() as session:
        ada_id = session.exec(select(Contact.id).where(Contact.email == ADA)).one()
    assert (event.contact_id, event.link_index, event.url) == (ada_id, 0, location)
    assert (event.is_human, event.bot_reason) == (True, None)
    assert (event.user_agent, event.ip_prefix) == (BROWSER, "127.0.0.0/24")
    assert event.occurred_at == at(4, 27, 10)

    pixel = http.get(ada["pixel"])
    assert (pixel.status_code, pixel.headers["content-type"]) == (200, "image/gif")
    assert pixel.content == PIXEL_GIF and len(PIXEL_GIF) == 43
    (opened,) = wait_for_events(db, 1, kind="open")
    assert opened.is_human


def test_forged_truncated_and_foreign_tokens_redirect_nowhere(
    base: str, http: httpx.Client, db: Database, sent: SmtpSink, settings: Settings
) -> None:
    ada = links(sent.to(ADA)[0], base)
    token = ada["click"].rsplit("/", 1)[1]
    flipped = token[:10] + ("A" if token[10] != "A" else "B") + token[11:]
    contact_token = ada["contact"].rsplit("/", 1)[1]
    other_secret = TokenSigner("not-our-secret").sign(TokenKind.CLICK, 1, 0)
    for path in (
        f"/t/{flipped}",
        f"/t/{token[:-1]}",
        f"/t/{token}x",
        f"/t/{contact_token}",  # a genuine token, of another kind
        f"/t/{other_secret}",
        f"/t/{'A' * 5000}",
        "/t/",
        f"/t/{token}/",  # no redirect to the slash-less URL: only a verified token redirects
        f"/c/{contact_token}/",
        "/t/../../etc/passwd",
        "/redirect?to=https://evil.example/",
        f"/c/{token}",
        f"/u/{flipped}",
    ):
        response = http.get(path)
        assert response.status_code == 404, path
        assert "location" not in response.headers, path
        assert "evil.example" not in response.text
    # Query parameters change nothing: a genuine token goes where it was registered to go.
    tampered = http.get(f"/t/{token}?url=https://evil.example/&next=https://evil.example/")
    assert tampered.headers["location"].startswith(OFFER_1)
    # The pixel always answers a GIF, even for a bad token, and records nothing for it: a
    # wrong signature, or a genuine token of this very message but of another kind.
    pixel_token = ada["pixel"].rsplit("/", 1)[1].removesuffix(".gif")
    unsubscribe_token = ada["unsubscribe"].rsplit("/", 1)[1]
    pixel_flipped = pixel_token[:10] + ("A" if pixel_token[10] != "A" else "B") + pixel_token[11:]
    signer = TokenSigner(settings.secret)
    genuine = signer.verify(pixel_token)
    assert genuine is not None and genuine.kind == TokenKind.OPEN
    for other in (token, contact_token, unsubscribe_token):
        payload = signer.verify(other)
        assert payload is not None and payload.message_id == genuine.message_id
    for forged in (flipped, pixel_flipped, token, contact_token, unsubscribe_token):
        bad_pixel = http.get(f"/o/{forged}.gif")
        assert (bad_pixel.status_code, bad_pixel.content) == (200, PIXEL_GIF)
    http.get(ada["pixel"])  # one genuine open, to know the writer caught up
    wait_for_events(db, 2)
    assert [e.kind for e in events(db)] == ["click", "open"]


def test_machines_are_recorded_but_flagged(
    base: str, http: httpx.Client, db: Database, sent: SmtpSink, clock: Clock
) -> None:
    ada = links(sent.to(ADA)[0], base)
    assert http.head(ada["click"]).status_code == 302
    wait_for_events(db, 1)
    gateway = {"User-Agent": "Mozilla/5.0 (compatible; Barracuda Sentinel)"}
    assert http.get(ada["click"], headers=gateway).status_code == 302
    wait_for_events(db, 2)
    http.get(ada["pixel"], headers={"User-Agent": "Mozilla/5.0"})  # Apple Mail privacy
    wait_for_events(db, 3)
    gmail = (
        "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
    )
    http.get(ada["pixel"], headers={"User-Agent": gmail})
    wait_for_events(db, 4)
    clock.now = at(4, 27, 9, 0, 3)  # three seconds after delivery: a pre-fetch
    http.get(ada["click"])
    wait_for_events(db, 5)
    assert [(e.kind, e.is_human, e.bot_reason, e.note) for e in events(db)] == [
        ("click", False, "head_request", None),
        ("click", False, "scanner:barracuda", None),
        ("open", False, "apple_privacy", None),
        ("open", True, None, "via gmail image proxy"),
        ("click", False, "too_soon", None),
    ]


def test_every_link_of_a_message_hit_at_once_is_a_scanner(
    base: str, http: httpx.Client, db: Database, sent: SmtpSink, clock: Clock
) -> None:
    grace = links(sent.to(GRACE)[0], base)
    for index, kind in enumerate(("click", "contact", "unsubscribe")):
        clock.now = at(4, 27, 11, 0, 0) + timedelta(milliseconds=300 * index)
        assert http.get(grace[kind]).status_code in (200, 302)
    flagged = wait_for_events(db, 3)
    assert [(e.kind, e.is_human, e.bot_reason) for e in flagged] == [
        ("click", False, "all_links"),
        ("contact_page", False, "all_links"),
        ("unsubscribe_page", False, "all_links"),
    ]
    clock.now = at(4, 27, 12)  # later, a person clicks the offer: counted
    http.get(grace["click"])
    assert wait_for_events(db, 4)[-1].is_human


def test_the_burst_rule_holds_across_server_processes(
    settings: Settings, db: Database, sent: SmtpSink, clock: Clock
) -> None:
    """Two servers (as with `campaign serve --workers 2`), each with its own recorder and
    memory: the links of one message hit through both at once are still all flagged."""
    with (
        serving(create_app(settings, db, clock=clock)) as first,
        serving(create_app(settings, db, clock=clock)) as second,
        httpx.Client(headers={"User-Agent": BROWSER}, timeout=10) as http,
    ):
        grace = links(sent.to(GRACE)[0], "")
        for index, (server, kind) in enumerate(
            [(first, "click"), (second, "contact"), (second, "unsubscribe")]
        ):
            clock.now = at(4, 27, 11, 0, 0) + timedelta(milliseconds=300 * index)
            assert http.get(server + grace[kind]).status_code in (200, 302)
            wait_for_events(db, index + 1)
    assert [(e.kind, e.is_human, e.bot_reason) for e in events(db)] == [
        ("click", False, "all_links"),
        ("contact_page", False, "all_links"),
        ("unsubscribe_page", False, "all_links"),
    ]


def test_the_database_is_asked_about_bursts_only_for_a_link_new_in_the_window(
    base: str, http: httpx.Client, db: Database, sent: SmtpSink, clock: Clock
) -> None:
    """A person clicking the same offer again and again costs one burst check, not one per
    click: only a link the message had not had within the span can complete a burst."""
    checks: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().startswith("SELECT DISTINCT event.message_id"):
            checks.append(statement)

    ada = links(sent.to(ADA)[0], base)
    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        for index in range(5):
            clock.now = at(4, 27, 11) + timedelta(milliseconds=200 * index)
            assert http.get(ada["click"]).status_code == 302
            wait_for_events(db, index + 1)
        assert len(checks) == 1
        clock.now = at(4, 27, 11, 0, 1)
        assert http.get(ada["contact"]).status_code == 200  # a new link: checked
        wait_for_events(db, 6)
        assert len(checks) == 2
        clock.now = at(4, 27, 11, 0, 5)  # the span has passed: the offer is new again
        assert http.get(ada["click"]).status_code == 302
        wait_for_events(db, 7)
        assert len(checks) == 3
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    assert all(e.is_human for e in events(db))


def test_serve_with_two_worker_processes_stores_every_hit_and_flags_bursts(
    settings: Settings, db: Database, sent: SmtpSink
) -> None:
    port = free_port()
    env = {**os.environ, "CAMPAIGN_CONFIG": str(settings.config_path)}
    server = subprocess.Popen(
        [CAMPAIGN, "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _answers(base), timeout=60, what="campaign serve --workers 2")
        ada, grace = links(sent.to(ADA)[0], base), links(sent.to(GRACE)[0], base)
        for _ in range(20):  # a new connection each: spread over the workers
            assert (
                httpx.get(base + ada["pixel"], headers={"User-Agent": BROWSER}).status_code == 200
            )
        for kind in ("click", "contact", "unsubscribe"):  # a scanner hits every link at once
            httpx.get(base + grace[kind], headers={"User-Agent": BROWSER})
    finally:
        server.send_signal(signal.SIGINT)
        _, errors = server.communicate(timeout=30)
    assert server.returncode == 0, errors
    assert len(events(db, kind="open", is_human=True)) == 20
    flagged = [(e.kind, e.is_human, e.bot_reason) for e in events(db) if e.kind != "open"]
    assert flagged == [
        ("click", False, "all_links"),
        ("contact_page", False, "all_links"),
        ("unsubscribe_page", False, "all_links"),
    ]


def _answers(base: str) -> bool:
    try:
        httpx.get(base + "/healthz", timeout=1)
    except httpx.TransportError:
        return False
    return True


def test_contact_page_get_is_a_click_never_a_request(
    base: str, http: httpx.Client, db: Database, sent: SmtpSink
) -> None:
    ada = links(sent.to(ADA)[0], base)
    page = http.get(ada["contact"])
    assert page.status_code == 200
    assert "Dana Reyes" in page.text and "Tiny Co" in page.text
    assert f'action="{ada["contact"]}"' in page.text and 'method="post"' in page.text
    assert http.head(ada["contact"]).status_code == 200
    assert [e.kind for e in wait_for_events(db, 2)] == ["contact_page", "contact_page"]
    with db.session() as session:
        assert session.exec(select(Alert)).all() == []
        statuses = session.exec(select(Enrollment.status)).all()
    assert set(statuses) == {"active"}
    assert len(sent.messages) == 2


def test_get_and_head_never_unsubscribe_nor_request_contact(
    base: str, http: httpx.Client, db: Database, sent: SmtpSink
) -> None:
    ada = links(sent.to(ADA)[0], base)
    one_click = "?List-Unsubscribe=One-Click&confirm=1&message=call+me&preferred_time=now"
    for path in (ada["unsubscribe"], ada["contact"]):
        for query in ("", one_click):
            assert http.get(path + query).status_code == 200
            assert http.head(path + query).status_code == 200
    wait_for_events(db, 8)
    assert {e.kind for e in events(db)} == {"unsubscribe_page", "contact_page"}
    with db.session() as session:
        contact = session.exec(select(Contact).where(Contact.email == ADA)).one()
        assert (contact.outreach_mode, contact.unsubscribed_at) == ("C", None)
        assert session.exec(select(Suppression)).all() == []
        assert session.exec(select(Alert)).all() == []
        assert set(session.exec(select(Enrollment.status)).all()) == {"active"}
    assert len(sent.messages) == 2  # no alert went to the rep


def test_contact_request_stops_emails_2_and_3_for_that_contact_only_and_alerts_the_rep(
    base: str, http: httpx.Client, db: Database, settings: Settings, sent: SmtpSink
) -> None:
    ada = links(sent.to(ADA)[0], base)
    response = http.post(
        ada["contact"],
        data={"preferred_time": "Thursday 3pm CET", "message": "Can we talk about SAST?"},
    )
    assert response.status_code == 200
    assert "Dana Reyes" in response.text and "Thursday 3pm CET" in response.text
    wait_until(lambda: len(sent.to(REP)) == 1, what="the rep's alert")
    again = http.post(  # a double submit (or a reload) is the same request
        ada["contact"],
        data={"preferred_time": "Thursday 3pm CET", "message": "Can we talk about SAST?"},
    )
    assert again.status_code == 200 and "Dana Reyes" in again.text
    (alert,) = sent.to(REP)
    assert str(alert["To"]) == f"Dana Reyes <{REP}>"
    assert str(alert["Subject"]) == "Contact request: Ada Lovelace, Tiny Co (email 1)"
    assert str(alert["Reply-To"]) == f"Ada Lovelace <{ADA}>"
    text = text_of(alert)
    for expected in (
        "Who:        Ada Lovelace, Software Engineer",
        "Account:    Tiny Co (SMB)",
        f"Email:      {ADA}",
        'From email: 1, "Interested in speed and security?"',
        "Offer:      From DevOps to DevSecOps: Automate your security tests with CI",
        "Recommended next step: Meeting 1: assess business objectives",
        "Preferred time: Thursday 3pm CET",
        "Can we talk about SAST?",
        # The play's meeting guide for email 1, read from the sequence file.
        "The play's guide: Meeting 1 - assess business objectives",
        "Ask 4 questions:",
        "1. Wanting to shift left? (If no, talk to the Dev or DevOps team instead of security)",
        "3. Using containers and/or Kubernetes?",
        "Security and Compliance Overview (focus on the desired outcomes slide)",
        "Milestones: Identify key value driver, champion, and economic buyer, agree to second meeting",
        "Metric: Opportunity stage 0 - pending acceptance or stage 1 - Sales Accepted Opp",
        "Open the contact: https://track.example.test/app/contacts/",
    ):
        assert expected in text, expected
    assert "Meeting 1: assess business objectives" in html_of(alert)
    assert re.search(r"Received: +\w{3} \d\d \w{3} \d\d:\d\d \w+", text), "rep's wall clock"
    assert "/app/contacts/" in html_of(alert) and "Ask 4 questions" in html_of(alert)

    with db.session() as session:
        contact = session.exec(select(Contact).where(Contact.email == ADA)).one()
        enrollment = session.exec(select(Enrollment).where(Enrollment.contact_id == contact.id))
        stopped = enrollment.one()
        (request,) = session.exec(select(Event).where(Event.kind == "contact_request")).all()
        stored = session.exec(select(Alert)).one()
    assert contact.outreach_mode == "B"
    assert (stopped.status, stopped.stop_reason) == ("stopped", "contact request")
    assert "Can we talk about SAST?" in (request.note or "")
    assert (stored.state, stored.kind) == (AlertState.SENT, "contact_request")
    with db.session() as session:
        drafts = session.exec(select(Draft.step).where(Draft.contact_id == contact.id)).all()
    assert drafts == [], "the rep talks to them directly: no sequence email 2 to a raised hand"

    for moment in (at(5, 4, 9), at(5, 11, 9), at(5, 18, 9)):
        tick(db, settings, moment)
    assert [str(m["Subject"]) for m in sent.to(ADA)] == ["Interested in speed and security?"]
    assert [str(m["Subject"]) for m in sent.to(GRACE)] == [
        "Interested in speed and security?",
        "Learn how to deploy to production 6x faster",
        "No more afterthought security",
    ]
    alerts = [m for m in sent.to(REP) if str(m["Subject"]).startswith("Contact request")]
    assert len(alerts) == 1, "one alert, never repeated"
    digests = [m for m in sent.to(REP) if m not in alerts]
    assert all("engagement" in str(m["Subject"]).lower() for m in digests), "only digests besides"


def test_a_queued_step_not_yet_handed_to_smtp_is_stopped_too(
    base: str, http: httpx.Client, db: Database, settings: Settings, sent: SmtpSink
) -> None:
    sent.replies[ADA] = "451 4.3.0 mailbox busy"
    tick(db, settings, at(5, 4, 9))  # email 2 to Ada waits for a retry
    del sent.replies[ADA]
    ada = links(sent.to(ADA)[0], base)
    assert http.post(ada["contact"], data={"message": "call me"}).status_code == 200
    tick(db, settings, at(5, 4, 11))
    tick(db, settings, at(5, 11, 9))
    assert len(sent.to(ADA)) == 1
    with db.session() as session:
        states = session.exec(
            select(Message.step, Message.state, Message.skip_reason)
            .join(Contact, Contact.id == Message.contact_id)  # type: ignore[arg-type]
            .where(Contact.email == ADA)
            .order_by(Message.step)  # type: ignore[arg-type]
        ).all()
    assert states == [(1, "sent", None), (2, "skipped", "contact request")]


def test_an_alert_the_relay_refused_is_retried_by_the_next_tick(
    base: str, http: httpx.Client, db: Database, settings: Settings, sent: SmtpSink
) -> None:
    sent.replies[REP] = "451 4.7.1 greylisted, try later"
    ada = links(sent.to(ADA)[0], base)
    assert http.post(ada["contact"], data={}).status_code == 200

    def alert_state() -> tuple[str, int]:
        with db.session() as session:
            alert = session.exec(select(Alert)).one()
            return alert.state, alert.attempts

    wait_until(lambda: alert_state() == ("queued", 1), what="the failed first attempt")
    del sent.replies[REP]
    tick(db, settings, at(4, 27, 10, 5))  # back-off (600 s) not over yet
    assert sent.to(REP) == []
    tick(db, settings, at(4, 27, 10, 11))
    assert len(sent.to(REP)) == 1
    assert alert_state() == ("sent", 2)


def test_header_and_html_injection_in_the_form_never_reach_the_alert_headers(
    base: str, http: httpx.Client, db: Database, sent: SmtpSink
) -> None:
    ada = links(sent.to(ADA)[0], base)
    response = http.post(
        ada["contact"],
        data={
            "preferred_time": "now\r\nBcc: victim@evil.example\r\nSubject: pwned",
            "message": "hello\r\nBcc: victim@evil.example\r\n\r\n<script>alert(1)</script>",
        },
    )
    assert response.status_code == 200
    assert "<script>" not in response.text
    wait_until(lambda: len(sent.to(REP)) == 1, what="the rep's alert")
    (alert,) = sent.to(REP)
    assert alert["Bcc"] is None
    assert str(alert["Subject"]) == "Contact request: Ada Lovelace, Tiny Co (email 1)"
    assert [e.rcpt_tos for e in sent.envelopes][-1] == [REP]
    assert all("evil.example" not in value for _, value in alert.items())
    assert "now Bcc: victim@evil.example Subject: pwned" in text_of(alert)
    assert "&lt;script&gt;" in html_of(alert) and "<script>" not in html_of(alert)


def test_bad_bodies_are_refused_with_the_right_status(
    base: str, http: httpx.Client, db: Database, sent: SmtpSink
) -> None:
    ada = links(sent.to(ADA)[0], base)
    huge = http.post(ada["contact"], content=b"message=" + b"x" * 20_000)
    assert huge.status_code == 413

    def chunks() -> Iterator[bytes]:
        for _ in range(40):
            yield b"x" * 1024

    streamed = http.post(ada["unsubscribe"], content=chunks())  # no Content-Length
    assert streamed.status_code == 413
    too_long = http.post(ada["contact"], data={"message": "y" * 5000})
    assert too_long.status_code == 400 and "at most 2000" in too_long.text
    assert http.put(ada["contact"]).status_code == 405
    assert http.get("/nothing/here").status_code == 404
    with db.session() as session:
        contact = session.exec(select(Contact).where(Contact.email == ADA)).one()
        assert session.exec(select(Alert)).all() == []
    assert (contact.outreach_mode, contact.unsubscribed_at) == ("C", None)


def test_one_click_unsubscribe_stops_later_mail(
    base: str, http: httpx.Client, db: Database, settings: Settings, sent: SmtpSink
) -> None:
    (first,) = sent.to(ADA)
    ada = links(first, base)
    assert first["List-Unsubscribe"] == f"<{TRACK}{ada['unsubscribe']}>"
    assert first["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    confirm = http.get(ada["unsubscribe"])
    assert confirm.status_code == 200 and ADA in confirm.text and 'method="post"' in confirm.text
    # What a mailbox provider sends for RFC 8058 one-click: a POST, no cookies, no page needed.
    response = httpx.post(
        base + ada["unsubscribe"],
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    with db.session() as session:
        contact = session.exec(select(Contact).where(Contact.email == ADA)).one()
        suppression = session.exec(select(Suppression)).one()
    assert contact.unsubscribed_at == at(4, 27, 10)
    assert (suppression.email, suppression.reason) == (ADA, "unsubscribe")
    (event,) = events(db, kind="unsubscribe")
    assert event.note == "one-click"
    tick(db, settings, at(5, 4, 9))
    tick(db, settings, at(5, 11, 9))
    assert len(sent.to(ADA)) == 1
    assert len(sent.to(GRACE)) == 3


def test_many_concurrent_hits_are_all_stored_and_never_fail(
    base: str, db: Database, sent: SmtpSink
) -> None:
    ada, grace = links(sent.to(ADA)[0], base), links(sent.to(GRACE)[0], base)
    paths = [ada["click"], grace["pixel"]] * 100 + [f"/t/forged{i}" for i in range(20)]

    async def hit_all() -> list[int]:
        limits = httpx.Limits(max_connections=50)
        async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
            responses = await asyncio.gather(
                *(client.get(p, headers={"User-Agent": BROWSER}) for p in paths)
            )
        return [r.status_code for r in responses]

    statuses = asyncio.run(hit_all())
    assert statuses.count(302) == 100 and statuses.count(200) == 100 and statuses.count(404) == 20
    stored = wait_for_events(db, 200)
    assert len(stored) == 200
    assert sum(e.kind == "click" for e in stored) == sum(e.kind == "open" for e in stored) == 100


def test_clicks_arriving_together_on_a_fresh_email_share_one_lookup_of_it(
    base: str, db: Database, sent: SmtpSink
) -> None:
    """A scanner opening every link of an email just delivered: the server has not seen the
    message yet, and the hits arriving together wait for one lookup of it, not one each."""
    lookups: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        if "campaign.links_json" in statement and statement.lstrip().startswith("SELECT"):
            lookups.append(statement)

    ada = links(sent.to(ADA)[0], base)

    async def click_together() -> list[int]:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            responses = await asyncio.gather(
                *(client.get(ada["click"], headers={"User-Agent": BROWSER}) for _ in range(40))
            )
        return [r.status_code for r in responses]

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        assert asyncio.run(click_together()) == [302] * 40
        assert len(wait_for_events(db, 40)) == 40
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    assert len(lookups) == 1, lookups


def test_contact_request_by_hand_from_the_cli(
    db: Database, settings: Settings, sent: SmtpSink
) -> None:
    runner = CliRunner()
    result = runner.invoke(
        cli_app,
        ["--config", str(settings.config_path), "contact-request", GRACE, "--note", "She called"],
    )
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    assert "(email 1)" in output and "1 automated enrollment(s) stopped" in output
    (alert,) = sent.to(REP)
    text = text_of(alert)
    assert "Grace Hopper, CISO" in text and "recorded by hand" in text
    assert "Meeting 1: assess business objectives" in text and "She called" in text
    unknown = runner.invoke(
        cli_app, ["--config", str(settings.config_path), "contact-request", "nobody@x.example"]
    )
    assert unknown.exit_code != 0


def test_concurrent_unsubscribes_and_contact_requests_never_fail(
    base: str, db: Database, sent: SmtpSink
) -> None:
    ada, grace = links(sent.to(ADA)[0], base), links(sent.to(GRACE)[0], base)
    one_click = {"content": b"List-Unsubscribe=One-Click"}
    form = {"content-type": "application/x-www-form-urlencoded", "user-agent": BROWSER}

    async def post_all() -> list[int]:
        async with httpx.AsyncClient(base_url=base, timeout=30, headers=form) as client:
            requests = [client.post(ada["unsubscribe"], **one_click) for _ in range(15)]
            requests += [
                client.post(grace["contact"], content=f"message=hello+{i}".encode())
                for i in range(15)
            ]
            return [r.status_code for r in await asyncio.gather(*requests)]

    assert asyncio.run(post_all()) == [200] * 30
    with db.session() as session:
        assert len(session.exec(select(Suppression)).all()) == 1
        grace_mode = session.exec(select(Contact.outreach_mode).where(Contact.email == GRACE))
        assert grace_mode.one() == "B"
    assert len(events(db, kind="unsubscribe")) == 15
    assert len(events(db, kind="contact_request")) == 15


def test_a_step_already_claimed_by_a_worker_is_refused_at_send_time(
    db: Database, settings: Settings, sent: SmtpSink
) -> None:
    with db.session() as session:
        campaign = campaign_by_name(session, "premium-to-ultimate 2021-04-27")
    schedule = schedule_for(campaign, sequence_of(campaign))

    async def race() -> Counter[str]:
        async with make_transport(settings) as transport:
            dispatcher = Dispatcher(db, settings, transport)
            dispatcher._queue_due(campaign, schedule, at(5, 4, 9), 100)
            batch = dispatcher._claim(campaign, schedule, at(5, 4, 9), 100)
            assert batch is not None and len(batch.messages) == 2
            # The contact confirms on the page while the worker holds email 2 in its batch.
            record_contact_request(db, settings, at(5, 4, 9), email=ADA)
            counts: Counter[str] = Counter()
            await dispatcher._send(batch, at(5, 4, 9), counts)
            return counts

    counts = asyncio.run(race())
    assert (counts["sent"], counts["skipped"]) == (1, 1)
    assert [str(m["Subject"]) for m in sent.to(ADA)] == ["Interested in speed and security?"]
    assert len(sent.to(GRACE)) == 2
    with db.session() as session:
        reason = session.exec(
            select(Message.skip_reason).where(Message.state == MessageState.SKIPPED)
        ).one()
    assert reason == "enrollment stopped"
