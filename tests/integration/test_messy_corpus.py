"""Every file of tests/data/messy gives its documented outcome through the real `campaign` command.

The documented outcome of each file is tests/data/messy/expected.json, written by make_corpus.py
next to the files: contacts created (or exclusion targets stored), and every rejected (line, field).
"""

from __future__ import annotations

import csv
import json
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlmodel import col, select

from campaign_engine.audience.imports import import_contacts
from campaign_engine.core.config import Settings
from campaign_engine.engine.launch import launch
from campaign_engine.store.db import Database
from campaign_engine.store.models import Account, Contact, Exclusion
from tests.conftest import ROOT, SmtpSink
from tests.helpers import campaign_cli, tick

CORPUS = ROOT / "tests" / "data" / "messy"
EXPECTED: dict[str, dict] = json.loads((CORPUS / "expected.json").read_text(encoding="utf-8"))
CONTACT_FILES = sorted(n for n, e in EXPECTED.items() if e["kind"] == "contacts")
EXCLUSION_FILES = sorted(n for n, e in EXPECTED.items() if e["kind"] == "exclusions")
REFUSED_FILES = sorted(n for n, e in EXPECTED.items() if e["kind"] == "refused")
NOW = datetime(2021, 4, 20, 12, tzinfo=UTC)


