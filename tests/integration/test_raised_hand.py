"""A raised hand reaches a person at once, and the rep's queue follows the conversation: a
request no rep owns goes to the unassigned fallback (real SMTP), moves to the rep when the
account gets one; a request closes the contact's drafts and is the first thing on My day, where
the rep marks it handled; held contacts are never due. Over real HTTP and the real command."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
from pathlib import Path

import httpx
import pytest
from aiosmtpd.smtp import Envelope
from sqlmodel import select

from campaign_engine.core.config import RepsSettings, Settings
from campaign_engine.core.kinds import DraftStatus, RequestOutcome
from campaign_engine.reps.alerts import NOBODY
from campaign_engine.reps.contact_requests import RequestForm, record_contact_request
from campaign_engine.reps.drafts import list_drafts
from campaign_engine.store.db import Database
from campaign_engine.store.models import Alert, Draft, Exclusion
from campaign_engine.store.request_tables import ContactRequest
from tests.browser import WIDTHS, chromium, logged_in, needs_chromium, shoot
from tests.conftest import SmtpSink
from tests.helpers import campaign_cli, text_of, tick, write_csv
from tests.web import wait_until
from tests.webapp_fixtures import (
    DANA,
    OPS,
    TOMAS,
    WebApp,
    at,
    csrf,
    launched_fixture,  # noqa: F401  (fixture)
    web_fixture,  # noqa: F401  (fixture)
    web_settings_fixture,  # noqa: F401  (fixture)
)

NORA = "nora.new@gitlab-demo.example"  # named as owner, not a rep yet
SALES_OPS = "sales-ops@gitlab-demo.example"
ZED = "zed@nowhere.example"
MIA = "mia@midsize.example"


def alerts_to(sink: SmtpSink, address: str) -> list[str]:
    return [text_of(m) for m in sink.to(address) if m["X-Campaign-Alert"] == "contact_request"]


def import_unowned(settings: Settings, tmp_path: Path) -> None:
    """Zed's account names an owner who is no rep yet: nobody owns it."""
    rows = [[ZED, "Zed", "Zero", "CTO", "Nowhere Inc", "300", "", NORA, ""]]
    done = campaign_cli(settings, "import", "contacts", str(write_csv(tmp_path / "z.csv", rows)))
    assert done.returncode == 0, done.stderr


@pytest.fixture
def fallback_config(web: WebApp) -> Settings:
    """The test config file with `[reps] unassigned_to`, for the real command."""
    config = web.settings.config_path
    config.write_text(config.read_text() + f'\n[reps]\nunassigned_to = "{SALES_OPS}"\n')
    return dataclasses.replace(web.settings, reps=RepsSettings(unassigned_to=SALES_OPS))


