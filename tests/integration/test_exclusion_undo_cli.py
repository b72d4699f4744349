"""Preview, apply, revert through the real `campaign` command: `exclude --dry-run` keeps a
preview that `exclusions apply` stores without the file; `exclusions revert` lifts a whole upload
with who and why; a big file prints a summary and writes its details to --out."""

from __future__ import annotations

import csv
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlmodel import col, select

from campaign_engine.core.config import Settings
from campaign_engine.engine.launch import launch
from campaign_engine.store.db import Database
from campaign_engine.store.models import Exclusion, ExclusionAudit
from tests.helpers import campaign_cli, import_with_reps, tick, write_csv

REP = "dana.reyes@gitlab-demo.example"


def at(day: int, hour: int = 9) -> datetime:
    return datetime(2021, 4, day, hour, tzinfo=UTC)


@pytest.fixture(name="launched")
def launched_fixture(db: Database, settings: Settings, tmp_path: Path) -> None:
    rows = [[f"{n}@tiny.example", n.title(), "Smith", "Developer", "Tiny Co", "12", "", REP, ""]
            for n in ("ada", "bo", "cy")]  # fmt: skip
    assert import_with_reps(db, write_csv(tmp_path / "c.csv", rows), at(20)).rejected == []
    launch(db, settings, "premium-to-ultimate", date(2021, 4, 27), at(20), name="P2U")


def active(db: Database) -> list[str]:
    with db.session() as session:
        found = session.exec(select(Exclusion.email).where(col(Exclusion.removed_at).is_(None)))
        return sorted(e or "" for e in found.all())


def test_preview_apply_and_revert_an_upload(
    launched: None, db: Database, settings: Settings, tmp_path: Path
) -> None:
    tick(db, settings, at(27, 10))  # email 1 went to all three
    path = tmp_path / "q2.csv"
    path.write_text("email,reason\nada@tiny.example,churn\nbo@tiny.example,legal\nzed@x.example,\n")
    preview = campaign_cli(settings, "exclude", str(path), "--dry-run", "--by", "olga")
    assert preview.returncode == 0, preview.stderr
    assert f"{path}: 2 contact(s) would be excluded (all campaigns)" in preview.stdout
    assert "Contacts it would exclude (2)" in preview.stdout
    assert "ada@tiny.example │ Ada Smith │ Tiny Co" in preview.stdout
    assert "Already sent before this exclusion (2)" in preview.stdout
    assert "preview 1 saved; nothing was stored. Apply it as it was read" in preview.stdout
    assert preview.stdout.rstrip().endswith("campaign exclusions apply 1")
    assert active(db) == []

    path.unlink()  # applying needs no file
    applied = campaign_cli(settings, "exclusions", "apply", "1", "--by", "sam")
    assert applied.returncode == 0, applied.stderr
    assert "3 new exclusion(s)" in applied.stdout
    assert "upload 1 applied; undo it as a whole: campaign exclusions revert 1 --reason" in (
        applied.stdout
    )
    assert active(db) == ["ada@tiny.example", "bo@tiny.example", "zed@x.example"]
    again = campaign_cli(settings, "exclusions", "apply", "1")
    assert again.returncode == 1
    assert again.stderr.strip() == f"error: exclusion upload 1 ({path}) is applied, not preview"

    assert campaign_cli(settings, "exclusions", "remove", "zed@x.example").returncode == 0
    no_reason = campaign_cli(settings, "exclusions", "revert", "1")
    assert no_reason.returncode == 1 and "--reason" in no_reason.stderr
    assert len(active(db)) == 2, "nothing changed"
    reverted = campaign_cli(
        settings, "exclusions", "revert", "1", "--reason", "wrong list", "--by", "kim"
    )
    assert reverted.returncode == 0, reverted.stderr
    assert reverted.stdout.startswith(
        f"upload 1 ({path}) reverted: 2 exclusion(s) lifted (1 had been lifted before)"
    )
    assert active(db) == []
    with db.session() as session:
        log = session.exec(
            select(ExclusionAudit.actor, ExclusionAudit.reason).where(
                ExclusionAudit.action == "remove", ExclusionAudit.actor == "kim"
            )
        ).all()
    assert log == [("kim", f"revert of upload 1 ({path}): wrong list")] * 2
    uploads = json.loads(campaign_cli(settings, "exclusions", "uploads", "--format", "json").stdout)
    assert [(u["id"], u["state"], u["added"], u["applied_by"], u["reverted_by"],
             u["revert_reason"]) for u in uploads] == [
        (1, "reverted", 3, "sam", "kim", "wrong list")]  # fmt: skip
    twice = campaign_cli(settings, "exclusions", "revert", "1", "--reason", "again")
    assert twice.returncode == 1 and "is reverted, not applied" in twice.stderr


def test_a_big_upload_prints_a_summary_and_writes_every_detail_to_out(
    launched: None, settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "big.csv"
    path.write_text("email\n" + "".join(f"gone{n}@old.example\n" for n in range(3000)) +
                    "ada@tiny.example\n")  # fmt: skip
    details = tmp_path / "details.csv"
    result = campaign_cli(settings, "exclude", str(path), "--out", str(details))
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) < 40, result.stdout
    assert "… 2,990 more (all in" in result.stdout
    with details.open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["list", "email", "account_or_campaign", "detail"]
    assert ["excluded", "ada@tiny.example", "Tiny Co", "Ada Smith"] in rows
    assert sum(1 for r in rows if r[0] == "no_contact") == 3000
