"""CLI paths an operator relies on, run as the real `campaign` command: `campaign status` (the
numbers of each step) and `campaign messages mark-sent --uncertain` (contacts move on, the
messages count as delivered). `campaign stages import` is in test_stages_import.py."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from campaign_engine.audience.exclusion_apply import exclude_file
from campaign_engine.core.config import Settings
from campaign_engine.core.errors import TransientSendError
from campaign_engine.engine.launch import launch
from campaign_engine.reporting.reports import load_report
from campaign_engine.reps.drafts import list_drafts
from campaign_engine.reps.repsend import send_draft
from campaign_engine.sending.transport import make_transport
from campaign_engine.store.db import Database
from campaign_engine.store.models import Message
from tests.conftest import SmtpSink
from tests.helpers import (
    campaign_cli,
    import_with_reps,
    queue_due,
    strand_claimed_batch,
    tick,
    write_csv,
)

REP = "dana.reyes@gitlab-demo.example"
NAME = "P2U"
SUBJECTS = [
    "Interested in speed and security?",
    "Learn how to deploy to production 6x faster",
    "No more afterthought security",
]
COLUMNS = ["step", "day", "subject", "queued", "sent", "retry", "failed", "bounced", "skipped",
           "uncertain"]  # fmt: skip


def at(month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(2021, month, day, hour, minute, tzinfo=UTC)


def contact(email: str) -> list[str]:
    """An SMB contact; at mid.example, an MM one (the rep's)."""
    first, domain = email.split("@")
    account, employees = ("Mid Co", "300") if domain == "mid.example" else ("Tiny Co", "12")
    return [email, first.title(), "Smith", "Developer", account, employees, "", REP, ""]


def import_and_launch(db: Database, settings: Settings, path: Path, emails: list[str]) -> None:
    """The contacts, enrolled in campaign P2U from 2021-04-27."""
    rows = [contact(email) for email in emails]
    assert import_with_reps(db, write_csv(path, rows), at(4, 20)).rejected == []
    launch(db, settings, "premium-to-ultimate", date(2021, 4, 27), at(4, 20), name=NAME)


def status_rows(settings: Settings) -> tuple[str, dict[int, dict[str, str]]]:
    """The printed `campaign status` output, and its table as {step: {column: cell}}."""
    result = campaign_cli(settings, "status", "--campaign", NAME)
    assert result.returncode == 0, result.stderr
    rows: dict[int, dict[str, str]] = {}
    for line in result.stdout.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("│").split("│")]
        if len(cells) == len(COLUMNS) and cells[0].isdigit():
            rows[int(cells[0])] = dict(zip(COLUMNS, cells, strict=True))
    assert sorted(rows) == [1, 2, 3], f"no step table in:\n{result.stdout}"
    return result.stdout, rows


def numbers(row: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in row.items() if k not in ("step", "day", "subject")}


def row(**cells: int | str) -> dict[str, str]:
    counts = {"queued": 0, "sent": 0, "retry": 0, "failed": 0, "bounced": 0, "skipped": 0,
              "uncertain": 0}  # fmt: skip
    return {k: str(v) for k, v in {**counts, **cells}.items()}


# -- campaign status ----------------------------------------------------------------------------