def test_an_unowned_request_reaches_the_fallback_then_moves_to_the_rep_imported_later(
    web: WebApp, fallback_config: Settings, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    settings = fallback_config
    import_unowned(settings, tmp_path)
    asked = campaign_cli(settings, "contact-request", ZED, "--note", "Call me about SAST",
                         "--now", "2021-04-27T10:00")  # fmt: skip
    assert asked.returncode == 0, asked.stderr
    assert f"No rep owns the account: the alert went to the unassigned fallback ({SALES_OPS})" in (
        asked.stdout
    )
    (alert,) = [m for m in smtp_sink.to(SALES_OPS) if m["X-Campaign-Alert"]]
    assert str(alert["Subject"]) == "Unassigned contact request: Zed Zero, Nowhere Inc"
    text = text_of(alert)
    assert "NO REP OWNS Nowhere Inc: this request came to you" in text
    assert "campaign accounts assign 'Nowhere Inc' REP_EMAIL" in text
    assert "track.example.test/app/unassigned" in text
    assert "Call me about SAST" in text
    status = campaign_cli(settings, "status")
    assert "Contact requests no rep owns: 1 (the console's Unassigned page" in status.stdout

    # The rep the account waited for is imported: the open request moves to her, alerted now.
    reps = write_csv(tmp_path / "reps.csv", [[NORA, "Nora New"]], ["email", "name"])
    imported = campaign_cli(settings, "import", "reps", str(reps))
    assert imported.returncode == 0, imported.stderr
    assert "1 open contact request(s) moved to their account's rep" in imported.stdout
    (moved,) = alerts_to(smtp_sink, NORA)
    assert moved.startswith("Hi Nora New,")
    assert "and was with the unassigned fallback; the account is yours now." in moved
    assert "Call me about SAST" in moved and "NO REP OWNS" not in moved
    assert "Contact requests no rep owns: 0" in campaign_cli(settings, "status").stdout
    tick(web.db, settings, at(4, 27, 11))
    assert len(alerts_to(smtp_sink, NORA)) == 1, "moved once, alerted once"


def test_the_fallback_is_the_ops_users_and_nobody_at_all_is_said_plainly(
    web: WebApp, smtp_sink: SmtpSink, tmp_path: Path, db: Database
) -> None:
    import_unowned(web.settings, tmp_path)
    record_contact_request(db, web.settings, at(4, 27, 10), email=ZED, source="manual")
    tick(db, web.settings, at(4, 27, 10, 1))
    (text,) = alerts_to(smtp_sink, OPS)  # no unassigned_to: the console's ops users
    assert "NO REP OWNS Nowhere Inc" in text

    assert campaign_cli(web.settings, "users", "remove", OPS).returncode == 0
    result = record_contact_request(
        db, web.settings, at(4, 27, 12), email=ZED, form=RequestForm("again"), source="manual"
    )
    with db.session() as session:
        alert = session.get(Alert, result.alert_id)
        assert alert is not None and (alert.state, alert.error) == ("failed", NOBODY)


def test_the_unassigned_page_gives_the_account_a_rep_who_is_alerted_at_once(
    web: WebApp, smtp_sink: SmtpSink, tmp_path: Path, db: Database
) -> None:
    import_unowned(web.settings, tmp_path)
    record_contact_request(
        db, web.settings, at(4, 26), email=ZED, form=RequestForm("Budget is approved"),
        source="manual",
    )  # fmt: skip
    with web.login(OPS) as ops:
        page = ops.get("/app/unassigned")
        assert page.status_code == 200
        assert "Unassigned contact requests (1)" in page.text and "Budget is approved" in page.text
        with web.login(DANA) as dana:
            assert dana.get("/app/unassigned").status_code == 403
        token = csrf(ops, "/app/unassigned")
        done = ops.post(
            "/app/unassigned/assign",
            data={"account": "Nowhere Inc", "rep_email": TOMAS, "csrf": token},
        )
        assert done.status_code == 303
        after = ops.get("/app/unassigned")
        assert f"Nowhere Inc is now owned by {TOMAS} (had no rep)." in after.text
        assert "1 open contact request(s) moved" in after.text
        assert "No contact request is waiting for a rep." in after.text
    wait_until(lambda: alerts_to(smtp_sink, TOMAS), what="Tomás's alert, sent at once")
    (text,) = alerts_to(smtp_sink, TOMAS)
    assert "Budget is approved" in text and "the account is yours now" in text


def test_a_request_closes_the_drafts_tops_my_day_and_is_marked_handled(
    web: WebApp, smtp_sink: SmtpSink, db: Database
) -> None:
    with db.session() as session:
        open_before = [d for d in list_drafts(session, DANA) if d.contact_email == MIA]
    assert len(open_before) == 3
    record_contact_request(
        db, web.settings, at(4, 26, 10), email=MIA,
        form=RequestForm("Can we talk security next week?", "Tue morning"), source="manual",
    )  # fmt: skip
    with db.session() as session:
        drafts = session.exec(select(Draft.status, Draft.status_note).where(
            Draft.contact_id == session.exec(select(Draft.contact_id).where(
                Draft.id == open_before[0].id)).one())).all()  # fmt: skip
    assert set(drafts) == {(DraftStatus.CANCELLED, "contact requested contact on 2021-04-26")}

    with web.login(DANA) as dana:
        home = dana.get("/app/")
        assert home.status_code == 200
        first = home.text.index("Contact request: ")
        assert first < home.text.index("Reminders due") < home.text.index("Next drafts")
        card = home.text[first : home.text.index("</article>", first)]
        assert "Can we talk security next week?" in card and "Tue morning" in card
        assert "Mia Middle" in card and "recorded by hand, before any email" in card
        assert MIA not in home.text[home.text.index("Next drafts") :], "no email 2 to a raised hand"
        (request_id,) = re.findall(r"/app/requests/(\d+)/handled", home.text)
        token = csrf(dana)
        with web.login(TOMAS) as tomas:  # not his contact
            refused = tomas.post(f"/app/requests/{request_id}/handled",
                                 data={"outcome": "not a fit", "csrf": csrf(tomas)})  # fmt: skip
            assert refused.status_code == 404
        marked = dana.post(
            f"/app/requests/{request_id}/handled",
            data={"outcome": RequestOutcome.MEETING_BOOKED.value, "csrf": token},
        )
        assert marked.status_code == 303
        home = dana.get("/app/")
        assert f"Contact request {request_id} marked handled: meeting booked." in home.text
        assert "Can we talk security next week?" not in home.text
    with db.session() as session:
        (row,) = session.exec(select(ContactRequest)).all()
    assert (row.outcome, row.handled_by) == ("meeting booked", DANA)


def test_drafts_done_closes_the_thread_and_held_contacts_are_never_due(
    web: WebApp, db: Database
) -> None:
    done = campaign_cli(web.settings, "drafts", "done", MIA, "--reason", "meeting")
    assert done.returncode == 0, done.stderr
    with db.session() as session:
        notes = {(d.status, d.status_note) for d in list_drafts(session, DANA, status=None)
                 if d.contact_email == MIA}  # fmt: skip
        assert notes == {(DraftStatus.CANCELLED, "thread moved to meeting on " + done_day())}
        session.add(Exclusion(email="eve@bigcorp.example", reason="legal hold",
                              created_at=at(4, 26)))  # fmt: skip
    with web.login(TOMAS) as tomas:
        home = tomas.get("/app/").text
        assert home.count("held: excluded: legal hold") == 3
        assert "now</td>" not in home[home.index("Next drafts") :], "held drafts are never due"
    listed = campaign_cli(web.settings, "drafts", "list", "--rep", TOMAS)
    assert listed.stdout.count("held: excluded: legal hold") == 3


def done_day() -> str:
    from datetime import UTC, datetime

    return f"{datetime.now(UTC):%Y-%m-%d}"


@needs_chromium
def test_my_day_and_the_unassigned_page_in_chromium(
    web: WebApp, db: Database, tmp_path: Path
) -> None:
    import_unowned(web.settings, tmp_path)
    record_contact_request(db, web.settings, at(4, 26), email=ZED, source="manual",
                           form=RequestForm("Please call: we renew in June."))  # fmt: skip
    record_contact_request(db, web.settings, at(4, 26), email=MIA, source="manual",
                           form=RequestForm("Security review next week?", "Tue 10:00"))  # fmt: skip
    tick(db, web.settings, at(4, 27, 9))  # email 1 to Ada, who then asks from it
    record_contact_request(db, web.settings, at(4, 27, 11), email="ada@tiny.example",
                           form=RequestForm("Does Ultimate include DAST?"))  # fmt: skip
    with chromium() as browser:
        for width in WIDTHS:
            with logged_in(browser, web.url, DANA, width) as page:
                assert page.locator("article.request").count() == 2
                page.locator("article.request details summary").first.click()
                assert "Metric: Opportunity stage" in page.inner_text("article.request details")
                shoot(page, "my-day-request", width)
            with logged_in(browser, web.url, OPS, width) as page:
                page.goto(f"{web.url}/app/unassigned")
                assert "Please call: we renew in June." in page.inner_text("main")
                shoot(page, "unassigned", width)


def test_the_api_assigns_an_account(web: WebApp, smtp_sink: SmtpSink, tmp_path: Path) -> None:
    from campaign_engine.api.tokens import create_token

    import_unowned(web.settings, tmp_path)
    record_contact_request(web.db, web.settings, at(4, 26), email=ZED, source="manual")
    token = create_token(web.db, "crm", "integration", at(4, 26)).token
    with httpx.Client(base_url=web.url, headers={"Authorization": f"Bearer {token}"}) as api:
        answer = api.put("/api/v1/accounts/Nowhere Inc/rep", json={"rep_email": DANA})
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"account": "Nowhere Inc", "rep_email": DANA,
                                 "previous_rep_email": "", "changed": True, "requests_moved": 1}  # fmt: skip
        assert api.put("/api/v1/accounts/Nope/rep", json={"rep_email": DANA}).status_code == 404
    wait_until(lambda: alerts_to(smtp_sink, DANA), what="Dana's alert")


