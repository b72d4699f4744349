"""A contact request alerts the rep who owns the contact's account, and nobody else: three reps,
the owner imported last (so no id of a contact, account or rep happens to point at the owner);
the page POST over real HTTP, alerts over real SMTP."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from sqlmodel import select

from campaign_engine.audience.imports import import_contacts, import_reps
from campaign_engine.core.config import Settings
from campaign_engine.engine.launch import launch
from campaign_engine.reps.alerts import send_pending_alerts
from campaign_engine.reps.contact_requests import record_contact_request
from campaign_engine.sending.transport import make_transport
from campaign_engine.store.db import Database
from campaign_engine.store.models import Alert, Rep
from campaign_engine.web.app import create_app
from tests.conftest import SmtpSink
from tests.helpers import text_of, tick, write_csv
from tests.web import Clock, serving, wait_until

DANA = "dana.reyes@gitlab-demo.example"  # imported first
RITA = "rita.quiet@gitlab-demo.example"  # owns nobody
TOMAS = "tomas.herrera@gitlab-demo.example"  # owns Ada's account
ADA = "ada@tiny.example"
BOB = "bob@other.example"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def at(month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(2021, month, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def sent(db: Database, settings: Settings, tmp_path: Path, smtp_sink: SmtpSink) -> SmtpSink:
    reps = [
        [DANA, "Dana Reyes", "Account Executive", "UTC"],
        [RITA, "Rita Quiet", "Account Executive", "UTC"],
        [TOMAS, "Tomás Herrera", "Account Executive", "UTC"],
    ]
    header = ["email", "name", "title", "timezone"]
    assert import_reps(db, write_csv(tmp_path / "reps.csv", reps, header)).rejected == []
    contacts = [
        [BOB, "Bob", "Builder", "Developer", "Other Co", "20", "", DANA, ""],
        [ADA, "Ada", "Lovelace", "Software Engineer", "Tiny Co", "12", "", TOMAS, ""],
    ]
    assert import_contacts(db, write_csv(tmp_path / "c.csv", contacts), at(4, 20)).rejected == []
    with db.session() as session:
        first = session.exec(select(Rep.email).order_by(Rep.id)).first()  # type: ignore[arg-type]
    assert first == DANA, "the owner must not be the first rep, or a wrong lookup goes unseen"
    launch(db, settings, "premium-to-ultimate", date(2021, 4, 27), at(4, 20))
    tick(db, settings, at(4, 27, 9))
    assert (len(smtp_sink.to(ADA)), len(smtp_sink.to(BOB))) == (1, 1)
    assert len(smtp_sink.messages) == 2, "nothing but email 1 so far"
    return smtp_sink


def alerts_to(sink: SmtpSink, rep: str) -> list[EmailMessage]:
    return [m for m in sink.to(rep) if m["X-Campaign-Alert"] == "contact_request"]


def recipients(sink: SmtpSink) -> list[str]:
    """Everyone who got mail besides the two contacts' email 1, in order of arrival."""
    return [addr for e in sink.envelopes for addr in e.rcpt_tos if addr not in (ADA, BOB)]


@pytest.fixture
def base(settings: Settings, db: Database, sent: SmtpSink) -> Iterator[str]:
    with serving(create_app(settings, db, clock=Clock(at(4, 27, 11)))) as url:
        yield url


def test_the_page_post_alerts_the_owner_only(
    base: str, db: Database, sent: SmtpSink, settings: Settings
) -> None:
    (email_1,) = sent.to(ADA)
    (contact_path,) = re.findall(r"https://track\.example\.test(/c/[\w-]+)", text_of(email_1))
    with httpx.Client(base_url=base, headers={"User-Agent": BROWSER}, timeout=10) as http:
        page = http.post(contact_path, data={"message": "Call me about SAST"})
    assert page.status_code == 200
    assert "Tomás Herrera" in page.text and "Dana Reyes" not in page.text

    wait_until(lambda: len(alerts_to(sent, TOMAS)) == 1, what="Tomás's contact-request alert")
    (alert,) = alerts_to(sent, TOMAS)
    assert str(alert["To"]) == f"Tomás Herrera <{TOMAS}>"
    assert str(alert["Subject"]) == "Contact request: Ada Lovelace, Tiny Co (email 1)"
    text = text_of(alert)
    assert text.startswith("Hi Tomás Herrera,")
    assert "Call me about SAST" in text and f"Email:      {ADA}" in text

    def stored() -> list[tuple[int | None, str]]:
        with db.session() as session:
            return [(a.rep_id, a.state) for a in session.exec(select(Alert))]

    with db.session() as session:
        tomas = session.exec(select(Rep).where(Rep.email == TOMAS)).one()
    # The relay has it; the sender records that just after.
    wait_until(lambda: stored() == [(tomas.id, "sent")], what="one alert, to Tomás, recorded sent")
    # Nothing else may be on its way to the other rep: the queue is empty and she got nothing.
    tick(db, settings, at(4, 27, 11, 1))
    assert recipients(sent) == [TOMAS]


def test_a_request_recorded_by_hand_alerts_the_owner_only(
    db: Database, settings: Settings, sent: SmtpSink
) -> None:
    result = record_contact_request(db, settings, at(4, 27, 12), email=ADA, source="manual")
    assert (result.rep_email, result.rep_name) == (TOMAS, "Tomás Herrera")

    async def deliver(now: datetime) -> int:
        async with make_transport(settings) as transport:
            return await send_pending_alerts(db, settings, transport, now)

    assert asyncio.run(deliver(at(4, 27, 12))) == 1
    (alert,) = alerts_to(sent, TOMAS)
    assert "Ada Lovelace, Software Engineer" in text_of(alert)
    assert recipients(sent) == [TOMAS]

    # And the other way round: Dana's own contact reaches Dana, not Tomás.
    record_contact_request(db, settings, at(4, 27, 13), email=BOB, source="manual")
    assert asyncio.run(deliver(at(4, 27, 13))) == 1
    (bob_alert,) = alerts_to(sent, DANA)
    assert str(bob_alert["Subject"]) == "Contact request: Bob Builder, Other Co (email 1)"
    assert recipients(sent) == [TOMAS, DANA]