def test_the_corpus_is_what_make_corpus_writes(tmp_path: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_corpus", CORPUS / "make_corpus.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name, data, outcome in module.CORPUS:
        assert (CORPUS / name).read_bytes() == data, f"{name} is stale: run make_corpus.py"
        assert json.loads(json.dumps(outcome)) == EXPECTED[name]


def _rejections(path: Path, stderr: str, errors: Path, expected: dict) -> None:
    wanted = {(line, field) for line, field in expected["rejected"]}
    for line, field in wanted:
        assert f"{path}:{line}: {field}: " in stderr
    with errors.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {(int(r["line"]), r["field"]) for r in rows} == wanted
    assert {r["file"] for r in rows} <= {str(path)}
    for line, field in expected.get("warnings", []):
        assert f"warning {path}:{line}: {field}: " in stderr
    for hint in expected.get("hints", []):
        assert hint in stderr


def _accounted(stdout: str, path: Path) -> None:
    """The summary line's counts add up to the rows of the file."""
    match = re.search(
        rf"{re.escape(str(path))}: (\d+) row\(s\): (\d+) contacts created, (\d+) updated, "
        r"(\d+) unchanged, (\d+) rejected",
        stdout,
    )
    assert match is not None, stdout
    rows, *parts = (int(n) for n in match.groups())
    assert rows == sum(parts)


@pytest.mark.parametrize("name", CONTACT_FILES)
def test_contacts_file_gives_documented_outcome(
    name: str, settings: Settings, db: Database, tmp_path: Path
) -> None:
    expected, path, errors = EXPECTED[name], CORPUS / name, tmp_path / "errors.csv"
    result = campaign_cli(settings, "import", "contacts", str(path), "--errors", str(errors))
    assert result.returncode == (1 if expected["rejected"] else 0), result.stderr
    assert f"{expected['created']} contacts created" in result.stdout
    _accounted(result.stdout, path)
    for note in expected.get("notes", []):
        assert note in result.stdout
    _rejections(path, result.stderr, errors, expected)
    with db.session() as session:
        contacts = {c.email: c for c in session.exec(select(Contact))}
        accounts = set(session.exec(select(Account.name)).all())
    assert len(contacts) == expected["created"]
    for email, full_name in expected.get("names", {}).items():
        assert f"{contacts[email].first_name} {contacts[email].last_name}" == full_name
    for email, title in expected.get("titles", {}).items():
        assert contacts[email].title == title, "formula-looking cells are stored as plain data"
    assert set(expected.get("accounts", [])) <= accounts
    for contact in contacts.values():
        for value in (contact.first_name, contact.last_name, contact.title):
            assert "\r" not in value and "\n" not in value


@pytest.mark.parametrize("name", EXCLUSION_FILES)
def test_exclusion_file_gives_documented_outcome(
    name: str, settings: Settings, db: Database, tmp_path: Path
) -> None:
    for contacts in ("utf8-bom.csv", "spaces-and-empty-lines.csv", "tab-separated.tsv"):
        import_contacts(db, CORPUS / contacts, NOW)
    expected, path, errors = EXPECTED[name], CORPUS / name, tmp_path / "errors.csv"
    details = tmp_path / "details.csv"
    result = campaign_cli(
        settings, "exclude", str(path), "--errors", str(errors), "--out", str(details)
    )
    assert result.returncode == (1 if expected["rejected"] else 0), result.stderr
    assert f"{expected['kept']} row(s) marked keep" in result.stdout
    for note in expected.get("notes", []):
        assert note in result.stdout
    _rejections(path, result.stderr, errors, expected)
    with db.session() as session:
        stored = session.exec(select(Exclusion).where(col(Exclusion.removed_at).is_(None))).all()
    targets = {e.email or f"@{e.domain}": e for e in stored}
    assert sorted(targets) == sorted(expected["targets"])
    assert all(e.campaign_id is None for e in stored), "no --campaign: every campaign"
    for target, reason in expected.get("reasons", {}).items():
        assert targets[target].reason == reason
    with details.open(newline="", encoding="utf-8") as handle:
        unmatched = {(r[1], r[3].split(" ")[0]) for r in csv.reader(handle) if r[0] == "no_contact"}
    for target in expected.get("unmatched", []):
        assert (target, f"{path}:{targets[target].source_line}") in unmatched


@pytest.mark.parametrize("name", REFUSED_FILES)
@pytest.mark.parametrize("command", [("import", "contacts"), ("exclude",)])
def test_file_level_problem_applies_nothing_and_names_the_line(
    name: str, command: tuple[str, ...], settings: Settings, db: Database
) -> None:
    path = CORPUS / name
    result = campaign_cli(settings, *command, str(path))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    message = EXPECTED[name]["message"]
    assert message.replace(name, str(path)) in result.stderr, result.stderr
    with db.session() as session:
        assert session.exec(select(Contact)).all() == []
        assert session.exec(select(Exclusion)).all() == []


def test_strict_applies_nothing_when_a_row_is_rejected(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    path = CORPUS / "crlf.csv"
    result = campaign_cli(settings, "import", "contacts", str(path), "--strict")
    assert result.returncode == 1
    assert f"{path}:3: outreach_mode: unknown outreach mode 'Z'" in result.stderr
    assert "nothing was applied (--strict)" in result.stderr
    exclusions = CORPUS / "exclude-headerless.txt"
    result = campaign_cli(settings, "exclude", str(exclusions), "--strict")
    assert result.returncode == 1
    assert f"{exclusions}:5: value: " in result.stderr
    with db.session() as session:
        assert session.exec(select(Contact)).all() == []
        assert session.exec(select(Exclusion)).all() == []
    clean = CORPUS / "utf8-bom.csv"
    assert campaign_cli(settings, "import", "contacts", str(clean), "--strict").returncode == 0


def test_a_rejected_row_never_changes_what_was_stored(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    before = tmp_path / "before.csv"
    before.write_text(
        "email,first_name,last_name,title,account,employees,owner_email\n"
        "ok@bad.example,Eve,Original,CTO,Inject Co,10,\n",
        encoding="utf-8",
    )
    assert campaign_cli(settings, "import", "contacts", str(before)).returncode == 0
    path = CORPUS / "invalid-addresses.csv"
    result = campaign_cli(settings, "import", "contacts", str(path))
    assert result.returncode == 1
    assert f"{path}:8: owner_email: " in result.stderr
    with db.session() as session:
        eve = session.exec(select(Contact).where(Contact.email == "ok@bad.example")).one()
    assert (eve.first_name, eve.last_name) == ("Eve", "Original")


def test_encoding_option_overrides_detection(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    path = CORPUS / "windows-1252.csv"
    wrong = campaign_cli(settings, "import", "contacts", str(path), "--encoding", "utf-8")
    assert wrong.returncode == 1
    assert f"{path}:2: not valid utf-8" in wrong.stderr and "--encoding cp1252" in wrong.stderr
    latin = campaign_cli(settings, "import", "contacts", str(path), "--encoding", "latin-1")
    assert latin.returncode == 0
    with db.session() as session:
        names = set(session.exec(select(Contact.first_name)).all())
    assert names == {"Zoë", "José"}  # the same bytes in Latin-1 for these letters


def test_header_injection_attempts_never_reach_a_mail_header(
    settings: Settings, db: Database, smtp_sink: SmtpSink
) -> None:
    for name in ("header-injection.csv", "control-characters.csv"):
        assert import_contacts(db, CORPUS / name, NOW).rejected == []
    launch(db, settings, "premium-to-ultimate", date(2021, 4, 27), NOW)
    tick(db, settings, datetime(2021, 4, 27, 9, tzinfo=UTC))
    recipients = sorted(m["To"].addresses[0].addr_spec for m in smtp_sink.messages)
    assert len(recipients) == 9 and "nul@ctl.example" in recipients
    for message, envelope in zip(smtp_sink.messages, smtp_sink.envelopes, strict=True):
        assert message["Bcc"] is None and message["X-Hdr"] is None and message["Subject-"] is None
        assert envelope.rcpt_tos == [message["To"].addresses[0].addr_spec]
        assert all(
            "\x00" not in str(value) and "\n" not in str(value) for value in message.values()
        )


def test_square_brackets_in_cells_are_printed_not_taken_for_markup(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    path = tmp_path / "brackets.csv"
    path.write_text(
        "email,first_name,account,employees,reason\n"
        "[/b]@x.example,A,[red]Co,5,\n"
        "ok@x.example,[bold]Al,[/red] Co,5,[urgent] call [/b]\n",
        encoding="utf-8",
    )
    result = campaign_cli(settings, "import", "contacts", str(path))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"{path}:2: email: '[/b]@x.example' is not a valid address" in result.stderr
    excluded = campaign_cli(settings, "exclude", str(path), "--by", "[ops]")
    assert excluded.returncode == 1 and "Traceback" not in excluded.stderr
    listing = campaign_cli(settings, "exclusions", "list")
    assert "[urgent] call [/b]" in listing.stdout and "[ops]" in listing.stdout
