"""The ops/rep web app over real HTTP (uvicorn on loopback): login, roles, CSRF, exclusions,
drafts and outreach modes; emails checked as they arrive over SMTP."""

from __future__ import annotations

import re
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import httpx
from sqlmodel import select

from campaign_engine.audience.exclusions import list_exclusions
from campaign_engine.core.config import Settings
from campaign_engine.store.db import Database
from campaign_engine.store.models import Contact, Draft, Exclusion, LoginFailure
from campaign_engine.web.app import create_app
from campaign_engine.web.users import list_users
from tests.conftest import SmtpSink
from tests.helpers import CAMPAIGN, tick
from tests.web import Clock, serving
from tests.webapp_fixtures import (
    DANA,
    OPS,
    PASSWORD,
    SUBJECTS,
    TOMAS,
    WebApp,
    at,
    csrf,
    draft_id,
    launched_fixture,  # noqa: F401  (fixture)
    login,
    web_fixture,  # noqa: F401  (fixture)
    web_settings_fixture,  # noqa: F401  (fixture)
)

TARGETS = (
    "exclude,reason,email,first_name\n"
    "y,open renewal negotiation,Ada@Tiny.example,Ada\n"
    ",,bo@tiny.example,Bo\n"
    "x,left the company,ghost@tiny.example,Ghost\n"
    "maybe,not sure,mia@midsize.example,Mia\n"
)


def upload(
    client: httpx.Client, token: str, content: str, campaign: str = "", dry_run: bool = False
) -> httpx.Response:
    data = {"csrf": token, "campaign": campaign}
    if dry_run:
        data["dry_run"] = "1"
    files = {"file": ("target-list.csv", content.encode("utf-8"), "text/csv")}
    return client.post("/app/exclusions/upload", data=data, files=files)


def exclusions_in(db: Database) -> list[str]:
    with db.session() as session:
        return sorted(e.email or f"@{e.domain}" for e in session.exec(select(Exclusion)).all())


def mode_of(db: Database, email: str) -> str:
    with db.session() as session:
        contact = session.exec(select(Contact).where(Contact.email == email)).one()
    return contact.outreach_mode


def test_pages_need_a_login_and_posts_without_one_are_refused(web: WebApp) -> None:
    eve_1 = draft_id(web.db, "eve@bigcorp.example", 1)
    with web.client() as client:
        for path in ("/app/", "/app/exclusions", "/app/drafts", f"/app/drafts/{eve_1}"):
            response = client.get(path)
            assert response.status_code == 303
            assert response.headers["location"].startswith("/app/login")
        assert client.get("/app/drafts").headers["location"] == "/app/login?next=%2Fdrafts"
        assert client.get("/app").status_code in (301, 307, 308)  # to /app/
        for path in (
            "/app/exclusions/upload",
            "/app/exclusions/remove",
            f"/app/drafts/{eve_1}/edit",
            f"/app/drafts/{eve_1}/send",
            "/app/contacts/eve@bigcorp.example/mode",
        ):
            token = csrf(client, "/app/login")  # an anonymous session's token is not enough
            response = client.post(path, data={"csrf": token, "mode": "A", "subject": "x"})
            assert response.status_code == 403, path
    assert mode_of(web.db, "eve@bigcorp.example") == "B"


def test_login_refuses_a_wrong_password_and_waits_after_five_failures(web: WebApp) -> None:
    with web.client() as client:
        refused = login(client, DANA, "wrong password!")
        assert refused.status_code == 400
        assert "wrong email or password" in refused.text
        assert client.get("/app/").status_code == 303  # still not logged in
        assert login(client, "nobody@example.com", PASSWORD).status_code == 400
        for _ in range(4):
            assert login(client, DANA, "wrong password!").status_code == 400
        blocked = login(client, DANA, PASSWORD)  # even the right password waits now
        assert blocked.status_code == 429
        assert "too many failed logins" in blocked.text
        assert int(blocked.headers["retry-after"]) > 0
        assert login(client, TOMAS, PASSWORD).status_code == 303  # per email
    web.clock.now += timedelta(minutes=16)
    with web.client() as client:
        response = login(client, DANA, PASSWORD)
        assert response.status_code == 303 and response.headers["location"] == "/app/"
        assert DANA in client.get("/app/").text
    with web.db.session() as session:
        failures = session.exec(select(LoginFailure.email)).all()
    assert failures == ["nobody@example.com"]  # a good login clears that email's failures


