"""Ops exclusions: late uploads stop what is not yet sent (over real SMTP), with an audit trail."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlmodel import select

from campaign_engine.audience.exclusion_apply import exclude_file
from campaign_engine.audience.exclusions import list_exclusions, remove_exclusion
from campaign_engine.core.config import Settings
from campaign_engine.core.errors import NotFound
from campaign_engine.core.kinds import MessageState
from campaign_engine.engine.launch import launch
from campaign_engine.sending.campaigns import schedule_for, sequence_of
from campaign_engine.sending.dispatcher import Dispatcher
from campaign_engine.sending.transport import make_transport
from campaign_engine.store.db import Database
from campaign_engine.store.models import Exclusion, ExclusionAudit, Message
from campaign_engine.store.queries import campaign_by_name
from tests.conftest import SmtpSink
from tests.helpers import campaign_cli, import_with_reps, tick, write_csv

REP = "dana.reyes@gitlab-demo.example"
START = date(2021, 4, 27)
SUBJECTS = [
    "Interested in speed and security?",
    "Learn how to deploy to production 6x faster",
    "No more afterthought security",
]


def at(month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(2021, month, day, hour, minute, tzinfo=UTC)


def smb(email: str, first: str, account: str) -> list[str]:
    return [email, first, "Smith", "Developer", account, "12", "", REP, ""]


@pytest.fixture
def campaign(db: Database, settings: Settings, tmp_path: Path) -> str:
    contacts = write_csv(
        tmp_path / "contacts.csv",
        [
            smb("ada@tiny.example", "Ada", "Tiny Co"),
            smb("bo@tiny.example", "Bo", "Tiny Co"),
            smb("hal@other.example", "Hal", "Other Co"),
            smb("kim@keep.example", "Kim", "Keep Co"),
        ],
    )
    assert import_with_reps(db, contacts, at(4, 20)).rejected == []
    return launch(db, settings, "premium-to-ultimate", START, at(4, 20), name="P2U").name


def subjects_to(sink: SmtpSink, address: str) -> list[str]:
    return [str(m["Subject"]) for m in sink.to(address)]


def test_late_upload_stops_emails_2_and_3_even_queued_ones_and_reports_email_1(
    campaign: str, db: Database, settings: Settings, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    assert campaign_cli(settings, "exclusions", "deadline", "P2U", "2021-04-23").returncode == 0
    tick(db, settings, at(4, 27))
    assert len(smtp_sink.messages) == 4  # email 1 to everyone

    # Step 2 is already queued (written, not yet handed to SMTP) when ops upload the exclusions.
    with db.session() as session:
        row = campaign_by_name(session, "P2U")
    dispatcher = Dispatcher(db, settings, make_transport(settings))
    assert dispatcher._queue_due(row, schedule_for(row, sequence_of(row)), at(5, 4), 100) == 4

    targets = tmp_path / "target-list.csv"
    targets.write_text(
        "exclude,reason,email,first_name\n"
        "y,open renewal negotiation,Ada@Tiny.example,Ada\n"
        ",,bo@tiny.example,Bo\n"
        "x,left the company,ghost@tiny.example,Ghost\n",
        encoding="utf-8",
    )
    result = campaign_cli(
        settings, "exclude", str(targets), "--campaign", "P2U", "--by", "ops-olga",
        "--now", "2021-05-04T08:30:00+00:00",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "1 contact(s) excluded (campaign 'P2U')" in result.stdout
    assert "1 row(s) marked keep, 1 matched no contact" in result.stdout
    assert f"{targets}:4 │ ghost@tiny.example │ left the company" in result.stdout
    assert "exclusion deadline of 'P2U' (2021-04-23) has passed" in result.stderr
    assert "ada@tiny.example" in result.stdout and SUBJECTS[0] in result.stdout  # already sent

    domains = tmp_path / "domains.csv"
    domains.write_text("@other.example\n", encoding="utf-8")
    late = exclude_file(db, domains, at(5, 4, 8, 45), by="ops-olga")  # every campaign
    assert late.contacts_excluded == 1 and late.unmatched == []
    assert [(s.email, s.step, s.subject) for s in late.already_sent] == [
        ("hal@other.example", 1, SUBJECTS[0])
    ]

    for moment in (at(5, 4), at(5, 11), at(5, 18), at(5, 25)):
        tick(db, settings, moment)
    assert subjects_to(smtp_sink, "ada@tiny.example") == SUBJECTS[:1]
    assert subjects_to(smtp_sink, "hal@other.example") == SUBJECTS[:1]
    assert subjects_to(smtp_sink, "bo@tiny.example") == SUBJECTS
    assert subjects_to(smtp_sink, "kim@keep.example") == SUBJECTS
    with db.session() as session:
        skipped = session.exec(
            select(Message.recipient, Message.step, Message.skip_reason)
            .where(Message.state == MessageState.SKIPPED)
            .order_by(Message.recipient, Message.step)
        ).all()
    assert skipped == [
        ("ada@tiny.example", 2, "excluded: open renewal negotiation"),
        ("ada@tiny.example", 3, "excluded: open renewal negotiation"),
        ("hal@other.example", 2, "excluded"),
        ("hal@other.example", 3, "excluded"),
    ]
    finished = exclude_file(db, domains, at(6, 1), by="ops-olga")
    assert finished.deadlines == [], "a finished campaign has nothing left to warn about"


def test_an_exclusion_waits_for_a_contact_imported_later(
    campaign: str, db: Database, settings: Settings, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    exclusions = tmp_path / "list.csv"
    exclusions.write_text("email\nlate@tiny.example\n", encoding="utf-8")
    assert exclude_file(db, exclusions, at(4, 21)).unmatched[0].email == "late@tiny.example"
    later = write_csv(tmp_path / "later.csv", [smb("late@tiny.example", "Lee", "Tiny Co")])
    import_with_reps(db, later, at(4, 22))
    launch(db, settings, "premium-to-ultimate", START, at(4, 22), name="second", allow_overlap=True)
    tick(db, settings, at(4, 27))
    assert smtp_sink.to("late@tiny.example") == []
    assert len(smtp_sink.to("ada@tiny.example")) == 2  # one email per campaign


def test_a_campaign_exclusion_leaves_other_campaigns_alone(
    campaign: str, db: Database, settings: Settings, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    launch(db, settings, "premium-to-ultimate", START, at(4, 20), name="other", allow_overlap=True)
    path = tmp_path / "x.csv"
    path.write_text("kim@keep.example\n", encoding="utf-8")
    exclude_file(db, path, at(4, 21), campaign="P2U")
    tick(db, settings, at(4, 27))
    assert len(smtp_sink.to("kim@keep.example")) == 1


def test_reupload_adds_nothing_and_list_remove_keep_an_audit_trail(
    campaign: str, db: Database, settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "ops.csv"
    path.write_text(
        "email,domain,reason\nada@tiny.example,,asked by rep\n,other.example,partner\n",
        encoding="utf-8",
    )
    args = ("exclude", str(path), "--by", "olga", "--now", "2021-04-21T10:00:00+00:00")
    first = campaign_cli(settings, *args)
    assert "2 new exclusion(s), 0 already active" in first.stdout
    again = campaign_cli(settings, *args)
    assert "0 new exclusion(s), 2 already active" in again.stdout

    listing = json.loads(campaign_cli(settings, "exclusions", "list", "--format", "json").stdout)
    rows = {r["target"]: r for r in listing["exclusions"]}
    assert set(rows) == {"ada@tiny.example", "@other.example"}
    assert rows["ada@tiny.example"]["source"] == f"{path}:2"
    assert rows["ada@tiny.example"]["created_by"] == "olga"
    assert rows["ada@tiny.example"]["reason"] == "asked by rep"
    assert rows["ada@tiny.example"]["created_at"] == "2021-04-21T10:00:00+00:00"
    assert rows["@other.example"]["scope"] == "all campaigns"

    removed = campaign_cli(
        settings, "exclusions", "remove", "Ada@Tiny.example", "--by", "sam",
        "--reason", "renewal signed", "--now", "2021-04-22T09:00:00+00:00",
    )  # fmt: skip
    assert removed.returncode == 0, removed.stderr
    active = campaign_cli(settings, "exclusions", "list", "--format", "json").stdout
    assert [r["target"] for r in json.loads(active)["exclusions"]] == ["@other.example"]
    table = campaign_cli(settings, "exclusions", "list", "--all").stdout
    assert "2021-04-22T09:00 by sam: renewal signed" in table
    with db.session() as session:
        assert len(session.exec(select(Exclusion)).all()) == 2, "never a silent delete"
        log = session.exec(select(ExclusionAudit.action, ExclusionAudit.actor)).all()
    assert sorted(log) == [("add", "olga"), ("add", "olga"), ("remove", "sam")]

    missing = campaign_cli(settings, "exclusions", "remove", "ada@tiny.example")
    assert missing.returncode == 1
    assert "no active exclusion of 'ada@tiny.example'" in missing.stderr
    # Removed, then uploaded again: a fresh active exclusion, the old one stays in history.
    third = campaign_cli(settings, *args)
    assert "1 new exclusion(s), 1 already active" in third.stdout


def test_dry_run_stores_nothing_and_deadline_warns_only_when_late(
    campaign: str, db: Database, settings: Settings, tmp_path: Path
) -> None:
    campaign_cli(settings, "exclusions", "deadline", "P2U", "2021-04-23")
    path = tmp_path / "x.csv"
    path.write_text("email\nada@tiny.example\n", encoding="utf-8")
    on_time = campaign_cli(
        settings, "exclude", str(path), "--campaign", "P2U", "--dry-run",
        "--now", "2021-04-23T20:00:00+00:00",
    )  # fmt: skip
    assert on_time.returncode == 0
    assert "1 contact(s) would be excluded" in on_time.stdout
    assert "preview 1 saved; nothing was stored" in on_time.stdout
    assert "exclusion deadline of 'P2U': 2021-04-23" in on_time.stdout
    assert "has passed" not in on_time.stderr
    with db.session() as session:
        assert session.exec(select(Exclusion)).all() == []
    late = campaign_cli(
        settings, "exclude", str(path), "--campaign", "P2U", "--now", "2021-04-24T00:30:00+00:00"
    )
    assert late.returncode == 0, "a late upload warns, it is not refused"
    assert "warning: the exclusion deadline of 'P2U' (2021-04-23) has passed" in late.stderr
    assert [x.target for x in list_exclusions(db, "P2U")] == ["ada@tiny.example"]
    listing = campaign_cli(settings, "exclusions", "list", "--campaign", "P2U").stdout
    assert "exclusion deadline of 'P2U': 2021-04-23" in listing
    everywhere = campaign_cli(settings, "exclude", str(path), "--now", "2021-04-24T10:00:00Z")
    assert "deadline of 'P2U' (2021-04-23) has passed" in everywhere.stderr, "P2U is sending"


def test_remove_needs_the_right_scope(campaign: str, db: Database, tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("acme.example\n", encoding="utf-8")
    exclude_file(db, path, at(4, 21), campaign="P2U")
    with pytest.raises(NotFound, match="all campaigns"):
        remove_exclusion(db, "@acme.example", at(4, 22))
    assert remove_exclusion(db, "acme.example", at(4, 22), campaign="P2U", by="x") == 1


def test_a_lifted_exclusion_starts_a_contact_who_got_nothing_at_email_1(
    campaign: str, db: Database, settings: Settings, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    """Ada is excluded from before the launch, Hal after email 1; both are lifted on day 9:
    Ada starts the sequence like a late joiner, Hal just gets the next email due."""
    early = tmp_path / "early.csv"
    early.write_text("email,reason\nada@tiny.example,renewal talks\n", encoding="utf-8")
    assert exclude_file(db, early, at(4, 21), by="ops-olga").contacts_excluded == 1
    tick(db, settings, at(4, 27))
    late = tmp_path / "late.csv"
    late.write_text("email\nhal@other.example\n", encoding="utf-8")
    assert exclude_file(db, late, at(5, 3), by="ops-olga").contacts_excluded == 1
    tick(db, settings, at(5, 4))
    assert subjects_to(smtp_sink, "ada@tiny.example") == []
    assert subjects_to(smtp_sink, "hal@other.example") == SUBJECTS[:1]

    for address in ("ada@tiny.example", "hal@other.example"):
        remove_exclusion(db, address, at(5, 5, 10), by="ops-olga", reason="renewal signed")
    for moment in (at(5, 5, 11), at(5, 11), at(5, 12), at(5, 19), at(5, 26)):
        tick(db, settings, moment)

    ada = [(m["Date"].datetime.date(), str(m["Subject"])) for m in smtp_sink.to("ada@tiny.example")]
    assert ada == [(date(2021, 5, 5), SUBJECTS[0]), (date(2021, 5, 12), SUBJECTS[1]),
                   (date(2021, 5, 19), SUBJECTS[2])]  # fmt: skip
    assert subjects_to(smtp_sink, "hal@other.example") == [SUBJECTS[0], SUBJECTS[2]]
    assert subjects_to(smtp_sink, "bo@tiny.example") == SUBJECTS
