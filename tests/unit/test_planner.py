from datetime import UTC, date, datetime, time

import pytest

from campaign_engine.sending.planner import Candidate, Schedule, parse_send_days, plan

SCHEDULE = Schedule(date(2021, 4, 27), "Europe/Berlin", time(9), time(17), (0, 7, 14))


def test_steps_are_due_on_their_day_at_the_window_start_in_the_campaign_zone() -> None:
    assert SCHEDULE.scheduled_at(1) == datetime(2021, 4, 27, 7, tzinfo=UTC)  # 09:00 CEST
    assert SCHEDULE.scheduled_at(3) == datetime(2021, 5, 11, 7, tzinfo=UTC)


def test_window_is_checked_in_local_time() -> None:
    assert not SCHEDULE.is_open(datetime(2021, 4, 27, 6, 59, tzinfo=UTC))
    assert SCHEDULE.is_open(datetime(2021, 4, 27, 7, 0, tzinfo=UTC))
    assert not SCHEDULE.is_open(datetime(2021, 4, 27, 15, 0, tzinfo=UTC))  # 17:00 local
    assert SCHEDULE.next_opening(datetime(2021, 4, 27, 16, tzinfo=UTC)) == datetime(
        2021, 4, 28, 7, tzinfo=UTC
    )


def test_a_late_step_pushes_the_next_one_back_by_the_full_spacing_in_local_days() -> None:
    late = datetime(2021, 4, 30, 10, tzinfo=UTC)  # step 1 went out 3 days late (12:00 CEST)
    assert SCHEDULE.next_due_at(2, late) == datetime(2021, 5, 7, 7, tzinfo=UTC)  # 09:00 local
    on_time = SCHEDULE.scheduled_at(1)
    assert SCHEDULE.next_due_at(2, on_time) == SCHEDULE.scheduled_at(2)
    assert SCHEDULE.next_due_at(4, on_time) is None


def test_the_spacing_counts_from_the_local_day_a_late_step_went_out_far_east() -> None:
    """23:30 UTC on June 2 is already June 3 in Sydney (+10) and Auckland (+12)."""
    late = datetime(2021, 6, 2, 23, 30, tzinfo=UTC)
    for tz, nine in (("Australia/Sydney", 23), ("Pacific/Auckland", 21)):
        due = SCHEDULE.next_due_at(2, late, tz, date(2021, 6, 1))
        assert due == datetime(2021, 6, 9, nine, tzinfo=UTC), tz  # June 10, 09:00 local


def test_plan_returns_due_candidates_oldest_first_and_respects_the_limit() -> None:
    now = datetime(2021, 5, 4, 8, tzinfo=UTC)
    candidates = [
        Candidate(1, 2, datetime(2021, 5, 4, 7, tzinfo=UTC)),
        Candidate(2, 1, datetime(2021, 4, 27, 7, tzinfo=UTC)),
        Candidate(3, 2, datetime(2021, 5, 4, 9, tzinfo=UTC)),  # not yet
    ]
    assert [(d.enrollment_id, d.step) for d in plan(candidates, SCHEDULE, now, 10).due] == [
        (2, 1),
        (1, 2),
    ]
    assert len(plan(candidates, SCHEDULE, now, 1).due) == 1
    evening = plan(candidates, SCHEDULE, datetime(2021, 5, 4, 20, tzinfo=UTC), 10)
    assert evening.due == []  # 22:00 in Berlin: the overdue ones wait for tomorrow's window
    assert evening.deferred == {
        1: datetime(2021, 5, 5, 7, tzinfo=UTC),
        2: datetime(2021, 5, 5, 7, tzinfo=UTC),
        3: datetime(2021, 5, 5, 7, tzinfo=UTC),
    }


def test_schedule_refuses_an_empty_window() -> None:
    with pytest.raises(ValueError, match="window_start"):
        Schedule(date(2021, 4, 27), "UTC", time(17), time(9), (0,))


