"""Contact imports through the real `campaign` command: rejections with file:line, idempotence."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sqlmodel import select

from campaign_engine.core.config import Settings
from campaign_engine.store.db import Database
from campaign_engine.store.models import Account, Contact
from tests.helpers import write_csv

CAMPAIGN = str(Path(sys.executable).parent / "campaign")


def campaign(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CAMPAIGN_CONFIG": str(settings.config_path), "COLUMNS": "200"}
    return subprocess.run([CAMPAIGN, *args], env=env, capture_output=True, text=True, check=False)


def test_invalid_rows_are_reported_valid_ones_kept_and_reimport_changes_nothing(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "list.csv",
        [
            ["ok@tiny.example", "Ok", "Row", "CTO", "Tiny", "10", "", "rep@x.example", ""],
            ["not-an-email", "Bad", "Email", "CTO", "Tiny", "10", "", "rep@x.example", ""],
            [
                "seg@tiny.example",
                "Bad",
                "Segment",
                "CTO",
                "Tiny",
                "10",
                "Huge",
                "rep@x.example",
                "",
            ],
            ["big@corp.example", "Big", "Corp", "CISO", "Corp", "", "Large", "rep@x.example", "b"],
            ["mode@tiny.example", "Bad", "Mode", "CTO", "Tiny", "10", "", "rep@x.example", "Z"],
        ],
    )
    result = campaign(settings, "import", "contacts", str(path))
    assert result.returncode == 1
    assert f"{path}:3: email: 'not-an-email' is not a valid address" in result.stderr
    assert f"{path}:4: segment: unknown segment 'Huge'" in result.stderr
    assert f"{path}:6: outreach_mode: unknown outreach mode 'Z'" in result.stderr
    assert "2 contacts created" in result.stdout
    with db.session() as session:
        stored = {c.email: c.outreach_mode for c in session.exec(select(Contact))}
        segments = dict(session.exec(select(Account.name, Account.segment)).all())
    assert stored == {"ok@tiny.example": "C", "big@corp.example": "B"}
    assert segments == {"Tiny": "SMB", "Corp": "Large"}

    again = campaign(settings, "import", "contacts", str(path))
    assert "0 contacts created, 0 updated, 2 unchanged, 3 rejected" in again.stdout


def test_mixed_case_email_upserts_instead_of_duplicating(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    first = write_csv(
        tmp_path / "a.csv", [["Ada@Tiny.Example", "Ada", "L", "Dev", "Tiny", "5", "", "", ""]]
    )
    second = write_csv(
        tmp_path / "b.csv",
        [["ada@tiny.example", "Ada", "Lovelace", "Dev", "Tiny", "5", "", "", ""]],
    )
    assert campaign(settings, "import", "contacts", str(first)).returncode == 0
    result = campaign(settings, "import", "contacts", str(second))
    assert "0 contacts created, 1 updated" in result.stdout
    with db.session() as session:
        assert [(c.email, c.last_name) for c in session.exec(select(Contact))] == [
            ("ada@tiny.example", "Lovelace")
        ]


def test_ent_rows_become_large_or_strategic_and_reports_show_them_apart(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    rep = "rep@x.example"
    (tmp_path / "reps.csv").write_text(f"email,name\n{rep},Rita Rep\n")
    assert campaign(settings, "import", "reps", str(tmp_path / "reps.csv")).returncode == 0
    path = write_csv(
        tmp_path / "ent.csv",
        [
            ["ann@big.example", "Ann", "Big", "CISO", "Big Co", "1,200", "ENT", rep, ""],
            ["sol@huge.example", "Sol", "Huge", "CTO", "Huge Co", "12000", "ENT", rep, ""],
            ["nia@vast.example", "Nia", "Vast", "VP of IT", "Vast Co", "", "Enterprise", rep, ""],
            ["tim@tiny.example", "Tim", "Tiny", "Developer", "Tiny Co", "12", "", rep, ""],
        ],
    )
    result = campaign(settings, "import", "contacts", str(path))
    assert result.returncode == 0, result.stderr
    warning = f"{path}:4: segment: ENT without an employee count: taken as Large"
    assert warning in " ".join(result.stderr.split()) + " ".join(result.stdout.split())
    with db.session() as session:
        segments = dict(session.exec(select(Account.name, Account.segment)).all())
    assert segments == {
        "Big Co": "Large",
        "Huge Co": "Strategic",
        "Vast Co": "Large",
        "Tiny Co": "SMB",
    }

    launched = campaign(
        settings, "launch", "premium-to-ultimate", "--start", "2021-04-27", "--yes",
        "--now", "2021-04-20T12:00:00+00:00",
    )  # fmt: skip
    assert launched.returncode == 0, launched.stderr
    out = " ".join(launched.stdout.split())
    assert (
        "Large │ rep │ 2" in out and "Strategic │ rep │ 1" in out and "SMB │ automated │ 1" in out
    )
    report = json.loads(campaign(settings, "report", "--format", "json").stdout)
    rows = [(s["segment"], s["figures"]["enrolled"]) for s in report["campaigns"][0]["segments"]]
    assert rows == [("SMB", 1), ("Large", 2), ("Strategic", 1)]
