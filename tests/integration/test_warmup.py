"""Warm-up of a new sending domain over real SMTP: a day's emails never exceed the ramp, the most
engaged contacts get theirs first, each next email keeps its spacing from the one before, and
every campaign's mail counts against the same day."""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from itertools import pairwise
from pathlib import Path

from sqlmodel import select

from campaign_engine.audience.imports import import_contacts, import_reps
from campaign_engine.core.config import Settings, WarmupSettings, load_settings
from campaign_engine.core.kinds import EventKind
from campaign_engine.engine.launch import LateJoiners, launch
from campaign_engine.store.db import Database
from campaign_engine.store.models import Contact, Event
from tests.conftest import ROOT, SmtpSink
from tests.helpers import campaign_cli, import_with_reps, tick, write_csv
from tests.integration.test_rehearsal import rehearsed_days, sent_days

REP = "dana.reyes@gitlab-demo.example"
LAUNCH_TIME = datetime(2021, 4, 26, 12, tzinfo=UTC)
START = date(2021, 4, 27)  # a Tuesday
PEOPLE = [f"p{n:02}@tiny{n:02}.example" for n in range(1, 31)]
# what they did with earlier mail: (replies, clicks, opens)
ENGAGED = {
    "p30@tiny30.example": (1, 0, 0),
    "p29@tiny29.example": (0, 2, 0),
    "p28@tiny28.example": (0, 1, 5),
    "p27@tiny27.example": (0, 0, 3),
}


def warm(settings: Settings, start_per_day: int = 4, growth: float = 1.5) -> Settings:
    return dataclasses.replace(settings, warmup=WarmupSettings(start_per_day, growth))


def import_people(db: Database, tmp_path: Path, people: list[str] = PEOPLE) -> None:
    rows = [[e, "P", "L", "Engineer", e.split("@")[1], "12", "", REP, "C"] for e in people]
    assert (
        import_with_reps(db, write_csv(tmp_path / "people.csv", rows), LAUNCH_TIME).rejected == []
    )


def record_engagement(db: Database) -> None:
    """Opens, clicks and replies stored from earlier mail; a bot's clicks do not count."""
    with db.session() as session:
        ids = dict(session.exec(select(Contact.email, Contact.id)).all())
        for email, counts in ENGAGED.items():
            for kind, n in zip(
                (EventKind.REPLY, EventKind.CLICK, EventKind.OPEN), counts, strict=True
            ):
                for _ in range(n):
                    session.add(Event(kind=kind, contact_id=ids[email], occurred_at=LAUNCH_TIME))
        for _ in range(9):  # a link scanner "clicked" p01's links: not engagement
            session.add(Event(kind=EventKind.CLICK, contact_id=ids[PEOPLE[0]], is_human=False,
                              bot_reason="scanner", occurred_at=LAUNCH_TIME))  # fmt: skip


def run_days(db: Database, settings: Settings, first: date, days: int) -> None:
    """Ticks at 09:00, 11:00, 13:00 and 15:00 UTC of each day."""
    for n in range(days):
        day = first + timedelta(days=n)
        for hour in (9, 11, 13, 15):
            tick(db, settings, datetime(day.year, day.month, day.day, hour, tzinfo=UTC))


def campaign_mail(sink: SmtpSink) -> list[EmailMessage]:
    """What arrived for contacts (the rep's digests are mail to a colleague, not campaign mail)."""
    return [m for m in sink.messages if m["To"].addresses[0].addr_spec != REP]


def per_day(sink: SmtpSink) -> dict[str, Counter[str]]:
    """Day -> subject -> campaign emails that arrived."""
    days: dict[str, Counter[str]] = {}
    for m in campaign_mail(sink):
        days.setdefault(m["Date"].datetime.date().isoformat(), Counter())[str(m["Subject"])] += 1
    return dict(sorted(days.items()))


