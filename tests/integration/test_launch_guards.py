"""Launch guard rails through the real `campaign` command: dry run, past starts, overlap,
empty launches and bad arguments."""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import select

from campaign_engine.core.config import Settings
from campaign_engine.store.campaign_log import CampaignLogEntry
from campaign_engine.store.db import Database
from campaign_engine.store.models import Campaign, Draft, Enrollment
from tests.conftest import SmtpSink
from tests.helpers import campaign_cli, import_with_reps, tick, write_csv

REP = "dana.reyes@gitlab-demo.example"
BEFORE = "2021-04-20T12:00:00+00:00"
ROWS = [
    ["ada@tiny.example", "Ada", "Lovelace", "Developer", "Tiny Co", "12", "", REP, ""],
    ["bo@tiny.example", "Bo", "Smith", "Developer", "Tiny Co", "12", "", REP, ""],
    ["mia@midsize.example", "Mia", "Middle", "CTO", "Midsize", "300", "", REP, ""],
    ["al@tiny.example", "Al", "Quiet", "Developer", "Tiny Co", "12", "", REP, "A"],
]


def _contacts(db: Database, tmp_path: Path) -> None:
    import_with_reps(db, write_csv(tmp_path / "c.csv", ROWS), datetime(2021, 4, 20, tzinfo=UTC))


def _launch(settings: Settings, *args: str, now: str = BEFORE) -> tuple[int, str, str]:
    done = campaign_cli(
        settings, "launch", "premium-to-ultimate", "--start", "2021-04-27", "--now", now, *args
    )
    return done.returncode, " ".join(done.stdout.split()), done.stderr


def _campaigns(db: Database) -> list[str]:
    with db.session() as session:
        return list(session.exec(select(Campaign.name)).all())


def test_dry_run_shows_who_gets_which_email_when_and_writes_nothing(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    _contacts(db, tmp_path)
    code, out, err = _launch(settings, "--dry-run")
    assert code == 0, err
    for day, step in (("2021-04-27", 1), ("2021-05-04", 2), ("2021-05-11", 3)):
        assert f"{day} │ {step} " in out or f"{day} {step} " in out, out
    assert "SMB │ 2" in out or "SMB 2" in out
    assert "rep channel: 1 MM contact(s) get drafts for their rep" in out
    assert "not enrolled: 1 in mode A" in out and "dry run: nothing was written" in out
    assert _campaigns(db) == []


def test_a_start_in_the_past_says_how_many_go_out_and_needs_yes(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    _contacts(db, tmp_path)
    late = "2021-05-01T12:00:00+00:00"
    code, _, err = _launch(settings, now=late)
    assert code == 1
    assert "is in the past: 2 email(s) go out at the next tick; pass --yes" in err
    assert _campaigns(db) == []
    code, _, err = _launch(settings, "--yes", now=late)
    assert code == 0 and "2 email(s) go out at the next tick" in err
    with db.session() as session:
        (entry,) = session.exec(select(CampaignLogEntry)).all()
    assert (entry.action, entry.actor) == ("launched", f"cli ({getpass.getuser()})")


def test_contacts_of_a_running_campaign_are_not_enrolled_again_unless_allowed(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    _contacts(db, tmp_path)
    assert _launch(settings, "--name", "first")[0] == 0
    code, _, err = _launch(settings, "--name", "second")
    assert code == 1
    assert "3 active in another running campaign (add --allow-overlap" in err
    assert _campaigns(db) == ["first"]
    code, _, err = _launch(settings, "--name", "second", "--allow-overlap")
    assert code == 0, err
    with db.session() as session:
        assert len(session.exec(select(Enrollment)).all()) == 6


def test_a_launch_that_enrols_nobody_says_why_and_exits_1(settings: Settings, db: Database) -> None:
    code, _, err = _launch(settings)
    assert code == 1 and "no contacts imported yet" in err
    assert _campaigns(db) == []


def test_bad_arguments_get_one_line_naming_the_value_and_the_form(settings: Settings) -> None:
    for args, expected in (
        (("--timezone", "Europe/Pariss"), "time zone 'Europe/Pariss' is unknown: expected an IANA"),
        (("--start", "2021-13-01"), "--start '2021-13-01' is not a date: expected YYYY-MM-DD"),
    ):
        code, _, err = _launch(settings, *args)
        assert code == 1 and err.strip().count("\n") == 0 and expected in err, err
    done = campaign_cli(settings, "launch", "premium-to-ultimat", "--start", "2021-04-27")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "no such sequence (known: premium-to-ultimate" in done.stderr


def test_the_sequence_sets_the_exclusion_deadline_to_the_friday_before_launch(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    _contacts(db, tmp_path)
    code, out, err = _launch(settings, "--dry-run")
    assert code == 0, err
    assert "exclusion deadline: 2021-04-23 (the sequence's default" in out
    code, out, err = _launch(settings, "--yes")
    assert code == 0, err
    assert "exclusion deadline: 2021-04-23" in out
    name = "premium-to-ultimate 2021-04-27"
    listing = campaign_cli(settings, "exclusions", "list", "--campaign", name).stdout
    assert f"exclusion deadline of {name!r}: 2021-04-23" in listing
    path = tmp_path / "x.csv"
    path.write_text("email\nada@tiny.example\n", encoding="utf-8")
    late = campaign_cli(
        settings, "exclude", str(path), "--campaign", name, "--now", "2021-04-24T10:00:00Z"
    )
    assert late.returncode == 0, late.stderr
    assert f"the exclusion deadline of {name!r} (2021-04-23) has passed" in late.stderr


def test_mode_c_puts_an_mm_or_enterprise_contact_on_the_automated_channel(
    settings: Settings, db: Database, tmp_path: Path, smtp_sink: SmtpSink
) -> None:
    rows = [
        ["ada@tiny.example", "Ada", "Lovelace", "Developer", "Tiny Co", "12", "", REP, ""],
        ["mia@midsize.example", "Mia", "Middle", "CTO", "Midsize", "300", "", REP, "C"],
        ["lu@large.example", "Lu", "Large", "CISO", "Large Co", "2000", "", REP, ""],
        ["sy@huge.example", "Sy", "Huge", "CTO", "Huge Co", "9000", "ENT", REP, "C"],
    ]
    import_with_reps(db, write_csv(tmp_path / "c.csv", rows), datetime(2021, 4, 20, tzinfo=UTC))
    code, out, err = _launch(settings, "--yes")
    assert code == 0, err
    assert "MM │ automated │ 1" in out and "Strategic │ automated │ 1" in out, out
    assert "Large │ rep │ 1" in out, "a blank mode is sales direct for Large"
    tick(db, settings, datetime(2021, 4, 27, 9, tzinfo=UTC))
    mailed = sorted(str(m["To"].addresses[0].addr_spec) for m in smtp_sink.messages)
    assert mailed == ["ada@tiny.example", "mia@midsize.example", "sy@huge.example"]
    with db.session() as session:
        drafts = session.exec(select(Draft.enrollment_id)).all()
    assert len(drafts) == 3, "Lu's rep has drafts of emails 1-3; nobody else's rep has any"
