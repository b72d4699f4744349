"""Drafts no rep can send: a launch (or a late joiner) that writes drafts for contacts at
accounts no rep owns says so, emails the unassigned fallback which accounts and how to give each
a rep (real SMTP), counts them in `campaign status` and on the console's Unassigned page; an
assignment hands the drafts to the rep. Over the real command."""

from __future__ import annotations

import dataclasses
import html
import re
import subprocess
from pathlib import Path

import httpx
from sqlmodel import select

from campaign_engine.api.tokens import create_token
from campaign_engine.audience.imports import import_contacts, import_reps
from campaign_engine.core.config import Settings
from campaign_engine.engine.launch import launch
from campaign_engine.reps.alerts import NOBODY
from campaign_engine.reps.drafts import list_drafts
from campaign_engine.store.db import Database
from campaign_engine.store.models import Alert
from campaign_engine.web.app import create_app
from campaign_engine.web.users import add_user
from tests.browser import WIDTHS, chromium, logged_in, needs_chromium, shoot
from tests.conftest import SmtpSink
from tests.helpers import campaign_cli, text_of, tick, write_csv
from tests.web import Clock, serving
from tests.webapp_fixtures import (
    DANA,
    OPS,
    PASSWORD,
    START,
    WebApp,
    at,
    csrf_of,
    web_settings_fixture,  # noqa: F401  (fixture)
)

NORA = "nora.new@gitlab-demo.example"  # named as owner, not a rep yet
ZED, ZOE, EVE, MIA = (
    "zed@nowhere.example",
    "zoe@nowhere.example",
    "eve@big.example",
    "mia@mid.example",
)
KIND = "drafts_without_rep"


def fallback_mail(sink: SmtpSink) -> list[str]:
    return [text_of(m) for m in sink.to(OPS) if m["X-Campaign-Alert"] == KIND]