def test_the_ramp_spreads_the_list_most_engaged_first_and_keeps_each_spacing(
    db: Database, settings: Settings, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    settings = warm(settings)
    import_people(db, tmp_path)
    record_engagement(db)
    launch(db, settings, "premium-to-ultimate", START, LAUNCH_TIME)
    run_days(db, settings, START, 22)

    totals = {day: sum(c.values()) for day, c in per_day(smtp_sink).items()}
    # 4, 6, 9, then the 11 left of the list (13 allowed); emails 2 and 3 follow 7 days after
    # each contact's email before, so they come in the same waves.
    assert totals == {
        "2021-04-27": 4, "2021-04-28": 6, "2021-04-29": 9, "2021-04-30": 11,
        "2021-05-04": 4, "2021-05-05": 6, "2021-05-06": 9, "2021-05-07": 11,
        "2021-05-11": 4, "2021-05-12": 6, "2021-05-13": 9, "2021-05-14": 11,
    }  # fmt: skip
    first_day = sorted(m["To"].addresses[0].addr_spec for m in campaign_mail(smtp_sink)[:4])
    assert first_day == sorted(ENGAGED), "the most engaged contacts get theirs first"
    second_day = {m["To"].addresses[0].addr_spec for m in campaign_mail(smtp_sink)[4:10]}
    assert second_day == set(PEOPLE[:6]), "then the others, in the order they were enrolled"
    for person in PEOPLE:
        dates = sorted(m["Date"].datetime for m in smtp_sink.to(person))
        assert [(b - a).days for a, b in pairwise(dates)] == [7, 7], person


def test_every_campaign_counts_against_the_same_day_and_no_ramp_changes_nothing(
    db: Database, settings: Settings, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    import_people(db, tmp_path, PEOPLE[:10])
    alone = LateJoiners(enabled=False)
    launch(db, settings, "premium-to-ultimate", START, LAUNCH_TIME, "first", late=alone)
    others = [f"q{n}@other{n}.example" for n in range(10)]
    import_people(db, tmp_path, others)
    launch(db, settings, "premium-to-ultimate", START, LAUNCH_TIME, "second", late=alone)
    run_days(db, warm(settings, 6, 2.0), START, 2)
    days = per_day(smtp_sink)
    assert {day: sum(c.values()) for day, c in days.items()} == {"2021-04-27": 6, "2021-04-28": 12}
    assert (
        sorted(m["To"].addresses[0].addr_spec for m in campaign_mail(smtp_sink)[:6]) == PEOPLE[:6]
    )

    smtp_sink.messages.clear()
    run_days(db, settings, START + timedelta(days=2), 1)  # warm-up off: the rest at once
    assert len(campaign_mail(smtp_sink)) == 2


def test_launch_and_rehearsal_show_the_ramped_calendar_and_the_run_sends_what_was_rehearsed(
    db: Database, settings: Settings, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    """The demo list (contacts in many zones) on a new domain allowing 20, 30, 45... a day."""
    with settings.config_path.open("a") as config:
        config.write("\n[warmup]\nstart_per_day = 20\ngrowth = 1.5\n")
    settings = load_settings(settings.config_path, environ={})
    assert import_reps(db, ROOT / "examples" / "reps.csv").rejected == []
    assert import_contacts(db, ROOT / "examples" / "target-list.csv", LAUNCH_TIME).rejected == []
    now = LAUNCH_TIME.isoformat()
    start = ("premium-to-ultimate", "--start", START.isoformat(), "--now", now)

    ramp = (
        "warm-up: the sending domain has not sent yet; from its first day the ramp allows 20, 30,"
        " 45, 67... campaign emails a day (x1.5 a day, every campaign together; days in UTC);"
        " the most engaged contacts go first"
    )
    dry = campaign_cli(settings, "launch", *start, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    text = " ".join(dry.stdout.split())
    for day, n in (("04-27", 20), ("04-28", 30), ("04-29", 45), ("04-30", 21)):
        assert f"2021-{day} │ 1 │ Interested in speed and security? │ SMB │ {n} │" in text, text
    assert "2021-05-04 │ 2 │ Learn how to deploy to production 6x faster │ SMB │ 20 │" in text
    assert ramp in text
    out = tmp_path / "recipients.csv"
    rehearsal = campaign_cli(settings, "rehearse", *start, "--out", str(out), "--no-spam")
    assert rehearsal.returncode == 0, rehearsal.stderr
    text = " ".join(rehearsal.stdout.split())
    assert "Rehearsal of 'premium-to-ultimate 2021-04-27': 348 automated email(s)" in text
    # Tokyo's and Kolkata's mornings are the ramp's (UTC) first day: 8 + 12 = 20
    assert "Tue 2021-04-27 │ Asia/Kolkata │ 12 │ 09:00 │ 09:00 │ 1" in text, text
    assert "Tue 2021-04-27 │ Asia/Tokyo │ 8 │ 09:00 │ 09:00 │ 1" in text
    assert "Fri 2021-04-30 │ America/Los_Angeles │ 13 │ 09:00 │ 09:00 │ 1" in text
    assert ramp in text

    launch(db, settings, "premium-to-ultimate", START, LAUNCH_TIME)
    moment = LAUNCH_TIME
    while moment < datetime(2021, 5, 20, tzinfo=UTC):  # a tick every 2 hours for 24 days
        tick(db, settings, moment)
        moment += timedelta(hours=2)
    assert sent_days(db) == rehearsed_days(out)
    utc_days = Counter(m["Date"].datetime.astimezone(UTC).date() for m in campaign_mail(smtp_sink))
    assert [utc_days[START + timedelta(days=n)] for n in range(4)] == [20, 30, 45, 21]
    assert sum(utc_days.values()) == 348
    status = campaign_cli(settings, "status", "--now", "2021-04-29T18:00:00+00:00")
    assert status.returncode == 0, status.stderr
    assert (
        "Warm-up: day 2 of the sending domain's ramp: 45 of 45 campaign emails today (sent or"
        " waiting); tomorrow 67"
    ) in " ".join(status.stdout.split())
