"""The console's inbox review in headless Chromium: ops read held mail, apply or dismiss it (who and
when recorded); reps never see it; a decision needs the session's CSRF token."""

from __future__ import annotations

import pytest
from sqlmodel import select

from campaign_engine.inbound.pipeline import process_mail
from campaign_engine.store.inbound_tables import InboundReview
from campaign_engine.store.models import Suppression
from tests.browser import WIDTHS, chromium, logged_in, menu, needs_chromium, shoot
from tests.inbound_mail import DATA
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


def hold_two(web: WebApp) -> None:
    for name in ("forged-arf-victim.eml", "forged-dsn-plain.eml"):
        raw = (DATA / name).read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        handled = process_mail(web.db, web.settings, raw, name, at(4, 28, 7))
        assert "held for review" in handled.detail


def test_ops_apply_and_dismiss_held_mail_on_the_console(web: WebApp) -> None:
    hold_two(web)
    with chromium() as browser:
        for width in reversed(WIDTHS):  # the narrow one only looks; the wide one decides
            with logged_in(browser, web.url, OPS, width) as page:
                assert "Inbox review" in menu(page)
                page.click("header nav >> text=Inbox review")
                page.wait_for_url("**/app/inbox-review")
                if width != max(WIDTHS):
                    shoot(page, "inbox-review", width)
                    continue
                assert page.inner_text("main h2") == "Open (2)"
                complaint = page.locator("#review-1")
                assert (
                    complaint.locator("h3").inner_text() == "#1 · complaint about ada@tiny.example"
                )
                assert "it names no message we sent" in complaint.inner_text()
                assert "abuse@attacker.example" in complaint.inner_text()
                assert page.input_value("#address-2") == ""  # grace is no contact of ours
                shoot(page, "inbox-review", width)

                page.click("#review-2 >> text=Dismiss")
                page.wait_for_selector("p.flash")
                assert page.inner_text("p.flash") == "review #2 dismissed: nothing changed"
                page.click("#review-1 >> text=Apply")
                page.wait_for_selector("p.flash")
                assert page.inner_text("p.flash").startswith(
                    "review #1 applied to ada@tiny.example: complaint: spam complaint (abuse)"
                )
                assert page.inner_text("main h2") == "Open (0)"
                page.select_option("select[name=show]", "all")
                page.click("form.search button")
                page.wait_for_url("**/app/inbox-review?show=all")
                assert f"by {OPS} on 2021-04-26 09:00 UTC" in page.inner_text("#review-1")
                assert "dismissed" in page.inner_text("#review-2")
    with web.db.session() as session:
        assert session.exec(select(Suppression.email)).all() == ["ada@tiny.example"]
        decided = session.exec(select(InboundReview).order_by(InboundReview.id)).all()
    assert [(r.status, r.decided_by) for r in decided] == [("applied", OPS), ("dismissed", OPS)]


def test_reps_cannot_see_it_and_a_decision_needs_the_csrf_token(web: WebApp) -> None:
    hold_two(web)
    with web.login(DANA) as rep:
        assert rep.get("/app/inbox-review").status_code == 403
        assert rep.post("/app/inbox-review/1/dismiss").status_code == 403
    with web.login(OPS) as ops:
        assert ops.post("/app/inbox-review/1/apply", data={"address": ""}).status_code == 403
        assert ops.post("/app/inbox-review/2/dismiss", data={"csrf": "forged"}).status_code == 403
    with web.db.session() as session:
        assert [r.status for r in session.exec(select(InboundReview))] == ["open", "open"]