def test_session_cookie_flags_expiry_and_logout(
    web: WebApp, settings: Settings, db: Database
) -> None:
    with web.client() as client:
        response = login(client, OPS, PASSWORD)
        cookie = response.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
        assert client.get("/app/exclusions").status_code == 200
        web.clock.now += timedelta(hours=12, minutes=1)
        assert client.get("/app/exclusions").status_code == 303  # expired
    with web.login(OPS) as client:
        token = csrf(client)
        assert client.post("/app/logout", data={"csrf": token}).status_code == 303
        assert client.get("/app/").status_code == 303
    # https public base: the cookie is Secure
    with (
        serving(create_app(settings, db, clock=Clock(at(4, 26)))) as url,
        httpx.Client(base_url=url) as client,
    ):
        assert "secure" in client.get("/app/login").headers["set-cookie"].lower()


def test_every_post_needs_the_sessions_csrf_token(web: WebApp) -> None:
    with web.login(OPS) as ops, web.login(TOMAS) as tomas:
        other = csrf(tomas)
        for data in ({}, {"csrf": "forged"}, {"csrf": other}):
            response = ops.post(
                "/app/contacts/eve@bigcorp.example/mode", data={**data, "mode": "A"}
            )
            assert response.status_code == 403
            assert upload(ops, data.get("csrf", ""), TARGETS).status_code == 403
        assert mode_of(web.db, "eve@bigcorp.example") == "B"
        assert exclusions_in(web.db) == []
        token = csrf(ops)
        done = ops.post("/app/contacts/eve@bigcorp.example/mode", data={"csrf": token, "mode": "A"})
        assert done.status_code == 303
    assert mode_of(web.db, "eve@bigcorp.example") == "A"


def test_a_rep_sees_and_changes_only_their_own_contacts(web: WebApp) -> None:
    eve_1 = draft_id(web.db, "eve@bigcorp.example", 1)
    mia_1 = draft_id(web.db, "mia@midsize.example", 1)
    with web.login(DANA) as dana:
        token = csrf(dana)
        assert dana.get("/app/exclusions").status_code == 403
        assert upload(dana, token, TARGETS).status_code == 403
        assert exclusions_in(web.db) == []

        listing = dana.get("/app/drafts?status=all").text
        assert "mia@midsize.example" in listing and "eve@bigcorp.example" not in listing
        assert dana.get(f"/app/drafts/{mia_1}").status_code == 200
        assert dana.get(f"/app/drafts/{eve_1}").status_code == 404
        edit = {"csrf": token, "subject": "Hijacked", "body": "hello"}
        assert dana.post(f"/app/drafts/{eve_1}/edit", data=edit).status_code == 404
        assert dana.post(f"/app/drafts/{eve_1}/send", data={"csrf": token}).status_code == 404

        assert dana.get("/app/contacts/eve@bigcorp.example/mode").status_code == 404
        change = {"csrf": token, "mode": "A"}
        assert dana.post("/app/contacts/eve@bigcorp.example/mode", data=change).status_code == 404
        own = dana.post("/app/contacts/mia@midsize.example/mode", data=change)
        assert own.status_code == 303
        page = dana.get(own.headers["location"]).text
        assert "mia@midsize.example: outreach mode B -&gt; A" in page
        assert "3 open draft(s) cancelled" in page
    with web.db.session() as session:
        eve = session.get(Draft, eve_1)
        assert eve is not None and eve.subject == SUBJECTS[0] and eve.status == "draft"
    assert mode_of(web.db, "eve@bigcorp.example") == "B"
    assert mode_of(web.db, "mia@midsize.example") == "A"

    with web.login(OPS) as ops:
        assert "eve@bigcorp.example" in ops.get("/app/drafts").text
        assert ops.get(f"/app/drafts/{eve_1}").status_code == 200
        token = csrf(ops)
        change = {"csrf": token, "mode": "B"}
        assert ops.post("/app/contacts/eve@bigcorp.example/mode", data=change).status_code == 303
    assert mode_of(web.db, "eve@bigcorp.example") == "B"


