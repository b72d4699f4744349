"""The ops console and the rep workspace in headless Chromium, at 1280 and 375 px: every page,
both roles, content read off the page as a person would (screenshots in test-artifacts/)."""

from __future__ import annotations

import pytest

from tests.browser import WIDTHS, chromium, logged_in, menu, needs_chromium, shoot
from tests.webapp_fixtures import (
    DANA,
    OPS,
    WebApp,
    launched_fixture,  # noqa: F401  (fixture)
    web_fixture,  # noqa: F401  (fixture)
    web_settings_fixture,  # noqa: F401  (fixture)
)

pytestmark = [needs_chromium, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]

OPS_MENU = [
    "Campaigns",
    "Contacts",
    "Exclusions",
    "Inbox review",
    "Drafts",
    "Dashboard",
    "Unassigned",
    "Users",
]


def test_ops_console_pages_at_both_widths(web: WebApp) -> None:
    with chromium() as browser:
        for width in WIDTHS:
            with logged_in(browser, web.url, OPS, width) as page:
                assert page.url.endswith("/app/campaigns")
                assert menu(page) == OPS_MENU
                assert page.get_attribute("nav a[aria-current=page]", "href") == "/app/campaigns"
                section = page.locator("section.campaign[data-name=P2U]")
                assert "running" in section.locator("h2").inner_text()
                rows = section.locator("table.status tbody tr").all_inner_texts()
                assert [r.split("\t")[:3] for r in rows] == [
                    ["1", "0", "Interested in speed and security?"],
                    ["2", "7", "Learn how to deploy to production 6x faster"],
                    ["3", "14", "No more afterthought security"],
                ]
                assert section.locator(".next-due").inner_text() == "2021-04-27 09:00 UTC"
                shoot(page, "campaigns", width)

                page.click("header nav >> text=Contacts")
                page.wait_for_url("**/app/contacts")
                page.fill("#q", "tiny")
                page.click("form.search button")
                page.wait_for_url("**/app/contacts?q=tiny")
                emails = page.locator("#contacts tbody td:first-child").all_inner_texts()
                assert emails == ["ada@tiny.example", "bo@tiny.example"]
                shoot(page, "contacts", width)
                page.click("text=ada@tiny.example")
                page.wait_for_selector("#facts")
                assert page.inner_text("#segment") == "SMB"
                assert page.inner_text("#current-mode").startswith("C: marketing email")
                assert "P2U" in page.inner_text("#enrollments")
                shoot(page, "contact", width)


def test_ops_dashboard_exclusions_and_users_at_both_widths(web: WebApp) -> None:
    with chromium() as browser:
        for width in WIDTHS:
            with logged_in(browser, web.url, OPS, width) as page:
                page.click("header nav >> text=Dashboard")
                page.wait_for_url("**/app/dashboard")
                assert menu(page) == OPS_MENU
                assert page.locator("section.campaign").get_attribute("data-campaign") == "P2U"
                assert "contacts (log scale)" in (
                    page.locator("section.campaign svg").last.text_content() or ""
                )
                shoot(page, "dashboard", width)
                with page.expect_download() as download:
                    page.click("#csv")
                assert download.value.suggested_filename == "report-all.csv"

                page.goto(f"{web.url}/app/dashboard?campaign=nope")
                assert page.inner_text("main p") == "no campaign named nope"

                page.click("header nav >> text=Exclusions")
                page.wait_for_url("**/app/exclusions")
                assert page.inner_text("h2 >> nth=1") == "Uploads (0)"
                assert page.inner_text("h2 >> nth=2") == "Active exclusions (0)"
                shoot(page, "exclusions", width)

                page.click("header nav >> text=Users")
                page.wait_for_url("**/app/users")
                users = page.locator("#users tbody td:first-child").all_inner_texts()
                assert OPS in users and DANA in users
                shoot(page, "users", width)