def words(page: str) -> str:
    """A page's text as one line of words, as a reader sees it."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def setup(db: Database, tmp_path: Path) -> None:
    """Dana owns Midsize; Nowhere Inc names Nora (no rep yet); Big Corp names nobody."""
    assert import_reps(db, write_csv(tmp_path / "reps.csv", [[DANA]], ["email"])).rejected == []
    rows = [
        [MIA, "Mia", "Middle", "CTO", "Midsize", "300", "", DANA, ""],
        [ZED, "Zed", "Zero", "CTO", "Nowhere Inc", "300", "", NORA, ""],
        [ZOE, "Zoe", "Zero", "CISO", "Nowhere Inc", "300", "", NORA, ""],
        [EVE, "Eve", "Large", "CISO", "Big Corp", "5000", "", "", ""],
    ]
    assert import_contacts(db, write_csv(tmp_path / "c.csv", rows), at(4, 20)).rejected == []
    add_user(db, OPS, "ops", PASSWORD, at(4, 20))  # the fallback: no [reps] unassigned_to


def launch_p2u(settings: Settings, *options: str) -> subprocess.CompletedProcess[str]:
    """`campaign launch` of the play as P2U on 2021-04-27, seen from 2021-04-20 (or its dry run
    with "--dry-run"); it succeeds."""
    done = campaign_cli(
        settings, "launch", "premium-to-ultimate", "--start", "2021-04-27", "--name", "P2U",
        "--now", "2021-04-20T09:00:00+00:00", *(options or ("--yes",)),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done


def test_a_launch_tells_ops_of_drafts_no_rep_can_send_and_an_assignment_hands_them_over(
    settings: Settings, db: Database, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    setup(db, tmp_path)
    launched = launch_p2u(settings)
    assert (
        "warning: 3 rep-channel contact(s) at 2 account(s) no rep owns get nothing until their"
        f" account has a rep; this list is emailed to {OPS}."
    ) in launched.stderr
    assert "  Big Corp: 1 contact(s), 3 draft(s)\n" in launched.stderr
    assert (
        f"  Nowhere Inc (the import named {NORA}, not a rep yet): 2 contact(s), 6 draft(s)\n"
    ) in launched.stderr

    tick(db, settings, at(4, 20, 9, 1))
    (mail,) = fallback_mail(smtp_sink)
    assert mail.startswith("Campaign P2U wrote drafts for 3 contact(s) at 2 account(s) no rep")
    assert "campaign accounts assign 'Big Corp' REP_EMAIL" in mail
    assert "campaign accounts assign 'Nowhere Inc' REP_EMAIL" in mail
    assert "Midsize" not in mail and "https://track.example.test/app/unassigned" in mail
    (message,) = [m for m in smtp_sink.to(OPS) if m["X-Campaign-Alert"] == KIND]
    assert message["Subject"] == "Drafts waiting for a rep: 3 contact(s) in P2U"

    status = campaign_cli(settings, "status", "--now", "2021-04-20T10:00:00+00:00")
    assert (
        "Drafts waiting for a rep: 9 for 3 contact(s) at 2 account(s) no rep owns"
    ) in status.stdout

    assigned = campaign_cli(settings, "accounts", "assign", "Nowhere Inc", DANA)
    assert assigned.returncode == 0, assigned.stderr
    assert (
        f"Nowhere Inc is now owned by {DANA} (had no rep). 6 draft(s) for 2 contact(s) are now"
        f" in {DANA}'s drafts."
    ) in " ".join(assigned.stdout.split())
    with db.session() as session:
        assert {d.contact_email for d in list_drafts(session, DANA)} == {MIA, ZED, ZOE}
    status = campaign_cli(settings, "status", "--now", "2021-04-20T10:00:00+00:00")
    assert "Drafts waiting for a rep: 3 for 1 contact(s) at 1 account(s)" in status.stdout
    tick(db, settings, at(4, 20, 9, 2))
    assert len(fallback_mail(smtp_sink)) == 1, "told once, at launch"


def test_a_late_joiner_at_an_account_no_rep_owns_is_told_too(
    settings: Settings, db: Database, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    setup(db, tmp_path)
    launch_p2u(settings)
    tick(db, settings, at(4, 20, 9, 1))
    assert len(fallback_mail(smtp_sink)) == 1
    late = [["ivy@nowhere.example", "Ivy", "Late", "CTO", "Nowhere Inc", "300", "", NORA, ""]]
    assert import_contacts(db, write_csv(tmp_path / "late.csv", late), at(4, 21)).rejected == []
    tick(db, settings, at(4, 21, 9, 1))
    mails = fallback_mail(smtp_sink)
    assert len(mails) == 2
    assert mails[1].startswith("Campaign P2U wrote drafts for 1 contact(s) at 1 account(s)")
    assert f"Nowhere Inc (the import named {NORA}, not a rep yet): 1 contact(s)" in mails[1]


def test_the_unassigned_page_lists_the_accounts_whose_drafts_wait_and_hands_them_over(
    web_settings: Settings, db: Database, tmp_path: Path
) -> None:
    setup(db, tmp_path)
    launch(db, web_settings, "premium-to-ultimate", START, at(4, 20), name="P2U")
    with serving(create_app(web_settings, db, clock=Clock(at(4, 21)))) as url:
        web = WebApp(url, Clock(at(4, 21)), web_settings, db)
        with web.login(OPS) as ops:
            page = ops.get("/app/unassigned")
            assert page.status_code == 200
            text = words(page.text)
            assert "Drafts waiting for a rep: 9 for 3 contact(s)." in text
            assert "Big Corp (0 open, 3 draft(s) waiting)" in text
            assert (
                f"Nowhere Inc (0 open, 6 draft(s) waiting) 2 contact(s) with drafts no rep can"
                f" send; the import named {NORA} as owner, who is not a rep yet."
            ) in text
            assert "Midsize" not in text
            done = ops.post(
                "/app/unassigned/assign",
                data={"account": "Big Corp", "rep_email": DANA, "csrf": csrf_of(page.text)},
            )
            assert done.status_code == 303
            after = words(ops.get("/app/unassigned").text)
            assert (
                f"Big Corp is now owned by {DANA} (had no rep). 3 draft(s) for 1 contact(s) are"
                f" now in {DANA}'s drafts."
            ) in after
            assert "Drafts waiting for a rep: 6 for 2 contact(s)." in after


@needs_chromium
def test_the_unassigned_page_with_waiting_drafts_in_a_browser(
    web_settings: Settings, db: Database, tmp_path: Path
) -> None:
    setup(db, tmp_path)
    launch(db, web_settings, "premium-to-ultimate", START, at(4, 20), name="P2U")
    with (
        serving(create_app(web_settings, db, clock=Clock(at(4, 21)))) as url,
        chromium() as browser,
    ):
        for width in WIDTHS:
            with logged_in(browser, url, OPS, width) as page:
                page.goto(f"{url}/app/unassigned")
                main = page.inner_text("main")
                assert "Drafts waiting for a rep: 9" in main and "Give Nowhere Inc to" in main
                shoot(page, "unassigned-drafts", width)


def test_the_dry_run_says_which_rep_channel_contacts_have_no_rep(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    setup(db, tmp_path)
    dry = launch_p2u(settings, "--dry-run")
    lines = [line for line in dry.stdout.splitlines() if line.startswith("rep channel:")]
    assert lines == [
        "rep channel: 3 MM contact(s) get drafts for their rep (2 at accounts no rep owns:"
        " nothing until they get one)",
        "rep channel: 1 Strategic contact(s) get drafts for their rep (1 at accounts no rep"
        " owns: nothing until they get one)",
    ]


def test_the_api_launch_counts_the_rep_channel_contacts_without_a_rep(
    web_settings: Settings, db: Database, tmp_path: Path
) -> None:
    setup(db, tmp_path)
    token = create_token(db, "ops-bot", "ops", at(4, 20)).token
    body = {"sequence": "premium-to-ultimate", "start": "2021-04-27", "name": "P2U"}
    with serving(create_app(web_settings, db, clock=Clock(at(4, 20)))) as url:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=f"{url}/api/v1", headers=headers, timeout=30) as client:
            dry = client.post("/campaigns", json={**body, "dry_run": True})
            done = client.post("/campaigns", json=body)
    assert (dry.status_code, done.status_code) == (201, 201), (dry.text, done.text)
    for response in (dry, done):
        assert response.json()["enrolled"] == [
            {"segment": "MM", "channel": "rep", "contacts": 3, "without_rep": 2},
            {"segment": "Strategic", "channel": "rep", "contacts": 1, "without_rep": 1},
        ]


def test_with_no_fallback_at_all_the_launch_says_nobody_is_told(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    setup(db, tmp_path)
    assert campaign_cli(settings, "users", "remove", OPS).returncode == 0
    launched = launch_p2u(settings)
    assert (
        "account has a rep; nobody is emailed this list (set [reps] unassigned_to, or add an ops"
        " user)."
    ) in launched.stderr
    with db.session() as session:
        (alert,) = session.exec(select(Alert).where(Alert.kind == KIND)).all()
    assert (alert.state, alert.error) == ("failed", NOBODY)


def test_a_long_list_of_accounts_names_the_first_fifty_and_counts_the_rest(
    settings: Settings, db: Database, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    rows = [[f"cto@acct{n:02}.example", "C", "T", "CTO", f"Account {n:02}", "300", "", "", ""]
            for n in range(52)]  # fmt: skip
    assert import_contacts(db, write_csv(tmp_path / "c.csv", rows), at(4, 20)).rejected == []
    add_user(db, OPS, "ops", PASSWORD, at(4, 20))
    launched = launch_p2u(settings)
    named = [line for line in launched.stderr.splitlines() if line.startswith("  Account ")]
    assert named[0] == "  Account 00: 1 contact(s), 3 draft(s)" and len(named) == 50
    more = "... and 2 more account(s): the console's Unassigned page lists them all"
    assert f"  {more}" in launched.stderr and "Account 50" not in launched.stderr
    tick(db, settings, at(4, 20, 9, 1))
    (mail,) = fallback_mail(smtp_sink)
    assert "Account 49: 1 contact(s)" in mail and more in mail and "Account 51" not in mail
    assert mail.count("campaign accounts assign") == 50
    web_settings = dataclasses.replace(settings, tracking_base_url="http://track.example.test")
    with serving(create_app(web_settings, db, clock=Clock(at(4, 21)))) as url:
        web = WebApp(url, Clock(at(4, 21)), web_settings, db)
        with web.login(OPS) as ops:
            page = words(ops.get("/app/unassigned").text)
    assert page.count("Give Account ") == 50 and "Give Account 49 to" in page
    assert "… and 2 more account(s) with drafts waiting for a rep" in page
