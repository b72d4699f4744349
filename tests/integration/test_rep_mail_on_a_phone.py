"""The digest and the alert as a rep reads them on a phone: received over SMTP, opened in
Chromium at 375 px. The contact's own words first, the meeting guide once, times on the rep's
clock with the zone named, no link wider than the screen; the plain-text part says the same."""

from __future__ import annotations

from email.message import EmailMessage

import pytest
from sqlmodel import select

from campaign_engine.core.config import Settings
from campaign_engine.reps.contact_requests import RequestForm, record_contact_request
from campaign_engine.store.db import Database
from campaign_engine.store.models import Contact, Message
from tests.browser import ARTIFACTS, chromium, needs_chromium, shoot
from tests.conftest import SmtpSink
from tests.helpers import html_of, tick
from tests.integration.test_digests import (  # noqa: F401  (campaign: a fixture)
    DANA,
    at,
    campaign,
    event,
    text_of,
)

LONG_LINK = (
    "https://docs.google.com/presentation/d/1WHTyUDOMuSVK9uK7hhSIQ_JbeUbo7k5AW3D6WwBReOg/"
    "edit#slide=id.g9d701d7d89_8_1931"
)
ADA_SAYS = f"We looked at your deck {LONG_LINK} and want to talk about SAST."


def message_id(db: Database, who: str, step: int) -> int:
    with db.session() as session:
        contact = session.exec(select(Contact).where(Contact.email == who)).one()
        found = session.exec(
            select(Message.id).where(Message.contact_id == contact.id, Message.step == step)
        ).one()
        assert found is not None
        return found


def four_people_engage(db: Database, settings: Settings) -> None:
    """Email 2 went out on Tuesday 4 May; three ask for contact, one clicks."""
    tick(db, settings, at(5, 4, 9))
    requests = [
        ("ada@tiny.example", 1, "web", RequestForm(ADA_SAYS, "Thursday 3pm CET")),
        ("hal@small.example", 1, "web", RequestForm("Call me, please.", "")),
        ("grace@tiny.example", 2, "reply", RequestForm("Send me the container security deck.")),
    ]
    for minute, (who, step, source, form) in enumerate(requests):
        record_contact_request(
            db,
            settings,
            at(5, 4, 10, minute),
            message_id=message_id(db, who, step),
            form=form,
            source=source,
        )
    event(db, "click", "sam@small.example", at(5, 4, 11), step=2, link_index=0)


def digest_of(sink: SmtpSink) -> EmailMessage:
    (digest,) = [m for m in sink.to(DANA) if str(m["Subject"]).startswith("Email offer")]
    return digest


@needs_chromium
@pytest.mark.usefixtures("campaign")
def test_a_digest_reads_on_a_phone(db: Database, settings: Settings, smtp_sink: SmtpSink) -> None:
    four_people_engage(db, settings)
    tick(db, settings, at(5, 5, 6))  # Wednesday 08:00 in Berlin
    digest = digest_of(smtp_sink)
    text, html = text_of(digest), html_of(digest)
    (ARTIFACTS / "digest-phone.txt").write_text(text)

    for part in (text, html):
        assert "source: web" not in part and "preferred time:" not in part, "no internal note"
        assert "UTC" not in part
    assert text.count("The play's guide: Meeting 1") == 1, "Ada's and Hal's meeting, once"
    assert text.count("The play's guide: Meeting 2") == 1, "Grace's and Sam's meeting, once"
    (ada,) = [card for card in text.split("\n\n") if ". Ada Lovelace" in card]
    said = ada.index("They wrote: ")
    assert said < ada.index("Preferred time: Thursday 3pm CET") < ada.index("Asked to be")
    assert "Came through: the contact page" in ada
    assert "Tue 04 May 12:00 CEST" in ada, "the rep's clock (Europe/Berlin), zone named"
    assert 'Guide: "Meeting 1 - assess business objectives", at the end' in ada

    with chromium() as browser:
        page = browser.new_page(viewport={"width": 375, "height": 800})
        page.set_content(html)
        shoot(page, "digest-phone", 375)
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        assert page.locator(".guide").count() == 2
        first = page.locator(".entry", has_text="Ada Lovelace")
        words = first.locator(".said blockquote").bounding_box()
        activity = first.locator(".activity").first.bounding_box()
        assert words is not None and activity is not None
        assert words["y"] < activity["y"], "their words come before what they engaged with"
        assert ADA_SAYS in first.inner_text()
        first.locator("a", has_text="guide: Meeting 1").click()
        assert page.evaluate("location.hash") == "#meeting-1"
        page.set_viewport_size({"width": 1280, "height": 800})
        shoot(page, "digest-phone", 1280)


@needs_chromium
@pytest.mark.usefixtures("campaign")
def test_a_contact_request_alert_reads_on_a_phone(
    db: Database, settings: Settings, smtp_sink: SmtpSink
) -> None:
    four_people_engage(db, settings)
    tick(db, settings, at(5, 4, 10, 5))
    (alert,) = [m for m in smtp_sink.to(DANA) if "Ada Lovelace" in str(m["Subject"])]
    text, html = text_of(alert), html_of(alert)
    (ARTIFACTS / "alert-phone.txt").write_text(text)
    assert text.index(ADA_SAYS) < text.index("Preferred time: Thursday 3pm CET")
    assert text.index("Preferred time:") < text.index("Who:") < text.index("The play's guide")
    assert "Received:       Tue 04 May 12:00 CEST" in text
    assert "Security and Compliance Overview (focus on the desired outcomes slide)\n" in text
    assert f"\n    {LONG_LINK}\n" in text, "a long link on a line of its own"
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 375, "height": 800})
        page.set_content(html)
        shoot(page, "alert-phone", 375)
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        link = page.locator("a", has_text="Security and Compliance Overview")
        assert link.get_attribute("href") == LONG_LINK
