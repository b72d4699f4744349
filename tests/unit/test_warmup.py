"""The warm-up ramp on its own: day -> allowance, who takes a day's places, and the calendar a
launch shows."""

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta

from campaign_engine.sending.planner import Candidate, Schedule
from campaign_engine.sending.warmup import NO_LIMIT, Engagement, Ramp, ramp_calendar, share_day

RAMP = Ramp(100, 1.5)
NINE = datetime(2021, 4, 27, 9, tzinfo=UTC)
END = datetime(2021, 4, 28, tzinfo=UTC)


def test_the_ramp_starts_at_start_per_day_and_grows_by_growth_each_day() -> None:
    assert [RAMP.allowance(day) for day in range(6)] == [100, 150, 225, 337, 506, 759]
    assert [Ramp(100, 1.1).allowance(day) for day in range(3)] == [100, 110, 121]
    assert Ramp(50, 1.0).allowance(30) == 50  # growth 1: a flat daily cap
    assert RAMP.allowance(-3) == 100  # before day 0 (a `started` ahead): the first day's
    assert RAMP.allowance(10_000) == NO_LIMIT  # the ramp is over, no overflow


def test_day_zero_is_started_else_the_first_send_else_today() -> None:
    today = date(2021, 4, 30)
    assert RAMP.day_index(today, None) == 0
    assert RAMP.day_index(today, date(2021, 4, 27)) == 3
    assert Ramp(100, 1.5, started=date(2021, 4, 29)).day_index(today, date(2021, 4, 1)) == 1


def test_the_ramp_counts_days_in_its_zone() -> None:
    ramp = Ramp(100, 1.5, "America/New_York")
    late_evening = datetime(2021, 4, 28, 2, tzinfo=UTC)  # 22:00 on the 27th in New York
    assert ramp.day_of(late_evening) == date(2021, 4, 27)
    start, end = ramp.day_bounds(date(2021, 4, 27))
    assert (start, end) == (
        datetime(2021, 4, 27, 4, tzinfo=UTC),
        datetime(2021, 4, 28, 4, tzinfo=UTC),
    )


def test_places_go_to_follow_ups_then_the_most_engaged_then_the_oldest_due() -> None:
    candidates = [
        Candidate(1, 1, NINE),
        Candidate(2, 1, NINE),  # opened twice
        Candidate(3, 1, NINE),  # clicked once
        Candidate(4, 2, NINE + timedelta(hours=5)),  # a follow-up, due later today
        Candidate(5, 1, NINE - timedelta(days=1)),  # waiting since yesterday
        Candidate(6, 1, NINE),  # replied
        Candidate(7, 1, END),  # tomorrow's: not today's matter
    ]
    seen = {2: Engagement(opens=2), 3: Engagement(clicks=1), 6: Engagement(replies=1)}
    share = share_day(candidates, seen, 4, END)
    assert share.chosen == {4, 6, 3, 2}
    assert share.waiting == {5: END, 1: END}
    assert share_day(candidates, seen, 5, END).chosen == {4, 6, 3, 2, 5}
    assert share_day(candidates, seen, 0, END).chosen == frozenset()


def test_equal_contacts_are_taken_in_enrolment_order() -> None:
    candidates = [Candidate(eid, 1, NINE) for eid in (9, 3, 7, 1)]
    assert share_day(candidates, {}, 2, END).chosen == {1, 3}


def test_the_launch_calendar_spreads_email_1_and_keeps_each_next_step_spaced() -> None:
    schedule = Schedule(date(2021, 4, 27), "UTC", time(9), time(17), (0, 7))
    people = [Candidate(eid, 1, NINE) for eid in range(1, 501)]
    seen = {500: Engagement(replies=1), 499: Engagement(clicks=3)}
    first_days = {eid: date(2021, 4, 27) for eid in range(1, 501)}
    sends = ramp_calendar(people, seen, first_days, schedule, RAMP, None, NINE)
    per_day = Counter((at.date(), step) for _, step, at in sends)
    day = date(2021, 4, 27)
    assert [per_day[(day + timedelta(n), 1)] for n in range(4)] == [100, 150, 225, 25]
    # day 7 allows 1708: email 2 of the first 100, spaced 7 days from their email 1
    assert per_day[(date(2021, 5, 4), 2)] == 100
    assert per_day[(date(2021, 5, 7), 2)] == 25
    first = {eid: at.date() for eid, step, at in sends if step == 1}
    assert first[500] == first[499] == first[98] == day  # the engaged ones, then the others
    assert first[99] == day + timedelta(1) and first[498] == day + timedelta(3)
    assert len(sends) == 1000


def test_the_line_a_launch_shows_says_where_the_ramp_stands() -> None:
    assert RAMP.describe(3, sent=True).startswith(
        "warm-up: day 3 of the sending domain's ramp allows 337, 506, 759, 1139... campaign"
        " emails a day (x1.5 a day, every campaign together; days in UTC)"
    )
    ahead = Ramp(100, 1.5, started=date(2021, 5, 1))
    assert "day 0 of the sending domain's ramp allows 100, 150," in ahead.describe(-4, sent=False)
    assert RAMP.describe(60, sent=True) == (
        "warm-up: the sending domain's ramp is over; nothing is held back"
    )
