"""`campaign rehearse`: the whole campaign in simulated time on a scratch copy. The real database
never changes, and the rehearsal of the demo campaign is what the real run then sends."""

from __future__ import annotations

import csv
import dataclasses
import re
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlmodel import col, select

from campaign_engine.audience.imports import import_contacts, import_reps
from campaign_engine.audience.suppression import add_suppression
from campaign_engine.core.config import Settings
from campaign_engine.core.kinds import MessageState
from campaign_engine.core.tokens import TokenSigner
from campaign_engine.engine.launch import launch
from campaign_engine.engine.rehearsal import LaunchOptions, rehearse
from campaign_engine.store.db import Database
from campaign_engine.store.models import Enrollment, Exclusion, Message
from tests.conftest import ROOT, SmtpSink
from tests.helpers import campaign_cli, everything, import_with_reps, tick, write_csv

NOW = "2021-04-26T12:00:00+00:00"
MOMENT = datetime(2021, 4, 26, 12, tzinfo=UTC)
REP = "dana.reyes@gitlab-demo.example"
_LOCAL = re.compile(r"^(\d{4}-\d\d-\d\d) \d\d:\d\d")


def rehearsed_days(path: Path) -> set[tuple[str, int, str]]:
    """(email, step, local day) of every email the rehearsal sent, from its --out CSV."""
    found = set()
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            for step in (1, 2, 3):
                match = _LOCAL.match(row[f"email_{step}"])
                if match:
                    found.add((row["email"], step, match.group(1)))
    return found


def sent_days(db: Database) -> set[tuple[str, int, str]]:
    with db.session() as session:
        rows = session.exec(
            select(Message.recipient, Message.step, Message.sent_at, Enrollment.timezone)
            .join(Enrollment, col(Enrollment.id) == Message.enrollment_id)
            .where(Message.state == MessageState.SENT)
        ).all()
    return {
        (to, step, at.astimezone(ZoneInfo(tz)).date().isoformat())
        for to, step, at, tz in rows
        if at is not None
    }


def test_a_rehearsal_of_the_demo_campaign_is_what_the_real_run_then_sends(
    settings: Settings, db: Database, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    assert import_reps(db, ROOT / "examples" / "reps.csv").rejected == []
    assert import_contacts(db, ROOT / "examples" / "target-list.csv", MOMENT).rejected == []
    before = everything(db)
    out = tmp_path / "recipients.csv"
    done = campaign_cli(settings, "rehearse", "premium-to-ultimate", "--start", "2021-04-27",
                        "--now", NOW, "--out", str(out), "--no-spam")  # fmt: skip
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())
    assert "Rehearsal of 'premium-to-ultimate 2021-04-27': 348 automated email(s)" in text
    assert "nothing real was written or sent" in text
    assert "Tue 2021-04-27 │ Asia/Kolkata │ 22 │ 09:00 │ 09:00 │ 1" in text, text
    assert "196 recipient(s) written to" in text
    assert everything(db) == before, "the rehearsal changed the real database"
    assert smtp_sink.messages == [], "the rehearsal sent real mail"
    rehearsed = rehearsed_days(out)
    assert len(rehearsed) == 348

    launch(db, settings, "premium-to-ultimate", date(2021, 4, 27), MOMENT)
    moment = MOMENT
    while moment < datetime(2021, 5, 12, tzinfo=UTC):  # a tick every 2 hours for 16 days
        tick(db, settings, moment)
        moment += timedelta(hours=2)
    assert sent_days(db) == rehearsed
    assert Counter(m["To"].addresses[0].addr_spec for m in smtp_sink.messages) == Counter(
        email for email, _, _ in rehearsed
    )


def test_conflicts_exclusions_and_the_cap_show_and_test_emails_go_to_the_tester(
    settings: Settings, db: Database, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    rows = [
        ["ada@tiny.example", "Ada", "L", "Engineer", "Tiny Co", "12", "", REP, "C"],
        ["bo@tiny.example", "Bo", "S", "CTO", "Tiny Co", "12", "", REP, "C"],
        ["cy@tiny.example", "Cy", "E", "Engineer", "Tiny Co", "12", "", REP, "C"],
        ["di@tiny.example", "Di", "S", "Engineer", "Tiny Co", "12", "", REP, "C"],
        ["eve@orphan.example", "Eve", "N", "Engineer", "Orphan Ltd", "8", "", "", "C"],
    ]
    import_with_reps(db, write_csv(tmp_path / "c.csv", rows), MOMENT)
    first = launch(db, settings, "premium-to-ultimate", date(2021, 4, 27), MOMENT, "first")
    with db.session() as session:
        add_suppression(session, "di@tiny.example", "bounced", "test", MOMENT)
        session.add(Exclusion(email="cy@tiny.example", reason="asked us", created_at=MOMENT))
    before = everything(db)
    capped = dataclasses.replace(settings, max_marketing_per_week=1)
    options = LaunchOptions("premium-to-ultimate", date(2021, 4, 28), "second", allow_overlap=True)
    result = rehearse(db, capped, options, MOMENT, tmp_path / "r", spam=False)
    assert everything(db) == before

    found = {c.kind: str(c) for c in result.conflicts}
    assert f"'{first.name}' (5)" in found["overlap"]
    assert "3 contact(s) held back by the frequency cap" in found["frequency cap"]
    listed = " ".join(str(c) for c in result.conflicts)
    assert "3 email(s) skipped: excluded: asked us" in listed
    assert "1 email(s) skipped: suppressed: bounced" in listed
    assert "1 contact(s) (0 on the rep channel) at accounts without a rep" in found["missing rep"]
    assert "Orphan Ltd" in found["missing rep"]
    assert "5 contact(s) without a time zone" in found["no time zone"]
    ada = next(r for r in result.recipients if r.email == "ada@tiny.example")
    assert ada.steps[0].note == "held by the frequency cap"
    assert ada.steps[0].local > "2021-04-28"  # a week after the first campaign's email 1
    cy = next(r for r in result.recipients if r.email == "cy@tiny.example")
    assert [s.cell() for s in cy.steps] == ["skipped: excluded: asked us"] * 3

    done = campaign_cli(settings, "rehearse", "premium-to-ultimate", "--start", "2021-04-28",
                        "--name", "second", "--allow-overlap", "--now", NOW, "--no-spam",
                        "--samples", "1", "--test-to", "proof@review.example")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "test emails: 6 of 6 sent to proof@review.example" in done.stdout
    assert [m["To"].addresses[0].addr_spec for m in smtp_sink.messages] == [
        "proof@review.example"
    ] * 6
    proof = smtp_sink.messages[0]
    assert str(proof["Subject"]).startswith("[Rehearsal] ")
    token = re.search(r"/c/([A-Za-z0-9_.-]+)", str(proof.get_body(("plain",)).get_content()))
    assert token is not None
    assert TokenSigner(settings.secret).verify(token.group(1)) is None, "a rehearsal link counts"
