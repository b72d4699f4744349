from datetime import UTC, date, datetime, time, timedelta

import pytest

from campaign_engine.sending.planner import Candidate, Schedule, plan

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


def test_a_late_step_pushes_the_next_one_back_by_the_full_spacing() -> None:
    late = datetime(2021, 4, 30, 10, tzinfo=UTC)  # step 1 went out 3 days late
    assert SCHEDULE.next_due_at(2, late) == late + timedelta(days=7)
    on_time = SCHEDULE.scheduled_at(1)
    assert SCHEDULE.next_due_at(2, on_time) == SCHEDULE.scheduled_at(2)
    assert SCHEDULE.next_due_at(4, on_time) is None


def test_plan_returns_due_candidates_oldest_first_and_respects_the_limit() -> None:
    now = datetime(2021, 5, 4, 8, tzinfo=UTC)
    candidates = [
        Candidate(1, 2, datetime(2021, 5, 4, 7, tzinfo=UTC)),
        Candidate(2, 1, datetime(2021, 4, 27, 7, tzinfo=UTC)),
        Candidate(3, 2, datetime(2021, 5, 4, 9, tzinfo=UTC)),  # not yet
    ]
    assert [(d.enrollment_id, d.step) for d in plan(candidates, SCHEDULE, now, 10)] == [
        (2, 1),
        (1, 2),
    ]
    assert len(plan(candidates, SCHEDULE, now, 1)) == 1
    assert plan(candidates, SCHEDULE, datetime(2021, 5, 4, 20, tzinfo=UTC), 10) == []


def test_schedule_refuses_an_empty_window() -> None:
    with pytest.raises(ValueError, match="window_start"):
        Schedule(date(2021, 4, 27), "UTC", time(17), time(9), (0,))
