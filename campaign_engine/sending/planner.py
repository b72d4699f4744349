"""PURE planning: which enrollments have a step due at `now`. No I/O, no clock reads."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = ["Candidate", "Due", "Schedule", "plan"]


@dataclass(frozen=True)
class Schedule:
    """When a campaign's steps go out: day offsets from the start, inside a daily window."""

    start_date: date
    timezone: str
    window_start: time
    window_end: time
    step_days: tuple[int, ...]

    def __post_init__(self) -> None:
        if self.window_start >= self.window_end:
            raise ValueError(f"window_start {self.window_start} must be before window_end")
        if not self.step_days:
            raise ValueError("step_days must not be empty")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def scheduled_at(self, step: int) -> datetime:
        """The earliest moment step `step` (1-based) may go out: its day, at the window start."""
        day = self.start_date + timedelta(days=self.step_days[step - 1])
        return datetime.combine(day, self.window_start, tzinfo=self.zone)

    def gap_before(self, step: int) -> timedelta:
        """The minimum spacing between step-1 and `step`."""
        return timedelta(days=self.step_days[step - 1] - self.step_days[step - 2])

    def next_due_at(self, step: int, previous_at: datetime | None) -> datetime | None:
        """When `step` becomes due, given when the previous step went out; None past the end.

        Never sooner than the schedule, nor sooner than the spacing after the previous step
        (after downtime, a late step 1 pushes step 2 back rather than sending both at once).
        """
        if step > len(self.step_days):
            return None
        due = self.scheduled_at(step)
        if step > 1 and previous_at is not None:
            due = max(due, previous_at + self.gap_before(step))
        return due

    def is_open(self, now: datetime) -> bool:
        """Is `now` inside the daily send window, in the campaign's time zone?"""
        local = now.astimezone(self.zone).time()
        return self.window_start <= local < self.window_end

    def next_opening(self, now: datetime) -> datetime:
        """The next moment the window is open (now, if it is open)."""
        if self.is_open(now):
            return now
        local = now.astimezone(self.zone)
        day = local.date() if local.time() < self.window_start else local.date() + timedelta(1)
        return datetime.combine(day, self.window_start, tzinfo=self.zone)


@dataclass(frozen=True)
class Candidate:
    """An active automated enrollment and the step it waits for."""

    enrollment_id: int
    next_step: int
    next_due_at: datetime


@dataclass(frozen=True)
class Due:
    enrollment_id: int
    step: int
    due_at: datetime


def plan(
    candidates: Iterable[Candidate], schedule: Schedule, now: datetime, limit: int
) -> list[Due]:
    """The steps to queue now: due ones, oldest first, at most `limit`, only inside the window."""
    if not schedule.is_open(now):
        return []
    due = [
        Due(c.enrollment_id, c.next_step, c.next_due_at)
        for c in candidates
        if c.next_due_at <= now and c.next_step <= len(schedule.step_days)
    ]
    due.sort(key=lambda d: (d.due_at, d.enrollment_id))
    return due[:limit]
