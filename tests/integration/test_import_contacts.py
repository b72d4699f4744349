"""Contact imports through the real `campaign` command: rejections with file:line, idempotence."""

from __future__ import annotations

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
    assert segments == {"Tiny": "SMB", "Corp": "ENT"}

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