def test_a_tick_sends_alerts_first_and_between_batches(
    web: WebApp, smtp_sink: SmtpSink, db: Database
) -> None:
    """One message per batch; a request comes in while the first is at the relay: its alert
    goes out before the second batch, not after the whole step."""
    settings = dataclasses.replace(web.settings, batch_size=1)
    record_contact_request(db, settings, at(4, 27, 9), email="eve@bigcorp.example")
    original = smtp_sink.handle_DATA

    async def handle_data(server: object, session: object, envelope: Envelope) -> str:
        answer = await original(server, session, envelope)  # type: ignore[arg-type]
        if len(smtp_sink.envelopes) == 2:  # the first campaign message (after Tomás's alert)
            await asyncio.to_thread(
                record_contact_request, db, settings, at(4, 27, 9), email=MIA,
                form=RequestForm("Call me while you send"),
            )  # fmt: skip
        return answer

    smtp_sink.handle_DATA = handle_data  # type: ignore[method-assign]
    tick(db, settings, at(4, 27, 9))
    order = [e.rcpt_tos[0] for e in smtp_sink.envelopes]
    assert order[0] == TOMAS, "an alert waiting at the tick's start goes before campaign mail"
    assert order[2] == DANA, "a request made during the send: after one batch, not the step"
    assert sorted([order[1], order[3]]) == ["ada@tiny.example", "bo@tiny.example"], order


