"""Playwright on Debian's chromium for the console's page tests: log in, look at a page at a width,
keep a screenshot of it in test-artifacts/ (the README's come from there)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import pytest

from tests.conftest import ROOT
from tests.web import CHROMIUM, CHROMIUM_ARGS
from tests.webapp_fixtures import PASSWORD

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

ARTIFACTS = ROOT / "test-artifacts"
WIDTHS = (1280, 375)

needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="/usr/bin/chromium is absent: `make test` installs Debian's chromium when run as root",
)


@contextmanager
def chromium() -> Iterator[Browser]:
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def logged_in(browser: Browser, url: str, email: str, width: int) -> Iterator[Page]:
    """A fresh browser context (own cookies) at `width` px, logged in as `email`."""
    context = browser.new_context(viewport={"width": width, "height": 900})
    try:
        context.set_default_timeout(10_000)
        page = context.new_page()
        page.goto(f"{url}/app/login")
        page.fill("#email", email)
        page.fill("#password", PASSWORD)
        page.click("main button[type=submit]")
        page.wait_for_load_state()
        assert "/app/login" not in page.url, page.inner_text("main")
        yield page
    finally:
        context.close()


def shoot(page: Page, name: str, width: int) -> None:
    """Keep a full-page screenshot, and check nothing is cut off: the page never scrolls sideways
    (wide tables scroll inside their own box)."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=True)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{name} at {width}px is {overflow}px too wide"


def menu(page: Page) -> list[str]:
    return [a.strip() for a in page.locator("header nav a").all_inner_texts()]
