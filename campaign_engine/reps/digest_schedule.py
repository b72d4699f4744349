"""When a rep's engagement digest is due: PURE (takes `now`, reads no clock, touches no database)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from campaign_engine.core.errors import CampaignEngineError
from campaign_engine.core.kinds import DigestMode

__all__ = [
    "DEFAULT_PREFERENCE",
    "WEEKDAYS",
    "Preference",
    "ScheduleError",
    "digest_due",
    "format_weekdays",
    "last_slot",
    "parse_weekdays",
    "rep_zone",
]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # datetime.weekday() order


class ScheduleError(CampaignEngineError, ValueError):
    """A digest schedule setting is invalid; the message names it and the accepted values."""


@dataclass(frozen=True)
class Preference:
    """A rep's digest schedule; weekdays are datetime.weekday() numbers (Monday is 0)."""

    mode: DigestMode = DigestMode.SCHEDULED
    hour: int = 8
    weekdays: tuple[int, ...] = (0, 1, 2, 3, 4)

    def __post_init__(self) -> None:
        if not 0 <= self.hour <= 23:
            raise ScheduleError(f"hour must be 0-23, got {self.hour}")
        if not self.weekdays or any(not 0 <= d <= 6 for d in self.weekdays):
            raise ScheduleError(f"weekdays must be a non-empty set of 0-6, got {self.weekdays}")


DEFAULT_PREFERENCE = Preference()


def parse_weekdays(text: str) -> tuple[int, ...]:
    """Day names, ranges and lists into weekday numbers.

    >>> parse_weekdays("mon-fri"), parse_weekdays("mon,wed,fri"), parse_weekdays("fri-mon")
    ((0, 1, 2, 3, 4), (0, 2, 4), (0, 4, 5, 6))
    """
    cleaned = text.strip().lower()
    if cleaned in ("daily", "all", "every day"):
        return tuple(range(7))
    days: set[int] = set()
    for part in (p.strip() for p in cleaned.split(",")):
        first, _, last = part.partition("-")
        start, end = _day(first, text), _day(last or first, text)
        span = (end - start) % 7
        days.update((start + offset) % 7 for offset in range(span + 1))
    return tuple(sorted(days))


def format_weekdays(days: tuple[int, ...]) -> str:
    """The shortest spelling: 'mon-fri', 'daily', or a list like 'mon,wed,fri'."""
    if len(days) == 7:
        return "daily"
    if days == tuple(range(days[0], days[-1] + 1)) and len(days) > 2:
        return f"{WEEKDAYS[days[0]]}-{WEEKDAYS[days[-1]]}"
    return ",".join(WEEKDAYS[d] for d in days)


def rep_zone(name: str) -> ZoneInfo:
    """The rep's time zone, UTC when the stored name is empty or unknown."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def last_slot(pref: Preference, rep_tz: ZoneInfo, now: datetime) -> datetime | None:
    """The latest scheduled moment at or before `now` (aware), None if there was none this week."""
    local = now.astimezone(rep_tz)
    for back in range(8):
        day = local.date() - timedelta(days=back)
        if day.weekday() not in pref.weekdays:
            continue
        # Wall-clock time in the rep's zone; across DST the UTC offset of that day applies.
        slot = datetime.combine(day, time(pref.hour), tzinfo=rep_tz)
        if slot <= now:
            return slot
    return None


def digest_due(
    pref: Preference, rep_tz: ZoneInfo, last_sent_at: datetime | None, now: datetime
) -> bool:
    """Whether a digest should be put together at `now`.

    `last_sent_at` is when the previous digest run for this rep happened (sent or found nothing).
    Scheduled: due once the latest slot (hour on a chosen weekday, rep's wall clock) has passed
    and no digest ran since; after downtime the missed slot is caught up once, not repeatedly.
    """
    if pref.mode == DigestMode.OFF:
        return False
    if pref.mode == DigestMode.IMMEDIATE:
        return True
    slot = last_slot(pref, rep_tz, now)
    if slot is None:
        return False
    return last_sent_at is None or last_sent_at < slot


def _day(name: str, original: str) -> int:
    key = name.strip()[:3]
    if key not in WEEKDAYS:
        raise ScheduleError(
            f"unknown weekday {name.strip()!r} in {original!r} (use mon..sun, ranges like mon-fri, "
            "lists like mon,wed,fri, or daily)"
        )
    return WEEKDAYS.index(key)