def test_handled_requests_are_counted_in_the_report_next_to_sao(web: WebApp, db: Database) -> None:
    tick(db, web.settings, at(4, 27, 9))  # email 1 to Ada and Bo
    for email in ("ada@tiny.example", "bo@tiny.example"):
        record_contact_request(db, web.settings, at(4, 27, 11), email=email, source="manual")
    listed = campaign_cli(web.settings, "requests", "list", "--rep", DANA, "--format", "json")
    ada = next(r for r in json.loads(listed.stdout) if r["contact_email"] == "ada@tiny.example")
    handled = campaign_cli(web.settings, "requests", "handled", str(ada["id"]),
                           "--outcome", "not a fit", "--rep", DANA)  # fmt: skip
    assert handled.stdout.strip() == f"Contact request {ada['id']} handled: not a fit."
    again = campaign_cli(web.settings, "requests", "handled", str(ada["id"]), "--outcome",
                         "no answer")  # fmt: skip
    assert again.returncode != 0 and "was handled already: not a fit" in again.stderr
    report = json.loads(campaign_cli(web.settings, "report", "--format", "json").stdout)
    (campaign,) = report["campaigns"]
    assert campaign["requests_handled"] == {
        "meeting booked": 0, "not a fit": 1, "no answer": 0, "open": 1,
    }  # fmt: skip
    table = campaign_cli(web.settings, "report").stdout
    assert (
        "SAO 0; contact requests handled: meeting booked 0, not a fit 1, no answer 0, open 1"
        in (" ".join(table.split()))
    )
