"""An import never drops a known owner: rows of one account that disagree on the owner are
refused with file:line, an unknown or different owner never replaces an account's rep, and
giving an account to another rep is an explicit, logged act (`campaign accounts assign`)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import select

from campaign_engine.audience.imports import import_contacts, import_reps
from campaign_engine.core.config import Settings
from campaign_engine.store.account_tables import AccountAssignment
from campaign_engine.store.db import Database
from campaign_engine.store.models import Account, Rep
from tests.helpers import campaign_cli, write_csv

DANA = "dana.reyes@gitlab-demo.example"
TOMAS = "tomas.herrera@gitlab-demo.example"
NOBODY = "typo.rep@gitlab-demo.example"
NOW = datetime(2021, 4, 20, 9, tzinfo=UTC)


def owners(db: Database) -> dict[str, str | None]:
    with db.session() as session:
        rows = session.exec(
            select(Account.name, Rep.email).join(Rep, Rep.id == Account.rep_id, isouter=True)  # type: ignore[arg-type]
        ).all()
    return dict(rows)


def reps_file(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "reps.csv", [[DANA, "Dana Reyes"], [TOMAS, "Tomás Herrera"]],
                     ["email", "name"])  # fmt: skip


def test_one_file_naming_two_owners_for_an_account_keeps_the_first_and_every_contact(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    import_reps(db, reps_file(tmp_path), now=NOW)
    rows = [
        ["ana@acme.example", "Ana", "A", "CTO", "Acme", "300", "", DANA, ""],
        ["bo@acme.example", "Bo", "B", "Dev", "Acme", "300", "", TOMAS, ""],
        ["cy@acme.example", "Cy", "C", "Dev", "Acme", "300", "", "", ""],
    ]
    path = write_csv(tmp_path / "contacts.csv", rows)
    done = campaign_cli(settings, "import", "contacts", str(path))
    assert done.returncode == 0, done.stderr
    assert (
        f"contacts.csv:3: owner_email: account Acme already owned by {DANA} in line 2:"
        f" the contact is imported, the account keeps {DANA}"
    ) in done.stderr
    assert owners(db) == {"Acme": DANA}
    assert "3 row(s): 3 contacts created" in done.stdout


def test_an_unknown_or_other_owner_never_replaces_the_accounts_rep(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    import_reps(db, reps_file(tmp_path), now=NOW)
    first = [["ana@acme.example", "Ana", "A", "CTO", "Acme", "300", "", DANA, ""]]
    assert import_contacts(db, write_csv(tmp_path / "a.csv", first), NOW).rejected == []
    assert owners(db) == {"Acme": DANA}

    typo = [["bo@acme.example", "Bo", "B", "Dev", "Acme", "300", "", NOBODY, ""]]
    result = import_contacts(db, write_csv(tmp_path / "b.csv", typo), NOW)
    assert result.rejected == []
    assert [str(w).rsplit("/", 1)[-1] for w in result.warnings] == [
        f"b.csv:2: owner_email: account Acme keeps its rep {DANA}; to give it to {NOBODY},"
        f" run `campaign accounts assign 'Acme' {NOBODY}`"
    ]
    other = [["cy@acme.example", "Cy", "C", "Dev", "Acme", "300", "", TOMAS, ""]]
    import_contacts(db, write_csv(tmp_path / "c.csv", other), NOW)
    assert owners(db) == {"Acme": DANA}, "one bad cell must not strip the company of its rep"

    # Importing the unknown address as a rep later does not move the account either.
    late = write_csv(tmp_path / "late.csv", [[NOBODY]], ["email"])
    assert import_reps(db, late, now=NOW).created == 1
    assert owners(db) == {"Acme": DANA}


def test_assigning_is_explicit_and_logged(db: Database, settings: Settings, tmp_path: Path) -> None:
    rows = [["ana@acme.example", "Ana", "A", "CTO", "Acme", "300", "", DANA, ""]]
    result = import_contacts(db, write_csv(tmp_path / "a.csv", rows), NOW)
    assert [w.field for w in result.warnings] == ["owner_email"]  # no such rep yet: it waits
    assert owners(db) == {"Acme": None}
    import_reps(db, reps_file(tmp_path), now=NOW)
    assert owners(db) == {"Acme": DANA}, "the rep it waited for"

    moved = campaign_cli(settings, "accounts", "assign", "Acme", TOMAS.upper())
    assert moved.returncode == 0, moved.stderr
    assert moved.stdout.strip() == f"Acme is now owned by {TOMAS} (was {DANA})."
    assert owners(db) == {"Acme": TOMAS}
    again = campaign_cli(settings, "accounts", "assign", "Acme", TOMAS)
    assert again.stdout.strip() == f"Acme is already owned by {TOMAS}: nothing changed."

    unknown = campaign_cli(settings, "accounts", "assign", "Acme", NOBODY)
    assert unknown.returncode != 0
    assert f"no rep with email {NOBODY!r}" in unknown.stderr
    missing = campaign_cli(settings, "accounts", "assign", "Acme Corp", TOMAS)
    assert missing.returncode != 0 and "no account named 'Acme Corp'" in missing.stderr
    assert owners(db) == {"Acme": TOMAS}

    with db.session() as session:
        reps = {r.id: r.email for r in session.exec(select(Rep))}
        log = [
            (reps[a.rep_id], reps.get(a.previous_rep_id or 0), a.actor)
            for a in session.exec(select(AccountAssignment).order_by(AccountAssignment.id))  # type: ignore[arg-type]
        ]
    assert log == [(DANA, None, "import reps reps.csv"), (TOMAS, DANA, "cli")]
