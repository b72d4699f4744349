"""The upload flow in a real headless Chromium (Debian's, driven by playwright): log in, upload a
messy exclusion file, read the per-row report on the page; a screenshot goes to test-artifacts/."""

from __future__ import annotations

import os

import pytest

from tests.conftest import ROOT
from tests.web import CHROMIUM, CHROMIUM_ARGS
from tests.webapp_fixtures import (
    OPS,
    PASSWORD,
    WebApp,
    launched_fixture,  # noqa: F401  (fixture)
    web_fixture,  # noqa: F401  (fixture)
    web_settings_fixture,  # noqa: F401  (fixture)
)

MESSY = ROOT / "tests" / "data" / "messy" / "exclude-target-list-bom-semicolon.csv"
ARTIFACTS = ROOT / "test-artifacts"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="/usr/bin/chromium is absent: `make test` installs Debian's chromium when run as root",
)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_ops_upload_an_exclusion_file_in_chromium_and_read_the_report(web: WebApp) -> None:
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.goto(f"{web.url}/app/exclusions")
            assert page.url.endswith("/app/login?next=%2Fexclusions")
            page.fill("#email", OPS)
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url("**/app/exclusions")
            assert page.text_content("h1") == "Exclusions"

            page.set_input_files("#file", str(MESSY))
            page.select_option("#campaign", "P2U")
            page.uncheck("input[name=dry_run]")  # straight in, no preview
            page.click("form.box button[type=submit]")
            page.wait_for_selector("#rejected")

            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "upload.png"), full_page=True)
            summary = " ".join(page.inner_text("#summary").split())
            assert summary.startswith("0 contact(s) excluded (campaign “P2U”)")
            assert "4 new exclusion(s)" in summary and "3 row(s) marked keep" in summary
            rejected = page.inner_text("#rejected")
            name = MESSY.name
            assert f"{name}:10\texclude\t'maybe' is not y/yes/x/true/1" in rejected
            assert f"{name}:11\temail\t" in rejected
            assert f"{name}:5\tghost@nowhere.example\tlegal hold" in page.inner_text("#unmatched")

            page.click("text=Back to exclusions")
            page.wait_for_url("**/app/exclusions")
            assert "ana@space.example" in page.inner_text("main")
        finally:
            browser.close()
