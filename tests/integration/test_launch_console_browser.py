"""Launching from the console in headless Chromium, at 1280 and 375 px: the options, the
rehearsal (nothing real changes), a sample email and its test send, then the launch, with a
typed confirmation for a start in the past and the launch, pause and resume in the campaign's log."""

from __future__ import annotations

import pytest
from sqlmodel import select

from campaign_engine.store.models import Campaign
from tests.browser import WIDTHS, chromium, logged_in, needs_chromium, shoot
from tests.conftest import SmtpSink
from tests.helpers import everything
from tests.webapp_fixtures import (
    DANA,
    OPS,
    WebApp,
    at,
    csrf,
    launched_fixture,  # noqa: F401  (fixture)
    web_fixture,  # noqa: F401  (fixture)
    web_settings_fixture,  # noqa: F401  (fixture)
)

pytestmark = [needs_chromium, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]


def _rehearse(page, start: str, name: str, width: int) -> None:  # type: ignore[no-untyped-def]
    page.click("#new-campaign")
    page.wait_for_url("**/app/campaigns/new")
    shoot(page, "campaign-new", width)
    page.fill("#start", start)
    page.fill("#name", name)
    page.check("input[name=allow_overlap]")
    page.click("#rehearse")
    page.wait_for_url("**/app/rehearsals/*")  # the progress page, reloading until it is done
    page.wait_for_selector("#rehearsed", timeout=120_000)  # SpamAssassin scores every email


def test_ops_rehearse_look_test_send_and_launch_from_the_console(
    web: WebApp, smtp_sink: SmtpSink
) -> None:
    with chromium() as browser:
        for width in WIDTHS:
            with logged_in(browser, web.url, OPS, width) as page:
                before = everything(web.db)  # the login is in it
                _rehearse(page, "2021-04-28", f"Second {width}", width)
                assert page.inner_text("h1") == f"Rehearsal of “Second {width}”"
                assert "Nothing real was written or sent" in page.inner_text("#rehearsed")
                assert "09:00–17:00 in each contact's time zone" in page.inner_text("#summary")
                assert page.inner_text("#emails").startswith("6 to 2 contact(s) on 3 local day(s)")
                conflicts = page.inner_text("#conflicts")
                assert "overlap: contacts also active in another running campaign" in conflicts
                assert "'P2U' (4)" in conflicts
                assert "no time zone: 4 contact(s) without a time zone" in conflicts
                days = page.locator("#calendar tbody tr").all_inner_texts()
                if width == WIDTHS[0]:
                    assert days[0].split("\t")[:3] == ["Wed 2021-04-28", "UTC", "2"], days
                else:  # "Second 1280" runs now too: 3 emails that week would break the cap
                    assert "frequency cap: 2 contact(s) held back" in conflicts
                    assert days[0].split("\t")[0][4:] > "2021-04-28", days
                emails = page.locator("#recipients tbody td:first-child").all_inner_texts()
                assert emails == [
                    "ada@tiny.example", "bo@tiny.example", "mia@midsize.example",
                    "eve@bigcorp.example",
                ]  # fmt: skip
                assert page.locator("#launch-button").is_visible()
                assert page.locator("#confirm").count() == 0  # a start ahead needs no typing
                shoot(page, "rehearsal", width)
                with page.expect_download() as download:
                    page.click("#recipients-csv")
                assert download.value.suggested_filename == f"rehearsal-Second-{width}.csv"

                page.click("#samples tr:has-text('ada@tiny.example') a >> nth=0")
                page.wait_for_selector("#test-send")
                assert page.inner_text("#subject") == "Interested in speed and security?"
                assert "unsubscribe" in page.inner_text("#text").lower()
                shoot(page, "rehearsal-sample", width)
                page.fill("#test-send input[name=to]", f"proof{width}@review.example")
                page.click("#test-send button")
                page.wait_for_selector(".flash")
                assert (
                    page.inner_text(".flash") == f"Test email sent to proof{width}@review.example."
                )
                assert everything(web.db) == before, "the rehearsal changed the real database"

                page.click("text=Back to the rehearsal")
                page.click("#launch-button")
                page.wait_for_url("**/app/campaigns")
                assert (
                    page.inner_text(".flash")
                    == f"Launched 'Second {width}': 4 contact(s) enrolled."
                )
                section = page.locator(f"section.campaign[data-name='Second {width}']")
                assert f"launched 2021-04-26 09:00 UTC by {OPS}" in section.inner_text()
                shoot(page, "campaigns-launched", width)
    proofs = [m for m in smtp_sink.messages if "review.example" in str(m["To"])]
    assert [str(m["Subject"]) for m in proofs] == [
        "[Rehearsal] Interested in speed and security?"
    ] * 2


def test_a_start_in_the_past_needs_the_name_typed_and_pauses_are_logged(web: WebApp) -> None:
    web.clock.now = at(4, 28, 12)  # P2U's first email went out on the 27th
    with chromium() as browser, logged_in(browser, web.url, OPS, 375) as page:
        _rehearse(page, "2021-04-27", "Late", 375)
        page.click("#change")  # the same options, to change and rehearse again
        assert (page.input_value("#name"), page.input_value("#start")) == ("Late", "2021-04-27")
        assert page.is_checked("input[name=allow_overlap]")
        page.go_back()
        assert "start in the past" in page.inner_text("#conflicts")
        page.fill("#confirm", "late")
        page.click("#launch-button")
        page.wait_for_selector(".error")
        assert "type the campaign's name (Late) to launch anyway" in page.inner_text(".error")
        shoot(page, "rehearsal-past-start", 375)
        with web.db.session() as session:
            assert (
                session.exec(select(Campaign.name).where(Campaign.name == "Late")).first() is None
            )
        page.fill("#confirm", "Late")
        page.click("#launch-button")
        page.wait_for_url("**/app/campaigns")
        section = page.locator("section.campaign[data-name='Late']")
        section.locator("button >> text=Pause Late").click()
        page.wait_for_url("**/app/campaigns")
        page.locator("section.campaign[data-name='Late'] button >> text=Resume Late").click()
        page.wait_for_url("**/app/campaigns")
        log = page.inner_text("section.campaign[data-name='Late'] .log")
        assert log == (
            f"launched 2021-04-28 12:00 UTC by {OPS}; paused 2021-04-28 12:00 UTC by {OPS}; "
            f"resumed 2021-04-28 12:00 UTC by {OPS}"
        )


def test_bad_options_are_said_at_once_and_reps_may_not_rehearse(web: WebApp) -> None:
    with web.login(OPS) as ops:
        token = csrf(ops, "/app/campaigns/new")
        for fields, said in (
            (
                {"start": "2021-04-31"},
                "start &#39;2021-04-31&#39; is not a date: expected YYYY-MM-DD",
            ),
            ({"name": "P2U"}, "a campaign named &#39;P2U&#39; exists already; pick another name"),
            ({"timezone": "Mars/Base"}, "time zone &#39;Mars/Base&#39; is unknown"),
        ):
            form = {"csrf": token, "sequence": "premium-to-ultimate", "start": "2021-05-04"}
            page = ops.post("/app/rehearsals", data={**form, **fields})
            assert page.status_code == 400 and said in page.text, page.text
            assert 'value="premium-to-ultimate" selected' in page.text  # the form keeps its values
        assert ops.get("/app/rehearsals/AAAAAAAAAAAAAAAA").status_code == 404
    with web.login(DANA) as rep:
        assert rep.get("/app/campaigns/new").status_code == 403
        assert rep.get("/app/rehearsals/AAAAAAAAAAAAAAAA").status_code == 403
