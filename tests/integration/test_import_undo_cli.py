"""`campaign imports list` and `campaign imports revert`, run as the real command: field values
go back to what they were before the import, contacts it created go unless something refers to
them, and what is kept is said."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

from sqlmodel import select

from campaign_engine.core.config import Settings
from campaign_engine.engine.launch import launch
from campaign_engine.store.db import Database
from campaign_engine.store.models import Contact
from tests.helpers import campaign_cli, write_csv

REP = "dana.reyes@gitlab-demo.example"


def contact(email: str, last: str, title: str) -> list[str]:
    return [email, email.split("@")[0].title(), last, title, "Tiny Co", "12", "", REP, ""]


def people(db: Database) -> dict[str, tuple[str, str]]:
    with db.session() as session:
        return {c.email: (c.last_name, c.title) for c in session.exec(select(Contact)).all()}


def test_revert_restores_values_and_removes_only_unreferenced_new_contacts(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    first = write_csv(tmp_path / "first.csv", [contact("ada@tiny.example", "Lovelace", "Dev")])
    assert campaign_cli(settings, "import", "contacts", str(first)).returncode == 0
    second = write_csv(
        tmp_path / "second.csv",
        [
            contact("ada@tiny.example", "Byron", "CTO"),
            contact("bo@tiny.example", "Smith", "Dev"),
            contact("cy@tiny.example", "Jones", "Dev"),
        ],
    )
    result = campaign_cli(settings, "import", "contacts", str(second), "--by", "olga")
    assert result.returncode == 0, result.stderr
    assert "import 2 recorded; undo it as a whole: campaign imports revert 2 --reason" in (
        result.stdout
    )
    # cy gets enrolled in a campaign: something now refers to that contact
    launch(db, settings, "premium-to-ultimate", date(2021, 4, 27),
           datetime(2021, 4, 20, tzinfo=UTC), name="P2U")  # fmt: skip

    listing = json.loads(campaign_cli(settings, "imports", "list", "--format", "json").stdout)
    assert [(i["id"], i["file"], i["created"], i["updated"], i["created_by"], i["state"])
            for i in listing] == [(2, str(second), 2, 1, "olga", "applied"),
                                  (1, str(first), 1, 0, listing[1]["created_by"], "applied")]  # fmt: skip

    refused = campaign_cli(settings, "imports", "revert", "2")
    assert refused.returncode == 1 and "--reason" in refused.stderr
    reverted = campaign_cli(
        settings, "imports", "revert", "2", "--reason", "wrong file", "--by", "kim"
    )
    assert reverted.returncode == 0, reverted.stderr
    lines = reverted.stdout.splitlines()
    assert lines[0] == (
        f"import 2 ({second}) reverted: 1 contact(s) restored to their values before it,"
        " 0 contact(s) it created removed, 2 kept"
    )
    assert sorted(lines[1:]) == [
        "  kept bo@tiny.example: created by the import, kept: has enrollment",
        "  kept cy@tiny.example: created by the import, kept: has enrollment",
    ]
    assert people(db)["ada@tiny.example"] == ("Lovelace", "Dev")
    again = campaign_cli(settings, "imports", "revert", "2", "--reason", "twice")
    assert again.returncode == 1 and "is already reverted" in again.stderr
    listing = json.loads(campaign_cli(settings, "imports", "list", "--format", "json").stdout)
    assert (listing[0]["state"], listing[0]["reverted_by"], listing[0]["revert_reason"]) == (
        "reverted", "kim", "wrong file"
    )  # fmt: skip


def test_a_new_contact_nothing_refers_to_is_removed_and_a_later_change_is_kept(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    first = write_csv(tmp_path / "first.csv", [contact("ada@tiny.example", "Lovelace", "Dev")])
    second = write_csv(
        tmp_path / "second.csv",
        [contact("ada@tiny.example", "Byron", "CTO"), contact("bo@tiny.example", "Smith", "Dev")],
    )
    third = write_csv(tmp_path / "third.csv", [contact("ada@tiny.example", "King", "CTO")])
    for path in (first, second, third):
        assert campaign_cli(settings, "import", "contacts", str(path)).returncode == 0
    reverted = campaign_cli(settings, "imports", "revert", "2", "--reason", "test")
    assert reverted.returncode == 0, reverted.stderr
    assert reverted.stdout.splitlines() == [
        f"import 2 ({second}) reverted: 0 contact(s) restored to their values before it,"
        " 1 contact(s) it created removed, 1 kept",
        "  kept ada@tiny.example: changed since the import: last_name",
    ]
    assert people(db) == {"ada@tiny.example": ("King", "CTO")}