def test_status_prints_each_steps_numbers(
    db: Database, settings: Settings, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    sent = ["ada@tiny.example", "gus@tiny.example", "hal@tiny.example", "ivo@tiny.example"]
    bounced = ["bob@tiny.example", "ian@tiny.example", "jo@tiny.example"]
    excluded = ["dee@rival.example", "eve@tiny.example"]
    rep_failed = ["max@mid.example", "mo@mid.example"]  # MM: the rep's email 1 is refused
    emails = [*sent, *bounced, "cy@tiny.example", *excluded, *rep_failed]
    import_and_launch(db, settings, tmp_path / "c.csv", emails)
    exclusions = tmp_path / "exclusions.csv"
    exclusions.write_text(
        "email,domain,reason\n,rival.example,competitor\neve@tiny.example,,asked by rep\n"
    )
    assert exclude_file(db, exclusions, at(4, 21)).rejected == []
    for address in bounced:
        smtp_sink.replies[address] = "550 5.1.1 no such user"
    for address in ("cy@tiny.example", *rep_failed):
        smtp_sink.replies[address] = "451 4.3.0 mailbox busy"

    tick(db, settings, at(4, 27, 9))
    with db.session() as session:
        drafts = [d.id for d in list_drafts(session, REP) if d.step == 1]

    async def send_drafts() -> None:
        async with make_transport(settings) as transport:
            for draft in drafts:
                with pytest.raises(TransientSendError):
                    await send_draft(db, settings, transport, draft, REP, at(4, 28, 10))

    asyncio.run(send_drafts())
    queue_due(db, settings, NAME, at(5, 4, 9))  # email 2: written, not handed to SMTP yet

    output, rows = status_rows(settings)
    assert (
        "P2U  (premium-to-ultimate, from 2021-04-27, 09:00–17:00 in each contact's time zone"
        " (UTC for contacts without one))"
    ) in output
    assert [(r["step"], r["day"], r["subject"]) for r in rows.values()] == [
        ("1", "0", SUBJECTS[0]),
        ("2", "7", SUBJECTS[1]),
        ("3", "14", SUBJECTS[2]),
    ]
    skipped = "2 (1 excluded: asked by rep; 1 excluded: competitor)"
    failed = "2 (2 refused 4.3.0)"  # a rep's send refused with a 4xx fails at once, with why
    assert numbers(rows[1]) == row(sent=4, retry=1, failed=failed, bounced=3, skipped=skipped)
    assert numbers(rows[2]) == row(queued=6)  # the four who got email 1 and the two excluded
    assert numbers(rows[3]) == row()
    assert "enrolled: automated/active 7, automated/stopped 3, rep/active 2" in output


# -- campaign messages mark-sent --uncertain ---------------------------------------------------


def test_mark_sent_uncertain_moves_contacts_on_and_counts_them_delivered(
    db: Database, settings: Settings, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    people = ["ada@tiny.example", "bob@tiny.example"]
    import_and_launch(db, settings, tmp_path / "c.csv", people)
    launch(db, settings, "premium-to-ultimate", date(2031, 1, 7), at(4, 20), name="Later",
           allow_overlap=True)  # fmt: skip
    strand_claimed_batch(db, settings, NAME, at(4, 27, 9))
    tick(db, settings, at(4, 27, 10))  # the lease ran out: both are uncertain
    assert smtp_sink.messages == []
    _, rows = status_rows(settings)
    assert numbers(rows[1]) == row(uncertain=2)

    refused = campaign_cli(settings, "messages", "mark-sent")
    assert refused.returncode == 2 and "--uncertain" in refused.stderr
    other = campaign_cli(settings, "messages", "mark-sent", "--uncertain", "--campaign", "Later")
    assert other.returncode == 0, other.stderr
    assert "0 uncertain message(s) counted as sent." in other.stdout

    before = datetime.now(UTC)
    marked = campaign_cli(settings, "messages", "mark-sent", "--uncertain", "--campaign", NAME)
    after = datetime.now(UTC)
    assert marked.returncode == 0, marked.stderr
    assert "2 uncertain message(s) counted as sent." in marked.stdout

    with db.session() as session:
        states = session.exec(select(Message.state, Message.sent_at)).all()
        report = {c.name: c.totals for c in load_report(session, after).campaigns}
    assert [state for state, _ in states] == ["sent", "sent"]
    assert all(before <= sent_at <= after for _, sent_at in states if sent_at)
    assert (report[NAME].sent, report[NAME].delivered) == (2, 2)
    assert smtp_sink.messages == [], "marking never sends anything"

    # Email 2 follows the full spacing after the moment they were counted as sent.
    day = before.date()
    tick(db, settings, datetime.combine(day + timedelta(days=6), time(10), tzinfo=UTC))
    assert smtp_sink.messages == []
    tick(db, settings, datetime.combine(day + timedelta(days=8), time(10), tzinfo=UTC))
    for person in people:
        assert [str(m["Subject"]) for m in smtp_sink.to(person)] == [SUBJECTS[1]], person
