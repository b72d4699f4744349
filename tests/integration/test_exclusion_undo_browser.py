"""Preview, apply, revert: an exclusion upload in headless Chromium at 1280 and 375 px. The
preview names the known contacts it would exclude and who already got an email; Apply stores it
without a second upload; Revert lifts the whole upload, with who and why in the audit trail."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from campaign_engine.store.db import Database
from campaign_engine.store.models import Exclusion, ExclusionAudit
from tests.browser import ARTIFACTS, WIDTHS, chromium, logged_in, needs_chromium, shoot
from tests.helpers import tick
from tests.webapp_fixtures import (
    OPS,
    WebApp,
    at,
    csrf_of,
    launched_fixture,  # noqa: F401  (fixture)
    web_fixture,  # noqa: F401  (fixture)
    web_settings_fixture,  # noqa: F401  (fixture)
)

pytestmark = [needs_chromium, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]


def active(db: Database) -> list[str]:
    with db.session() as session:
        rows = session.exec(select(Exclusion).where(Exclusion.removed_at == None)).all()  # noqa: E711
    return sorted(e.email or f"@{e.domain}" for e in rows)


def test_preview_then_apply_then_revert_the_whole_upload(
    web: WebApp, db: Database, tmp_path: Path
) -> None:
    tick(db, web.settings, at(4, 27, 10))  # email 1 goes to ada and bo
    upload = tmp_path / "q2-exclusions.csv"
    upload.write_text(
        "email,domain,reason\nada@tiny.example,,churn risk\nghost@nowhere.example,,legal hold\n"
        ",bigcorp.example,strategic account\n"
    )
    with chromium() as browser:
        for width in WIDTHS:
            with logged_in(browser, web.url, OPS, width) as page:
                page.goto(f"{web.url}/app/exclusions")
                assert page.is_checked("input[name=dry_run]")  # preview first, by default
                page.set_input_files("#file", str(upload))
                page.click("form.box button[type=submit]")
                page.wait_for_selector("#apply")
                assert page.inner_text("h1").endswith("(preview)")
                summary = " ".join(page.inner_text("#summary").split())
                assert summary.startswith("2 contact(s) would be excluded (all campaigns)")
                contacts = page.locator("#contacts tr").all_inner_texts()
                assert contacts[1:] == [
                    "ada@tiny.example\tAda Lovelace\tTiny Co",
                    "eve@bigcorp.example\tEve Large\tBigCorp",
                ]
                sent = page.inner_text("#already-sent")
                assert "ada@tiny.example\tP2U\t1\tInterested in speed and security?" in sent
                assert "ghost@nowhere.example" in page.inner_text("#unmatched")
                shoot(page, "exclusion-preview", width)
                assert active(db) == []  # a preview stores nothing

                page.click("#apply button")
                page.wait_for_selector("form.revert")
                assert page.inner_text(".flash") == "Applied: 3 new exclusion(s)."
                assert active(db) == [
                    "@bigcorp.example",
                    "ada@tiny.example",
                    "ghost@nowhere.example",
                ]
                shoot(page, "exclusion-applied", width)

                page.goto(f"{web.url}/app/exclusions")
                row = page.locator("#uploads tr[data-upload]").first
                upload_id = row.get_attribute("data-upload")
                assert "applied" in row.inner_text()
                shoot(page, "exclusion-uploads", width)
                row.locator("input[name=reason]").fill("wrong quarter's list")
                row.locator("button.danger").click()
                page.wait_for_url("**/app/exclusions?show=removed")
                assert page.inner_text(".flash") == (
                    f"Upload {upload_id} (q2-exclusions.csv) reverted: 3 exclusion(s) lifted."
                )
                assert active(db) == []
                removed = page.inner_text("#exclusions")
                assert (
                    f"revert of upload {upload_id} (q2-exclusions.csv): wrong quarter's list"
                    in (removed)
                )
                row = page.locator(f"#uploads tr[data-upload='{upload_id}']")
                assert "reverted" in row.inner_text() and OPS in row.inner_text()
                shoot(page, "exclusion-reverted", width)

                page.goto(f"{web.url}/app/exclusions")  # a second revert is refused
    with db.session() as session:
        audits = session.exec(select(ExclusionAudit).where(ExclusionAudit.action == "remove")).all()
    assert len(audits) == 6 and {a.actor for a in audits} == {OPS}


def test_a_long_upload_shows_its_progress_then_opens_the_result(
    web: WebApp, tmp_path: Path
) -> None:
    big = tmp_path / "big.csv"
    big.write_text(
        "email,reason\nada@tiny.example,churn\n"
        + "".join(f"left{n:05}@gone-company.example,left the company\n" for n in range(9000))
    )
    assert big.stat().st_size > 256 * 1024
    with web.login(OPS) as ops:
        token = csrf_of(ops.get("/app/exclusions").text)
        with big.open("rb") as handle, ops.stream(
            "POST", "/app/exclusions/upload", data={"csrf": token, "dry_run": "1"},
            files={"file": ("big.csv", handle, "text/csv")},
        ) as response:  # fmt: skip
            assert response.status_code == 200
            chunks = list(response.iter_text())
    body = "".join(chunks)
    steps = [c for c in chunks if '<p class="step">' in c]
    assert len(steps) >= 2, "progress arrives while the file is read, not all at the end"
    assert body.index("<h1>Uploading big.csv</h1>") < body.index("<progress") < body.index("Done.")
    assert '<p class="step"><progress max="100" value="100"></progress> 100%' in body
    result = body.split('<a id="result" href="', 1)[1].split('"', 1)[0]
    assert result.startswith("/app/exclusions/uploads/")
    assert f'<meta http-equiv="refresh" content="0;url={result}">' in body

    midway = body[: body.index(steps[1]) + len(steps[1])]
    with chromium() as browser:
        for width in WIDTHS:
            with logged_in(browser, web.url, OPS, width) as page:
                page.set_content(midway)  # the page as it looks while the file is read
                assert page.locator(".progress-log .step").last.is_visible()
                assert not page.locator(".progress-log .step").first.is_visible()
                page.screenshot(path=str(ARTIFACTS / f"upload-progress-{width}.png"))

                page.goto(f"{web.url}/app/exclusions")
                page.set_input_files("#file", str(big))
                page.click("form.box button[type=submit]")
                page.wait_for_url("**/app/exclusions/uploads/*", timeout=120_000)
                summary = " ".join(page.inner_text("#summary").split())
                assert summary.startswith("1 contact(s) would be excluded (all campaigns)")
                assert "9000 matched no contact" in summary
