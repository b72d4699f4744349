"""PURE planning: which enrollments have a step due at `now`. No I/O, no clock reads.

Every date here is a *local calendar day* in the contact's time zone: step N goes out on
`first_day + (day_N - day_1)` (never sooner than `day_N - day_N-1` local days after step N-1
actually went out), inside the daily window in that zone, moved to the next sending day when
`send_days` leaves a weekday out. Only the resulting instant is converted to UTC, so a DST change
never moves a step to another local day or outside the window.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

__all__ = [
    "ALL_DAYS",
    "Candidate",
    "Due",
    "Plan",
    "Schedule",
    "parse_send_days",
    "plan",
    "zone",
]

_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ALL_DAYS: frozenset[int] = frozenset(range(7))


@lru_cache(maxsize=1024)  # 300 zones per tick: build each ZoneInfo once
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def parse_send_days(text: str) -> frozenset[int]:
    """'mon-fri', 'mon,wed,fri', 'tue-thu,sat' or '' (every day) -> weekday numbers (Mon = 0)."""
    cleaned = text.strip().lower()
    if not cleaned:
        return ALL_DAYS
    days: set[int] = set()
    for part in cleaned.split(","):
        first, _, last = part.strip().partition("-")
        try:
            start = _WEEKDAYS.index(first.strip()[:3])
            end = _WEEKDAYS.index(last.strip()[:3]) if last else start
        except ValueError:
            raise ValueError(f"send_days {text!r}: use days like mon-fri or mon,wed,fri") from None
        span = (end - start) % 7
        days.update((start + offset) % 7 for offset in range(span + 1))
    return frozenset(days)


@dataclass(frozen=True)
class Schedule:
    """When a campaign's steps go out: local day offsets from a first day, inside a daily window.

    `timezone` and `start_date` are the campaign's: they apply to a contact without a zone of
    its own and to everyone enrolled at launch.
    """

    start_date: date
    timezone: str
    window_start: time
    window_end: time
    step_days: tuple[int, ...]
    send_days: frozenset[int] = field(default=ALL_DAYS)

    def __post_init__(self) -> None:
        if self.window_start >= self.window_end:
            raise ValueError(f"window_start {self.window_start} must be before window_end")
        if not self.step_days:
            raise ValueError("step_days must not be empty")
        if not self.send_days:
            raise ValueError("send_days must name at least one weekday")
        zone(self.timezone)  # an unknown zone fails here, at launch

    @property
    def launch_first_day(self) -> date:
        """The local day of step 1 for contacts enrolled at launch."""
        return self.start_date + timedelta(days=self.step_days[0])

    def sending_day(self, day: date) -> date:
        """`day`, or the next day `send_days` allows."""
        while day.weekday() not in self.send_days:
            day += timedelta(days=1)
        return day

    def at_window_start(self, day: date, tz: str) -> datetime:
        """09:00 (the window start) of local `day` in `tz`, as UTC."""
        return datetime.combine(day, self.window_start, tzinfo=zone(tz)).astimezone(UTC)

    def local_day(
        self, step: int, first_day: date, tz: str, previous_at: datetime | None = None
    ) -> date:
        """The local calendar day step `step` (1-based) goes out."""
        offset = self.step_days[step - 1] - self.step_days[0]
        day = first_day + timedelta(days=offset)
        if step > 1 and previous_at is not None:
            gap = self.step_days[step - 1] - self.step_days[step - 2]
            day = max(day, previous_at.astimezone(zone(tz)).date() + timedelta(days=gap))
        return self.sending_day(day)

    def scheduled_at(
        self, step: int, tz: str | None = None, first_day: date | None = None
    ) -> datetime:
        """The earliest moment step `step` may go out: its local day, at the window start."""
        tz = tz or self.timezone
        day = self.local_day(step, first_day or self.launch_first_day, tz)
        return self.at_window_start(day, tz)

    def next_due_at(
        self,
        step: int,
        previous_at: datetime | None,
        tz: str | None = None,
        first_day: date | None = None,
    ) -> datetime | None:
        """When `step` becomes due, given when the previous step went out; None past the end.

        Never before its scheduled local day, nor sooner than the spacing (in local days) after
        the previous step: after downtime, a late step 1 pushes step 2 back rather than sending
        both at once.
        """
        if step > len(self.step_days):
            return None
        tz = tz or self.timezone
        day = self.local_day(step, first_day or self.launch_first_day, tz, previous_at)
        return self.at_window_start(day, tz)

    def is_open(self, now: datetime, tz: str | None = None) -> bool:
        """Is `now` inside the send window on a sending day, in `tz` (default: the campaign's)?"""
        local = now.astimezone(zone(tz or self.timezone))
        if local.weekday() not in self.send_days:
            return False
        return self.window_start <= local.time() < self.window_end

    def next_opening(self, now: datetime, tz: str | None = None) -> datetime:
        """The next moment the window is open in `tz` (now, if it is open)."""
        tz = tz or self.timezone
        if self.is_open(now, tz):
            return now
        local = now.astimezone(zone(tz))
        day = local.date() if local.time() < self.window_start else local.date() + timedelta(1)
        return self.at_window_start(self.sending_day(day), tz)

    def first_day_from(self, now: datetime, tz: str) -> date:
        """Step 1's local day for someone who joins at `now`: today if the window is still ahead
        or open, else the next sending day."""
        return self.next_opening(now, tz).astimezone(zone(tz)).date()


@dataclass(frozen=True)
class Candidate:
    """An active automated enrollment, the step it waits for, and its contact's zone."""

    enrollment_id: int
    next_step: int
    next_due_at: datetime
    timezone: str | None = None


@dataclass(frozen=True)
class Due:
    enrollment_id: int
    step: int
    due_at: datetime


@dataclass(frozen=True)
class Plan:
    """Steps to queue now, and overdue steps whose window has closed, moved to its next opening."""

    due: list[Due]
    deferred: dict[int, datetime]


def plan(candidates: Iterable[Candidate], schedule: Schedule, now: datetime, limit: int) -> Plan:
    """The steps to queue now: due ones, oldest first, at most `limit`, only inside each
    contact's local window. A due step whose window is closed now (downtime, or the per-tick cap
    reached) is deferred to its next opening, so it never blocks the head of the queue."""
    due: list[Due] = []
    deferred: dict[int, datetime] = {}
    for c in candidates:
        if c.next_due_at > now or c.next_step > len(schedule.step_days):
            continue
        if schedule.is_open(now, c.timezone):
            due.append(Due(c.enrollment_id, c.next_step, c.next_due_at))
        else:
            deferred[c.enrollment_id] = schedule.next_opening(now, c.timezone)
    due.sort(key=lambda d: (d.due_at, d.enrollment_id))
    return Plan(due[:limit], deferred)
