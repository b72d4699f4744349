"""The rep workspace in headless Chromium at 1280 and 375 px: My day, drafts in due order with a
campaign column, search and pages, the sandboxed preview, a test copy that arrives at the rep over
SMTP (and is no campaign send), the confirmation before sending; ops pages are closed to reps."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from campaign_engine.audience.imports import import_contacts
from campaign_engine.core.config import Settings
from campaign_engine.engine.launch import launch
from campaign_engine.reps.drafts import list_drafts
from campaign_engine.store.db import Database
from campaign_engine.store.models import Message
from tests.browser import WIDTHS, chromium, logged_in, menu, needs_chromium, shoot
from tests.conftest import SmtpSink
from tests.helpers import write_csv
from tests.webapp_fixtures import (
    DANA,
    START,
    SUBJECTS,
    WebApp,
    at,
    launched_fixture,  # noqa: F401  (fixture)
    web_fixture,  # noqa: F401  (fixture)
    web_settings_fixture,  # noqa: F401  (fixture)
)

pytestmark = [needs_chromium, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]

OPS_PAGES = ("campaigns", "exclusions", "dashboard", "users")


@pytest.fixture(name="busy")
def busy_fixture(web: WebApp, db: Database, web_settings: Settings, tmp_path: Path) -> WebApp:
    """Dana also has 20 mid-market contacts in a second campaign: 60 drafts more, two pages."""
    rows = [
        [f"m{i:02}@mid{i:02}.example", f"Max{i:02}", "Mid", "CTO", f"Mid {i:02}", "300", "",
         DANA, ""]
        for i in range(20)
    ]  # fmt: skip
    assert import_contacts(db, write_csv(tmp_path / "mm.csv", rows), at(4, 21)).rejected == []
    launch(db, web_settings, "premium-to-ultimate", START, at(4, 21), name="Q2 mid-market",
           allow_overlap=True)  # fmt: skip
    return web


def test_my_day_and_the_drafts_list(busy: WebApp) -> None:
    with chromium() as browser:
        for width in WIDTHS:
            with logged_in(browser, busy.url, DANA, width) as page:
                assert page.url.endswith("/app/")
                assert menu(page) == ["My day", "My drafts", "My contacts"]
                assert page.inner_text("h1") == "My day"
                assert "No open contact request" in page.inner_text("#requests")
                assert page.locator("#drafts tbody tr").count() == 10
                shoot(page, "my-day", width)

                for path in OPS_PAGES:
                    response = page.goto(f"{busy.url}/app/{path}")
                    assert response is not None and response.status == 403, path

                page.goto(f"{busy.url}/app/drafts")
                assert page.inner_text("h1") == "My drafts (66)"
                assert "1–50 of 66" in page.inner_text(".pager-range >> nth=0")
                campaigns = set(page.locator("#drafts tbody td:nth-child(4)").all_inner_texts())
                assert campaigns == {"P2U", "Q2 mid-market"}
                steps = page.locator("#drafts tbody td:nth-child(5)").all_inner_texts()
                assert steps[:3] == ["1", "1", "1"] and steps[-1] != "1"  # email 1s are due first
                shoot(page, "drafts", width)
                page.click("a[rel=next] >> nth=0")
                page.wait_for_url("**page=2")
                assert page.locator("#drafts tbody tr").count() == 16

                page.fill("#q", "max07")
                page.click("form.search button")
                page.wait_for_url("**q=max07**")
                contacts = set(page.locator("#drafts tbody td:nth-child(2)").all_inner_texts())
                assert contacts == {"Max07 Mid\nm07@mid07.example"}
                assert page.inner_text("h1") == "My drafts (3)"


def test_preview_test_copy_and_confirmed_send(busy: WebApp, smtp_sink: SmtpSink) -> None:
    with busy.db.session() as session:
        mia_1 = next(
            d.id
            for d in list_drafts(session, campaign="P2U")
            if d.contact_email == "mia@midsize.example" and d.step == 1
        )
    with chromium() as browser, logged_in(browser, busy.url, DANA, 1280) as page:
        page.goto(f"{busy.url}/app/drafts/{mia_1}")
        frame = page.locator("iframe#preview")
        assert frame.get_attribute("sandbox") == ""  # no scripts, no same origin, no forms
        body = page.frame_locator("iframe#preview").locator("body").inner_text()
        assert "Mia" in body
        frame.screenshot(path="test-artifacts/preview-frame.png")
        shoot(page, "draft", 1280)

        before = len(smtp_sink.messages)  # the launch's alerts and digests, if any
        page.click("#send-test")
        page.wait_for_selector(".flash")
        assert page.inner_text(".flash") == f"Test copy sent to {DANA} (not sent to the contact)."
        assert len(smtp_sink.messages) == before + 1
        copy = smtp_sink.messages[-1]
        assert copy["To"] == DANA and copy["Subject"] == f"[TEST] {SUBJECTS[0]}"
        with busy.db.session() as session:
            assert session.exec(select(Message).where(Message.origin == "rep")).all() == []

        page.click("#send")
        page.wait_for_selector("#confirm")
        assert "mia@midsize.example" in page.inner_text("#confirm")
        assert len(smtp_sink.messages) == before + 1  # nothing sent before the confirmation
        page.click("#confirm-send")
        page.wait_for_selector(".flash")
        assert "to mia@midsize.example" in page.inner_text(".flash")
        assert [m["To"] for m in smtp_sink.messages][-1].endswith("mia@midsize.example>")
