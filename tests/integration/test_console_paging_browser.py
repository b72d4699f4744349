"""Small things ops notice in the console, in headless Chromium at 1280 and 375 px: `/` leads to
the console, long lists have numbered pages with first and last, and the send window says it is
each contact's own time."""

from __future__ import annotations

from pathlib import Path

import pytest

from campaign_engine.store.db import Database
from tests.browser import WIDTHS, chromium, logged_in, needs_chromium, shoot
from tests.helpers import import_with_reps, write_csv
from tests.webapp_fixtures import (
    DANA,
    OPS,
    WebApp,
    at,
    launched_fixture,  # noqa: F401  (fixture)
    web_fixture,  # noqa: F401  (fixture)
    web_settings_fixture,  # noqa: F401  (fixture)
)

pytestmark = [needs_chromium, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]


def test_the_root_address_leads_to_the_console(web: WebApp) -> None:
    with web.client() as client:
        response = client.get("/")
        assert response.status_code == 302 and response.headers["location"] == "/app/"
    with chromium() as browser, logged_in(browser, web.url, OPS, 1280) as page:
        page.goto(web.url + "/")
        assert page.url.endswith("/app/campaigns")


def test_long_lists_have_numbered_pages_first_and_last(
    web: WebApp, db: Database, tmp_path: Path
) -> None:
    rows = [
        [f"p{n:03}@many.example", "Pat", f"N{n}", "Developer", "Many Co", "12", "", DANA, ""]
        for n in range(1, 297)
    ]
    assert import_with_reps(db, write_csv(tmp_path / "many.csv", rows), at(4, 21)).rejected == []
    with chromium() as browser:
        for width in WIDTHS:
            with logged_in(browser, web.url, OPS, width) as page:
                page.goto(f"{web.url}/app/contacts")
                pager = page.locator("nav.pager").first
                assert pager.locator(".pager-range").inner_text() == "1–50 of 300"
                labels = pager.locator(".pager-pages > *").all_inner_texts()
                assert labels == ["1", "2", "3", "…", "6", "Next ›", "Last »"]
                pager.locator("a.pager-last").click()
                page.wait_for_url("**/app/contacts?page=6")
                pager = page.locator("nav.pager").first
                assert pager.locator(".pager-range").inner_text() == "251–300 of 300"
                assert pager.locator("[aria-current=page]").inner_text() == "6"
                pager.locator("a[aria-label='Page 4']").click()
                page.wait_for_url("**/app/contacts?page=4")
                labels = page.locator("nav.pager").first.locator(".pager-pages > *")
                assert labels.all_inner_texts() == [
                    "« First", "‹ Previous", "1", "2", "3", "4", "5", "6", "Next ›", "Last »"
                ]  # fmt: skip
                shoot(page, "contacts-pages", width)
                page.locator("nav.pager").first.locator("a.pager-first").click()
                page.wait_for_url("**/app/contacts?page=1")
                assert page.locator("#contacts tbody td:first-child").first.inner_text() == (
                    "ada@tiny.example"
                )


def test_the_send_window_is_each_contacts_own_time(web: WebApp) -> None:
    with chromium() as browser:
        for width in WIDTHS:
            with logged_in(browser, web.url, OPS, width) as page:
                window = page.locator("section.campaign[data-name=P2U] dd.window").inner_text()
                assert window == (
                    "09:00–17:00 in each contact's time zone (UTC for contacts without one)"
                )
                shoot(page, "campaigns-window", width)
