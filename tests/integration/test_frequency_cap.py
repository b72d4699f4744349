"""The per-contact cap across campaigns (`max_marketing_per_week`) over real SMTP: two running
campaigns mail the same contacts, and nobody gets more than the cap in any 7 days."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from campaign_engine.core.config import Settings
from campaign_engine.core.kinds import MessageState
from campaign_engine.engine.launch import launch
from campaign_engine.reporting.reports import StepStatus, campaign_statuses
from campaign_engine.store.db import Database
from campaign_engine.store.models import Message
from tests.conftest import SmtpSink
from tests.helpers import import_with_reps, queue_due, strand_claimed_batch, tick, write_csv

REP = "dana.reyes@gitlab-demo.example"
PEOPLE = ("ada@tiny.example", "grace@tiny.example")
LAUNCH_TIME = datetime(2021, 4, 20, 12, tzinfo=UTC)
WEEK = timedelta(days=7)


def at(month: int, day: int, hour: int = 9) -> datetime:
    return datetime(2021, month, day, hour, tzinfo=UTC)


def two_campaigns(db: Database, settings: Settings, tmp_path: Path) -> tuple[str, str]:
    """Both contacts in two campaigns of the weekly three-email sequence, one day apart."""
    targets = write_csv(
        tmp_path / "targets.csv",
        [
            ["ada@tiny.example", "Ada", "L", "Engineer", "Tiny Co", "12", "", REP, "C"],
            ["grace@tiny.example", "Grace", "H", "CISO", "Tiny Co", "12", "", REP, "C"],
        ],
    )
    assert import_with_reps(db, targets, LAUNCH_TIME).rejected == []
    first = launch(db, settings, "premium-to-ultimate", date(2021, 4, 27), LAUNCH_TIME, "first")
    second = launch(
        db,
        settings,
        "premium-to-ultimate",
        date(2021, 4, 28),
        LAUNCH_TIME,
        "second",
        allow_overlap=True,
    )
    assert second.enrolled, "the second campaign enrols the same contacts"
    return first.name, second.name


def working_hours(first: date, last: date) -> list[datetime]:
    """A tick every hour of the 09:00-17:00 window, every day from `first` to `last`."""
    days = (last - first).days + 1
    return [
        datetime(d.year, d.month, d.day, hour, tzinfo=UTC)
        for d in (first + timedelta(days=n) for n in range(days))
        for hour in range(9, 18)
    ]


def sent_times(sink: SmtpSink, address: str) -> list[datetime]:
    return sorted(m["Date"].datetime for m in sink.to(address))


def most_in_any_week(times: list[datetime]) -> int:
    return max(sum(1 for t in times if end - WEEK < t <= end) for end in times)


def test_cap_defers_the_third_email_until_the_week_allows_it(
    db: Database, settings: Settings, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    assert settings.max_marketing_per_week == 2  # the default
    first, _ = two_campaigns(db, settings, tmp_path)
    tick(db, settings, at(4, 27, 16))  # first campaign, email 1: late in the day
    tick(db, settings, at(4, 28, 9))  # second campaign, email 1
    assert all(len(smtp_sink.to(p)) == 2 for p in PEOPLE)

    # The first campaign's email 2 is due at 09:00 on May 4: two sends in the 7 days before.
    report = tick(db, settings, at(5, 4, 9))
    assert report.counts["deferred"] == 2 and report.counts["sent"] == 0
    assert all(len(smtp_sink.to(p)) == 2 for p in PEOPLE)
    with db.session() as session:
        held = session.exec(select(Message).where(Message.step == 2)).all()
        assert {(m.state, m.skip_reason, m.next_attempt_at, m.attempts) for m in held} == {
            (MessageState.QUEUED, "frequency cap", at(5, 4, 16), 0)
        }
        (status,) = campaign_statuses(session, first)
    assert status.steps[1].deferred_reasons == {"frequency cap": 2}
    assert status.steps[1].states["queued"] == 2

    # Not before the oldest send leaves the window, then exactly once.
    for moment in working_hours(date(2021, 5, 4), date(2021, 5, 25)):
        if moment > at(5, 4, 9):
            tick(db, settings, moment)
            if moment == at(5, 4, 15):
                assert all(len(smtp_sink.to(p)) == 2 for p in PEOPLE)
            if moment == at(5, 4, 16):
                assert all(len(smtp_sink.to(p)) == 3 for p in PEOPLE)

    for person in PEOPLE:
        times = sent_times(smtp_sink, person)
        assert len(times) == 6, "three emails from each campaign, none lost, none twice"
        assert most_in_any_week(times) == 2
        assert times[2] == at(5, 4, 16)
    with db.session() as session:
        messages = session.exec(select(Message)).all()
        assert len(messages) == 12
        assert {(m.state, m.skip_reason) for m in messages} == {(MessageState.SENT, None)}
        assert sorted(status.steps[1].states["sent"] for status in campaign_statuses(session)) == [
            2,
            2,
        ]


@pytest.mark.parametrize("cap", [0])
def test_no_cap_sends_on_schedule(
    db: Database, settings: Settings, smtp_sink: SmtpSink, tmp_path: Path, cap: int
) -> None:
    settings = dataclasses.replace(settings, max_marketing_per_week=cap)
    two_campaigns(db, settings, tmp_path)
    tick(db, settings, at(4, 27, 16))
    tick(db, settings, at(4, 28, 9))
    report = tick(db, settings, at(5, 4, 9))
    assert report.counts["deferred"] == 0 and report.counts["sent"] == 2
    for person in PEOPLE:
        times = sent_times(smtp_sink, person)
        assert times == [at(4, 27, 16), at(4, 28, 9), at(5, 4, 9)]
        assert most_in_any_week(times) == 3


@pytest.mark.parametrize("in_flight", ["first", "second"])
def test_two_workers_mailing_one_person_at_once_still_keep_the_cap(
    db: Database, settings: Settings, smtp_sink: SmtpSink, tmp_path: Path, in_flight: str
) -> None:
    """Another worker holds one campaign's emails in flight (claimed, not yet recorded) while
    this one sends the other campaign's to the same people: the older emails go, the newer wait."""
    settings = dataclasses.replace(settings, max_marketing_per_week=1)
    targets = write_csv(
        tmp_path / "targets.csv",
        [[p, "P", "L", "Engineer", "Tiny Co", "12", "", REP, "C"] for p in PEOPLE],
    )
    assert import_with_reps(db, targets, LAUNCH_TIME).rejected == []
    start = date(2021, 4, 27)
    launch(db, settings, "premium-to-ultimate", start, LAUNCH_TIME, "first")
    launch(db, settings, "premium-to-ultimate", start, LAUNCH_TIME, "second", allow_overlap=True)
    now = at(4, 27)
    assert queue_due(db, settings, "first", now) == queue_due(db, settings, "second", now) == 2
    strand_claimed_batch(db, settings, in_flight, now)  # the other worker, mid-send

    tick(db, settings, now)

    mine = "second" if in_flight == "first" else "first"
    step = campaign_statuses_by_name(db, mine)
    if in_flight == "first":  # this worker's emails are the newer ones: the cap holds them back
        assert smtp_sink.messages == []
        assert step.states["queued"] == 2 and step.deferred_reasons == {"frequency cap": 2}
    else:  # this worker's emails are the older ones: they go out, once each
        assert sorted(m["To"].addresses[0].addr_spec for m in smtp_sink.messages) == sorted(PEOPLE)
        assert step.states["sent"] == 2


def campaign_statuses_by_name(db: Database, name: str) -> StepStatus:
    with db.session() as session:
        return campaign_statuses(session, name)[0].steps[0]
