"""`campaign stages import FILE.csv` as the real command: valid rows are recorded (once), every
bad row is listed as `file:line: field: reason` on stderr, and the exit code is 1."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from sqlmodel import col, select

from campaign_engine.audience.imports import import_contacts
from campaign_engine.core.config import Settings
from campaign_engine.store.db import Database
from campaign_engine.store.models import Contact, StageChange
from tests.helpers import campaign_cli, write_csv

REP = "dana.reyes@gitlab-demo.example"


def contact(email: str) -> list[str]:
    return [email, "First", "Smith", "Developer", "Tiny Co", "12", "", REP, ""]


def at(month: int, day: int) -> datetime:
    return datetime(2021, month, day, 9, tzinfo=UTC)


def test_stages_import_records_valid_rows_and_lists_bad_ones(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    rows = [contact("ada@tiny.example"), contact("bob@tiny.example")]
    assert import_contacts(db, write_csv(tmp_path / "c.csv", rows), at(4, 20)).rejected == []
    stages = tmp_path / "stages.csv"
    stages.write_text(
        "email,stage,date\n"
        "ada@tiny.example,1 - Discovery,2021-05-03\n"  # line 2
        "bob@tiny.example,Qualified,2021-05-04\n"  # 3: no such stage
        "nobody@x.example,2,2021-05-05\n"  # 4: not a contact
        "ada@tiny.example,2,03/05/2021\n"  # 5: not an ISO date
        ",3,2021-05-06\n"  # 6: no email
        "Bob@Tiny.example,SAO,2021-05-07\n"  # 7
    )
    result = campaign_cli(settings, "stages", "import", str(stages))
    assert result.returncode == 1
    out, err = " ".join(result.stdout.split()), " ".join(result.stderr.split())
    assert f"{stages}: 6 row(s): 2 stage changes created, 0 updated, 0 unchanged, 4 rejected" in out
    for line, field, reason in (
        (3, "stage", "'Qualified' is not a sales stage"),
        (4, "email", "no contact 'nobody@x.example' (import contacts first)"),
        (5, "date", "'03/05/2021' is not a date (YYYY-MM-DD)"),
        (6, "email", "is empty"),
    ):
        assert f"rejected {stages}:{line}: {field}: {reason}" in err, (line, err)
    assert f"4 row(s) of {stages} rejected (valid rows were applied)" in err

    def recorded() -> list[tuple[str, int, date]]:
        with db.session() as session:
            return list(
                session.exec(
                    select(col(Contact.email), col(StageChange.stage), col(StageChange.changed_on))
                    .join(Contact, col(Contact.id) == StageChange.contact_id)
                    .order_by(col(StageChange.id))
                ).all()
            )

    expected = [
        ("ada@tiny.example", 1, date(2021, 5, 3)),
        ("bob@tiny.example", 1, date(2021, 5, 7)),
    ]
    assert recorded() == expected
    again = campaign_cli(settings, "stages", "import", str(stages))
    assert "0 stage changes created, 0 updated, 2 unchanged, 4 rejected" in " ".join(
        again.stdout.split()
    )
    assert recorded() == expected, "the same rows again add nothing"
