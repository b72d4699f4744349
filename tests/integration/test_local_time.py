"""Each contact's own morning: six zones, three DST changes, ticks every 15 minutes, real SMTP."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, select

from campaign_engine.audience.imports import import_contacts
from campaign_engine.core.config import Settings, load_settings
from campaign_engine.core.kinds import MessageState
from campaign_engine.engine.launch import LateJoiners, launch
from campaign_engine.reporting.dashboard import render_dashboard
from campaign_engine.reporting.reports import load_report
from campaign_engine.store.db import Database
from campaign_engine.store.models import Contact, Enrollment, Message
from tests.conftest import SmtpSink
from tests.delivery_setup import point_at
from tests.faultrelay import fault_relay
from tests.helpers import HEADER, campaign_cli, tick, write_csv

REP = "dana.reyes@gitlab-demo.example"
# Steps on local days 0, 7, 14, 21, 28 from Tuesday 2021-03-09: the US springs forward on
# 03-14 (between steps 1 and 2), Europe on 03-28 (between 3 and 4), and Auckland
# falls back on 04-04 (between 4 and 5).
START = date(2021, 3, 9)
DAYS = (0, 7, 14, 21, 28)
COLUMNS = [*HEADER, "country", "state", "timezone"]
PEOPLE = {
    # email: (the zone we expect, country, state, timezone column)
    "la@tiny.example": ("America/Los_Angeles", "United States", "CA", ""),
    "ny@tiny.example": ("America/New_York", "", "", "America/New_York"),
    "berlin@tiny.example": ("Europe/Berlin", "Germany", "", ""),
    "kolkata@tiny.example": ("Asia/Kolkata", "IN", "", ""),
    "tokyo@tiny.example": ("Asia/Tokyo", "", "", "asia/tokyo"),
    "auckland@tiny.example": ("Pacific/Auckland", "New Zealand", "", ""),
}


@pytest.fixture
def five_step_settings(settings: Settings, tmp_path: Path) -> Settings:
    """The shipped sequence stretched to five weekly steps, so every DST change falls inside."""
    sequences = tmp_path / "sequences"
    sequences.mkdir()
    text = (settings.sequences_dir / "premium-to-ultimate.toml").read_text()
    steps = text.split("[[steps]]")
    head, body = steps[0], steps[1:]
    extra = [body[2], body[2]]
    stretched = []
    for number, (day, step) in enumerate(zip(DAYS, [*body, *extra], strict=True), 1):
        step = re.sub(
            r"\nday = \d+", f'\nday = {day}\ntemplate = "email{min(number, 3)}"', step, count=1
        )
        step = re.sub(r'\nsubject = "[^"]*"', f'\nsubject = "Step {number}"', step, count=1)
        stretched.append(step)
    (sequences / "five.toml").write_text(head + "".join(f"[[steps]]{s}" for s in stretched))
    config = settings.config_path.read_text().replace(str(settings.sequences_dir), str(sequences))
    settings.config_path.write_text(config)
    return load_settings(settings.config_path, environ={})


def _targets(path: Path, people: dict[str, tuple[str, str, str, str]]) -> Path:
    rows = [
        [email, "First", "Last", "Engineer", "Tiny Co", "12", "", REP, "", country, state, tz]
        for email, (_, country, state, tz) in people.items()
    ]
    return write_csv(path, rows, COLUMNS)


def _arrivals(sink: SmtpSink, email: str) -> list[tuple[int, datetime]]:
    """(step, when it arrived) for each message to `email`, from the Subject and Date headers."""
    found = []
    for message in sink.to(email):
        step = int(str(message["Subject"]).removeprefix("Step "))
        found.append((step, parsedate_to_datetime(str(message["Date"]))))
    return sorted(found)


def test_every_email_arrives_inside_the_local_window_on_its_local_day_once(
    db: Database, five_step_settings: Settings, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    settings = five_step_settings
    result = import_contacts(
        db, _targets(tmp_path / "t.csv", PEOPLE), datetime(2021, 3, 1, tzinfo=UTC)
    )
    assert result.rejected == []
    with db.session() as session:
        zones = dict(session.exec(select(Contact.email, Contact.timezone)).all())
    assert zones == {email: zone for email, (zone, *_) in PEOPLE.items()}

    launched = launch(db, settings, "five", START, datetime(2021, 3, 1, tzinfo=UTC))
    assert set(launched.first_sends) == {zone for zone, *_ in PEOPLE.values()}
    assert launched.first_sends["Pacific/Auckland"] == datetime(2021, 3, 8, 20, tzinfo=UTC)

    now = datetime(2021, 3, 8, tzinfo=UTC)
    while now < datetime(2021, 4, 7, 12, tzinfo=UTC):
        tick(db, settings, now)
        now += timedelta(minutes=15)

    for email, (zone, *_) in PEOPLE.items():
        arrivals = _arrivals(smtp_sink, email)
        assert [step for step, _ in arrivals] == [1, 2, 3, 4, 5], email  # each once
        for step, moment in arrivals:
            local = moment.astimezone(ZoneInfo(zone))
            assert local.date() == START + timedelta(days=DAYS[step - 1]), (email, step, local)
            assert time(9) <= local.time() < time(17), (email, step, local)
    assert len(smtp_sink.messages) == 5 * len(PEOPLE)


def test_a_late_joiner_starts_in_its_next_local_window_and_keeps_the_spacing(
    db: Database, settings: Settings, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    launch_day = date(2021, 4, 27)
    first = {"berlin@tiny.example": PEOPLE["berlin@tiny.example"]}
    import_contacts(db, _targets(tmp_path / "a.csv", first), datetime(2021, 4, 20, tzinfo=UTC))
    launched = launch(
        db, settings, "premium-to-ultimate", launch_day, datetime(2021, 4, 20, tzinfo=UTC)
    )
    tick(db, settings, datetime(2021, 4, 27, 8, tzinfo=UTC))
    assert len(smtp_sink.messages) == 1

    # Day 3, 10:00 UTC (19:00 in Tokyo, past its window): a Tokyo contact is imported.
    late = {"tokyo@tiny.example": PEOPLE["tokyo@tiny.example"]}
    day3 = datetime(2021, 4, 29, 10, tzinfo=UTC)
    import_contacts(db, _targets(tmp_path / "b.csv", late), day3)
    now = day3
    while now < datetime(2021, 5, 14, tzinfo=UTC):
        tick(db, settings, now)
        now += timedelta(minutes=15)

    tokyo = ZoneInfo("Asia/Tokyo")
    arrivals = [(s, m.astimezone(tokyo)) for s, m in _arrivals_by_subject(smtp_sink, settings)]
    assert (
        [(s, m.date(), m.time()) for s, m in arrivals]
        == [
            (1, date(2021, 4, 30), time(9)),  # its next local window
            (2, date(2021, 5, 7), time(9)),  # seven local days later
            (3, date(2021, 5, 14), time(9)),
        ][: len(arrivals)]
    )
    assert len(arrivals) == 2  # the ticks stop before step 3's day
    with db.session() as session:
        enrollment = session.exec(
            select(Enrollment).join(Contact).where(Contact.email == "tokyo@tiny.example")
        ).one()
    assert enrollment.late_joiner and enrollment.timezone == "Asia/Tokyo"
    assert launched.name


def _arrivals_by_subject(sink: SmtpSink, settings: Settings) -> list[tuple[int, datetime]]:
    subjects = {
        "Interested in speed and security?": 1,
        "Learn how to deploy to production 6x faster": 2,
    }
    return sorted(
        (subjects[str(m["Subject"])], parsedate_to_datetime(str(m["Date"])))
        for m in sink.to("tokyo@tiny.example")
    )


def test_late_joiners_can_be_turned_off_and_have_a_last_day(
    db: Database, settings: Settings, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    # A launch must enrol someone (an empty one is refused): one contact is there from the start.
    seed = {"seed@tiny.example": ("Europe/Berlin", "Germany", "", "")}
    import_contacts(db, _targets(tmp_path / "seed.csv", seed), datetime(2021, 4, 20, tzinfo=UTC))
    launch(
        db,
        settings,
        "premium-to-ultimate",
        date(2021, 4, 27),
        datetime(2021, 4, 20, tzinfo=UTC),
        name="closed",
        late=LateJoiners(enabled=False),
    )
    launch(
        db,
        settings,
        "premium-to-ultimate",
        date(2021, 4, 27),
        datetime(2021, 4, 20, tzinfo=UTC),
        name="until",
        allow_overlap=True,
        late=LateJoiners(until=date(2021, 4, 30)),
    )
    import_contacts(db, _targets(tmp_path / "a.csv", PEOPLE), datetime(2021, 5, 1, tzinfo=UTC))
    tick(db, settings, datetime(2021, 5, 1, 12, tzinfo=UTC))  # 2021-05-02 in Auckland
    assert {m["To"].addresses[0].addr_spec for m in smtp_sink.messages} <= {"seed@tiny.example"}
    with db.session() as session:
        enrolled = session.exec(
            select(Contact.email).join(Enrollment, col(Enrollment.contact_id) == Contact.id)
        ).all()
    assert set(enrolled) == {"seed@tiny.example"}, "no late joiner in either campaign"


def test_launch_prints_each_zone_first_send_and_status_counts_local_days(
    db: Database, settings: Settings, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    import_contacts(db, _targets(tmp_path / "a.csv", PEOPLE), datetime(2021, 4, 20, tzinfo=UTC))
    launched = campaign_cli(
        settings,
        "launch",
        "premium-to-ultimate",
        "--start",
        "2021-05-01",
        "--send-days",
        "mon-fri",
        "--enroll-until",
        "2021-05-10",
        "--now",
        "2021-04-20T12:00:00+00:00",
    )
    assert launched.returncode == 0, launched.stderr
    assert "First email per time zone" in launched.stdout
    # 2021-05-01 is a Saturday: with mon-fri, everyone's first email is Monday 09:00 local.
    assert re.search(
        r"Pacific/Auckland +│ Mon 2021-05-03 09:00 │ 2021-05-02 21:00", launched.stdout
    )
    assert re.search(
        r"America/Los_Angeles │ Mon 2021-05-03 09:00 │ 2021-05-03 16:00", launched.stdout
    )
    now = datetime(2021, 5, 2, 20, tzinfo=UTC)
    while now < datetime(2021, 5, 4, tzinfo=UTC):
        tick(db, settings, now)
        now += timedelta(minutes=30)
    assert len(smtp_sink.messages) == len(PEOPLE)
    status = campaign_cli(settings, "status")
    assert "sent per local day: 2021-05-03 6; late joiners: 0" in status.stdout
    # The dashboard counts the same local days (in UTC, Auckland's email went on May 2).
    with db.session() as session:
        report = load_report(session, now)
    assert report.campaigns[0].sent_per_local_day == {"2021-05-03": 6}
    page = render_dashboard(report)
    assert "Sends per local day" in page
    assert 'data-path="campaigns.0.sent_per_local_day.2021-05-03" data-value="6">6<' in page
    bad = campaign_cli(
        settings,
        "launch",
        "premium-to-ultimate",
        "--start",
        "2021-05-01",
        "--name",
        "other",
        "--send-days",
        "weekdays",
    )
    assert bad.returncode == 1 and "send_days 'weekdays'" in bad.stdout + bad.stderr


def test_an_unknown_time_zone_or_country_is_rejected_with_file_and_line(
    db: Database, tmp_path: Path
) -> None:
    bad = {
        "ok@tiny.example": ("", "Japan", "", ""),
        "mars@tiny.example": ("", "", "", "Mars/Olympus"),
        "narnia@tiny.example": ("", "Narnia", "", ""),
    }
    path = _targets(tmp_path / "bad.csv", bad)
    result = import_contacts(db, path, datetime(2021, 4, 20, tzinfo=UTC))
    assert [(e.line, e.field) for e in result.rejected] == [(3, "timezone"), (4, "country")]
    assert "unknown time zone 'Mars/Olympus'" in result.rejected[0].reason
    assert result.created == 1


def test_a_late_first_email_far_east_pushes_the_second_from_its_local_day_not_utcs(
    db: Database, settings: Settings, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    """Step 1 goes out two days late, at 23:30 UTC: already the next day in Sydney (+10) and
    Auckland (+12). Step 2 keeps its seven days from that *local* day; counting from the UTC
    day would send it one local day early."""
    east = {email: PEOPLE[email] for email in ("auckland@tiny.example",)}
    east["sydney@tiny.example"] = ("Australia/Sydney", "", "", "Australia/Sydney")
    import_contacts(db, _targets(tmp_path / "east.csv", east), datetime(2021, 5, 20, tzinfo=UTC))
    launch(db, settings, "premium-to-ultimate", date(2021, 6, 1), datetime(2021, 5, 20, tzinfo=UTC))
    # The engine was down from before the first window until 2021-06-02 23:30 UTC.
    now = datetime(2021, 6, 2, 23, 30, tzinfo=UTC)
    while now < datetime(2021, 6, 11, 12, tzinfo=UTC):
        tick(db, settings, now)
        now += timedelta(minutes=30)

    for email, (zone, *_) in east.items():
        local = [moment.astimezone(ZoneInfo(zone)) for _, moment in _arrivals_for(smtp_sink, email)]
        assert [m.date() for m in local] == [date(2021, 6, 3), date(2021, 6, 10)], email
        assert time(9) <= local[1].time() < time(9, 30), (email, local[1])


def _arrivals_for(sink: SmtpSink, email: str) -> list[tuple[str, datetime]]:
    return sorted(
        ((str(m["Subject"]), parsedate_to_datetime(str(m["Date"]))) for m in sink.to(email)),
        key=lambda pair: pair[1],
    )


def test_after_a_ten_hour_relay_outage_each_email_waits_for_its_local_window(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    """The relay is down from 00:00 to 10:00 UTC: Auckland's, Tokyo's, Kolkata's and Berlin's
    first emails are queued inside their windows meanwhile. Auckland's and Tokyo's windows shut
    during the outage: they wait for their next morning, not for the relay."""
    import_contacts(db, _targets(tmp_path / "t.csv", PEOPLE), datetime(2021, 5, 20, tzinfo=UTC))
    launch(db, settings, "premium-to-ultimate", date(2021, 6, 1), datetime(2021, 5, 20, tzinfo=UTC))
    healed = datetime(2021, 6, 1, 10, tzinfo=UTC)
    with fault_relay(greeting="421 4.3.2 not now") as relay:
        settings = point_at(settings, relay.port)
        now = datetime(2021, 6, 1, tzinfo=UTC)
        deferred = 0
        while now < healed:
            deferred += tick(db, settings, now).counts["deferred (window)"]
            now += timedelta(minutes=15)
        assert relay.received == [] and deferred == 2
        waiting = {e: (m.state, m.skip_reason, m.next_attempt_at) for e, m in _messages(db)}
        assert waiting == {
            "auckland@tiny.example": (
                MessageState.QUEUED,
                "window",
                datetime(2021, 6, 1, 21, tzinfo=UTC),
            ),
            "tokyo@tiny.example": (
                MessageState.QUEUED,
                "window",
                datetime(2021, 6, 2, 0, tzinfo=UTC),
            ),
            "kolkata@tiny.example": (MessageState.QUEUED, None, waiting["kolkata@tiny.example"][2]),
            "berlin@tiny.example": (MessageState.QUEUED, None, waiting["berlin@tiny.example"][2]),
        }
        status = campaign_cli(settings, "status").stdout
        assert "│ 4 (deferred: 2 window) │    0 │" in status, status

        relay.greeting = ""
        report = tick(db, settings, healed)
        assert report.counts["sent"] == 2, report.counts
        while now < datetime(2021, 6, 2, 12, tzinfo=UTC):
            tick(db, settings, now)
            now += timedelta(minutes=15)

    for email, (zone, *_) in PEOPLE.items():
        arrived = [
            parsedate_to_datetime(str(m["Date"])).astimezone(ZoneInfo(zone))
            for rcpt, m in relay.received
            if rcpt == email
        ]
        assert len(arrived) == 1, email
        assert time(9) <= arrived[0].time() < time(17), (email, arrived[0])
    late = {
        rcpt: parsedate_to_datetime(str(m["Date"])).astimezone(ZoneInfo(PEOPLE[rcpt][0]))
        for rcpt, m in relay.received
        if rcpt in ("auckland@tiny.example", "tokyo@tiny.example")
    }
    assert {(d.date(), d.time()) for d in late.values()} == {(date(2021, 6, 2), time(9))}
    assert {(m.state, m.skip_reason) for _, m in _messages(db)} == {(MessageState.SENT, None)}


def _messages(db: Database) -> list[tuple[str, Message]]:
    """(contact email, message) for every message."""
    with db.session() as session:
        return list(session.exec(select(Contact.email, Message).join(Message)).all())