def test_a_rep_edits_and_sends_a_draft_with_the_clis_refusals(
    web: WebApp, smtp_sink: SmtpSink
) -> None:
    eve_1 = draft_id(web.db, "eve@bigcorp.example", 1)
    web.clock.now = at(4, 28, 10)
    with web.login(TOMAS) as tomas:
        token = csrf(tomas)
        page = tomas.get(f"/app/drafts/{eve_1}").text
        assert "{{contact_url}}" in page
        body = page.split('name="body"', 1)[1].split(">", 1)[1].split("</textarea>", 1)[0]

        bad = body + "\nhttps://about.gitlab.com/webcast/automate-security-ci/?utm_source=me\n"
        edit = {"csrf": token, "subject": "Eve, speed and security?", "body": bad}
        refused = tomas.post(f"/app/drafts/{eve_1}/edit", data=edit)
        assert refused.status_code == 400
        assert "would not be tracked" in refused.text
        assert "utm_source=me" in refused.text  # what was typed is kept in the form

        edit["body"] = "Hi Eve,\n\nA quick note from Tomas.\n\n{{contact_url}}\n"
        saved = tomas.post(f"/app/drafts/{eve_1}/edit", data=edit)
        assert saved.status_code == 303
        assert "Draft saved." in tomas.get(saved.headers["location"]).text

        sent = tomas.post(f"/app/drafts/{eve_1}/send", data={"csrf": token})
        assert sent.status_code == 303
        assert f"to eve@bigcorp.example from {TOMAS}" in tomas.get(sent.headers["location"]).text
        again = tomas.post(f"/app/drafts/{eve_1}/send", data={"csrf": token})
        assert again.status_code == 409
        assert "email 1 to eve@bigcorp.example was already sent" in again.text

    (message,) = smtp_sink.to("eve@bigcorp.example")
    assert message["Subject"] == "Eve, speed and security?"
    assert TOMAS in message["From"]
    text = message.get_body(("plain",))
    assert text is not None
    content = str(text.get_content())
    assert "A quick note from Tomas." in content
    assert "http://track.example.test/c/" in content  # the tracked contact page

    ned_path = web.settings.config_path.parent / "x.csv"
    ned_path.write_text("email,reason\neve@bigcorp.example,legal hold\n", encoding="utf-8")
    with web.login(OPS) as ops:
        token = csrf(ops, "/app/exclusions")
        assert upload(ops, token, ned_path.read_text()).status_code == 200
        refused = ops.post(f"/app/drafts/{draft_id(web.db, 'eve@bigcorp.example', 2)}/send",
                           data={"csrf": token})  # fmt: skip
        assert refused.status_code == 409
        assert "email 2 to eve@bigcorp.example can&#39;t be sent: excluded" in refused.text
        assert len(smtp_sink.to("eve@bigcorp.example")) == 1

        # Lifted: the rep's open draft is theirs to send again, nothing to restart.
        lift = {"csrf": token, "target": "eve@bigcorp.example", "campaign": "", "reason": "cleared"}
        assert ops.post("/app/exclusions/remove", data=lift).status_code == 303
    with web.login(TOMAS) as tomas:
        token = csrf(tomas, "/app/drafts")
        eve_2 = draft_id(web.db, "eve@bigcorp.example", 2)
        assert tomas.post(f"/app/drafts/{eve_2}/send", data={"csrf": token}).status_code == 303
    with web.db.session() as session:
        second = session.get(Draft, eve_2)
        assert second is not None and second.status == "sent"
    assert [m["Subject"] for m in smtp_sink.to("eve@bigcorp.example")] == [
        "Eve, speed and security?",
        second.subject,
    ]