def test_each_contact_is_planned_in_its_own_zone() -> None:
    utc = Schedule(date(2021, 4, 27), "UTC", time(9), time(17), (0, 7, 14))
    assert utc.scheduled_at(1, "America/New_York") == datetime(2021, 4, 27, 13, tzinfo=UTC)
    assert utc.scheduled_at(1, "Asia/Tokyo") == datetime(2021, 4, 27, 0, tzinfo=UTC)
    assert utc.scheduled_at(1, "Pacific/Auckland") == datetime(2021, 4, 26, 21, tzinfo=UTC)
    ny, tokyo = (
        Candidate(1, 1, utc.scheduled_at(1, "America/New_York"), "America/New_York"),
        (Candidate(2, 1, utc.scheduled_at(1, "Asia/Tokyo"), "Asia/Tokyo")),
    )
    at_14_utc = datetime(2021, 4, 27, 14, tzinfo=UTC)  # 10:00 in New York, 23:00 in Tokyo
    planned = plan([ny, tokyo], utc, at_14_utc, 10)
    assert [d.enrollment_id for d in planned.due] == [1]
    assert planned.deferred == {2: datetime(2021, 4, 28, 0, tzinfo=UTC)}


def test_the_spacing_is_local_calendar_days_across_dst() -> None:
    """Berlin springs forward on 2021-03-28: step 2 is still 09:00 local, seven days on."""
    berlin = Schedule(date(2021, 3, 23), "Europe/Berlin", time(9), time(17), (0, 7))
    sent = datetime(2021, 3, 23, 15, 59, tzinfo=UTC)  # 16:59 CET, just before the window ends
    assert berlin.next_due_at(2, sent) == datetime(2021, 3, 30, 7, tzinfo=UTC)  # 09:00 CEST
    # Auckland falls back on 2021-04-04 (UTC+13 -> UTC+12).
    auckland = Schedule(date(2021, 3, 30), "Pacific/Auckland", time(9), time(17), (0, 7))
    assert auckland.scheduled_at(1) == datetime(2021, 3, 29, 20, tzinfo=UTC)
    assert auckland.scheduled_at(2) == datetime(2021, 4, 5, 21, tzinfo=UTC)


def test_send_days_move_a_step_to_the_next_sending_day() -> None:
    weekdays = Schedule(
        date(2021, 4, 30), "UTC", time(9), time(17), (0, 1, 8), parse_send_days("mon-fri")
    )
    assert weekdays.scheduled_at(1).date() == date(2021, 4, 30)  # Friday
    assert weekdays.scheduled_at(2).date() == date(2021, 5, 3)  # Saturday -> Monday
    assert weekdays.scheduled_at(3).date() == date(2021, 5, 10)  # Saturday -> Monday
    assert not weekdays.is_open(datetime(2021, 5, 1, 10, tzinfo=UTC))
    assert weekdays.next_opening(datetime(2021, 5, 1, 10, tzinfo=UTC)) == datetime(
        2021, 5, 3, 9, tzinfo=UTC
    )
    assert parse_send_days("fri-mon") == frozenset({4, 5, 6, 0})
    with pytest.raises(ValueError, match="send_days"):
        parse_send_days("weekdays")


def test_a_late_joiner_starts_in_its_next_window() -> None:
    utc = Schedule(date(2021, 4, 27), "UTC", time(9), time(17), (0, 7, 14))
    assert utc.first_day_from(datetime(2021, 4, 29, 12, tzinfo=UTC), "Asia/Tokyo") == date(
        2021, 4, 30
    )  # 21:00 in Tokyo: tomorrow
    assert utc.first_day_from(datetime(2021, 4, 29, 12, tzinfo=UTC), "Europe/Berlin") == date(
        2021, 4, 29
    )  # 14:00 in Berlin: today
    assert utc.scheduled_at(2, "Asia/Tokyo", date(2021, 4, 30)) == datetime(
        2021, 5, 7, 0, tzinfo=UTC
    )