def test_a_late_upload_in_the_web_app_stops_emails_2_and_3_and_lists_email_1(
    web: WebApp, smtp_sink: SmtpSink
) -> None:
    tick(web.db, web.settings, at(4, 27))
    assert sorted(m["To"].addresses[0].addr_spec for m in smtp_sink.messages) == [
        "ada@tiny.example",
        "bo@tiny.example",
    ]
    web.clock.now = at(5, 3, 16)
    with web.login(OPS) as ops:
        token = csrf(ops, "/app/exclusions")
        dry = upload(ops, token, TARGETS, campaign="P2U", dry_run=True)
        assert dry.status_code == 200 and "Preview: nothing was stored yet." in dry.text
        assert exclusions_in(web.db) == []

        result = upload(ops, token, TARGETS, campaign="P2U")
        assert result.status_code == 200
        page = " ".join(result.text.split())
        assert "1 contact(s) excluded</strong> (campaign “P2U”)" in page
        assert "1 row(s) marked keep" in page and "1 matched no contact" in page
        assert "<td>target-list.csv:5</td><td>exclude</td>" in page  # the rejected row
        assert "&#39;maybe&#39; is not y/yes/x/true/1" in page
        assert "<td>target-list.csv:4</td><td>ghost@tiny.example</td>" in page
        already = page.split('id="already-sent"', 1)[1].split("</table>", 1)[0]
        assert f"<td>ada@tiny.example</td><td>P2U</td><td>1</td><td>{SUBJECTS[0]}</td>" in already

        listing = " ".join(ops.get("/app/exclusions").text.split())
        assert "<td>ada@tiny.example</td><td>P2U</td><td>open renewal negotiation</td>" in listing
        assert f"<td>target-list.csv:2</td><td>{OPS}</td> <td>2021-05-03 16:00</td>" in listing

    for moment in (at(5, 4), at(5, 11), at(5, 18)):
        tick(web.db, web.settings, moment)
    assert [str(m["Subject"]) for m in smtp_sink.to("ada@tiny.example")] == SUBJECTS[:1]
    assert [str(m["Subject"]) for m in smtp_sink.to("bo@tiny.example")] == SUBJECTS


def test_ops_see_deadlines_and_remove_an_exclusion_with_a_reason(web: WebApp) -> None:
    result = subprocess.run(
        [CAMPAIGN, "exclusions", "deadline", "P2U", "2021-04-23"],
        env={"CAMPAIGN_CONFIG": str(web.settings.config_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    with web.login(OPS) as ops:
        page = ops.get("/app/exclusions").text
        assert "2021-04-23: <strong>passed</strong>" in page
        token = csrf(ops, "/app/exclusions")
        assert upload(ops, token, "@bigcorp.example\n").status_code == 200
        remove = {"csrf": token, "target": "@bigcorp.example", "campaign": "", "reason": "won"}
        response = ops.post("/app/exclusions/remove", data=remove)
        assert response.status_code == 303
        page = " ".join(ops.get(response.headers["location"]).text.split())
        assert "Removed 1 exclusion(s) of @bigcorp.example." in page
        assert f"by {OPS}: won</td>" in page
        missing = ops.post("/app/exclusions/remove", data=remove)
        assert missing.status_code == 404 and "no active exclusion" in missing.text
    (view,) = list_exclusions(web.db, include_removed=True)
    assert view.removed_by == OPS and view.removal_reason == "won"


def test_a_removed_user_is_logged_out_and_cannot_log_in(web: WebApp, tmp_path: Path) -> None:
    env = {"CAMPAIGN_CONFIG": str(web.settings.config_path), "PATH": "/usr/bin:/bin"}

    def cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [CAMPAIGN, "users", *args], input=stdin, env=env, capture_output=True, text=True,
            check=False,
        )  # fmt: skip

    with web.login(DANA) as dana:
        assert cli("remove", DANA).returncode == 0
        assert dana.get("/app/").status_code == 303
        assert login(dana, DANA, PASSWORD).status_code == 400
    added = cli("add", "new.rep@example.com", "--role", "rep", "--password-stdin", stdin="short\n")
    assert added.returncode == 1 and "at least 10 characters" in added.stderr
    added = cli("add", "new.rep@example.com", "--role", "rep", "--password-stdin",
                stdin="a long enough one\n")  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "no rep with email new.rep@example.com" in added.stderr
    again = cli("add", "new.rep@example.com", "--role", "ops", "--password-stdin", stdin="x" * 12)
    assert again.returncode == 1 and "--replace" in again.stderr
    listed = cli("list")
    assert "new.rep@example.com" in listed.stdout and "removed" in listed.stdout
    users = {u.email: u for u in list_users(web.db)}
    assert users[DANA].disabled and users["new.rep@example.com"].role == "rep"
    with web.client() as client:
        assert login(client, "New.Rep@example.com", "a long enough one").status_code == 303
        page = client.get("/app/drafts").text
        assert "no rep with email" in page  # a rep user with no accounts sees nothing


def test_an_upload_over_the_tracking_limit_is_fine_under_app(web: WebApp) -> None:
    rows = "".join(f"nobody{i}@nowhere.example\n" for i in range(2000))  # ~50 KB
    assert len(rows) > 16 * 1024
    with web.login(OPS) as ops:
        result = upload(ops, csrf(ops), rows, dry_run=True)
        assert result.status_code == 200
        assert "2000 matched no contact" in result.text
    with httpx.Client(base_url=web.url) as client:
        big = client.post("/u/whatever", content=b"x" * (17 * 1024))
        assert big.status_code == 413  # tracking keeps its own small limit


def test_ops_see_the_report_dashboard_and_reps_do_not(web: WebApp) -> None:
    with web.client() as anonymous:
        assert anonymous.get("/app/dashboard").headers["location"].startswith("/app/login")
    with web.login(DANA) as dana:
        assert dana.get("/app/dashboard").status_code == 403
    with web.login(OPS) as ops:
        page = ops.get("/app/dashboard")
        assert page.status_code == 200
        assert "default-src 'none'" in page.headers["content-security-policy"]
        assert "<h2>P2U</h2>" in page.text and page.text.count("<svg") == 1  # the funnel
        assert "No human opens, clicks or contact requests yet." in page.text
        assert 'data-path="campaigns.0.totals.enrolled" data-value="4">4<' in page.text
        other = ops.get("/app/dashboard", params={"campaign": "nope"})
        assert other.status_code == 404 and "no campaign named nope" in other.text


def _step_1_queued_and_sent(campaigns_page: str) -> tuple[int, int]:
    found = re.search(r'<tr><td>1</td>.*?\n<td class="num">(\d+)</td><td class="num">(\d+)</td>',
                      campaigns_page)  # fmt: skip
    assert found, campaigns_page
    return int(found.group(1)), int(found.group(2))


def test_counts_are_at_most_recount_seconds_old_and_count_now_counts_at_once(
    web: WebApp, smtp_sink: SmtpSink
) -> None:
    sent = 'data-path="campaigns.0.totals.sent" data-value="{}"'
    with web.login(OPS) as ops:
        assert sent.format(0) in ops.get("/app/dashboard").text
        assert _step_1_queued_and_sent(ops.get("/app/campaigns").text) == (0, 0)
        tick(web.db, web.settings, at(4, 27))  # Ada and Bo get email 1
        assert len(smtp_sink.messages) == 2
        web.clock.now = at(4, 26) + timedelta(seconds=59)  # recount_seconds is 60

        kept = ops.get("/app/dashboard").text
        assert sent.format(0) in kept
        assert "Counts as of 2021-04-26 09:00:00 UTC." in kept
        counted = ops.get("/app/dashboard", params={"fresh": "1"}).text
        assert sent.format(2) in counted
        assert "Counts as of 2021-04-26 09:00:59 UTC." in counted

        token = csrf(ops, "/app/campaigns")
        ops.post("/app/campaigns/pause", data={"csrf": token, "campaign": "P2U"})
        paused = ops.get("/app/campaigns").text
        assert "Campaign P2U paused." in paused
        assert '<span class="badge paused">paused</span>' in paused  # read just now
        assert _step_1_queued_and_sent(paused) == (0, 0)  # the counts of 09:00:00

        web.clock.now = at(4, 26, 9, 1)  # the count of 09:00:00 is 60 s old: counted again
        stale = ops.get("/app/campaigns").text
        assert _step_1_queued_and_sent(stale) == (0, 0)
        assert "newer counts are being made: reload in a moment" in stale
        deadline = time.monotonic() + 20
        while "Counts as of 2021-04-26 09:01:00 UTC." not in (
            page := ops.get("/app/campaigns").text
        ):
            assert time.monotonic() < deadline, "the background count never landed"
            time.sleep(0.05)
        assert _step_1_queued_and_sent(page) == (0, 2)
        assert '<span class="badge paused">paused</span>' in page
