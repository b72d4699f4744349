"""digest_due: weekdays at the rep's hour on the rep's wall clock, across DST, with catch-up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from campaign_engine.core.kinds import DigestMode
from campaign_engine.reps.digest_schedule import (
    DEFAULT_PREFERENCE,
    Preference,
    digest_due,
    format_weekdays,
    last_slot,
    parse_weekdays,
    rep_zone,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_weekday_0800_in_the_reps_zone() -> None:
    # Wed 2021-04-28: 08:00 in Berlin (CEST, UTC+2) is 06:00 UTC.
    assert not digest_due(DEFAULT_PREFERENCE, BERLIN, utc(2021, 4, 27, 6), utc(2021, 4, 28, 5, 59))
    assert digest_due(DEFAULT_PREFERENCE, BERLIN, utc(2021, 4, 27, 6), utc(2021, 4, 28, 6))
    # The same moment is still 02:00 in New York: not due there until 12:00 UTC.
    assert not digest_due(DEFAULT_PREFERENCE, NEW_YORK, utc(2021, 4, 27, 12), utc(2021, 4, 28, 6))
    assert digest_due(DEFAULT_PREFERENCE, NEW_YORK, utc(2021, 4, 27, 12), utc(2021, 4, 28, 12))


def test_once_per_slot() -> None:
    ran = utc(2021, 4, 28, 6, 1)
    assert not digest_due(DEFAULT_PREFERENCE, BERLIN, ran, utc(2021, 4, 28, 15))
    assert not digest_due(DEFAULT_PREFERENCE, BERLIN, ran, utc(2021, 4, 29, 5, 59))
    assert digest_due(DEFAULT_PREFERENCE, BERLIN, ran, utc(2021, 4, 29, 6))


def test_weekends_are_skipped_and_downtime_is_caught_up_once() -> None:
    friday = utc(2021, 4, 30, 6)
    assert not digest_due(DEFAULT_PREFERENCE, BERLIN, friday, utc(2021, 5, 1, 9))  # Saturday
    assert not digest_due(DEFAULT_PREFERENCE, BERLIN, friday, utc(2021, 5, 2, 9))  # Sunday
    assert digest_due(DEFAULT_PREFERENCE, BERLIN, friday, utc(2021, 5, 3, 6))  # Monday
    # Down from Monday to Thursday afternoon: one catch-up digest, then back on schedule.
    monday = utc(2021, 5, 3, 6)
    assert digest_due(DEFAULT_PREFERENCE, BERLIN, monday, utc(2021, 5, 6, 14))
    assert not digest_due(DEFAULT_PREFERENCE, BERLIN, utc(2021, 5, 6, 14), utc(2021, 5, 6, 16))


def test_first_digest_is_due_at_the_first_slot() -> None:
    assert digest_due(DEFAULT_PREFERENCE, BERLIN, None, utc(2021, 4, 28, 6))
    assert last_slot(DEFAULT_PREFERENCE, BERLIN, utc(2021, 5, 2, 23)) == utc(2021, 4, 30, 6)


@pytest.mark.parametrize(
    ("zone", "before", "slot"),
    [
        # New York springs forward on Sun 2021-03-14: Monday's 08:00 is 12:00 UTC, not 13:00.
        (NEW_YORK, utc(2021, 3, 12, 13), utc(2021, 3, 15, 12)),
        # Berlin falls back on Sun 2021-10-31: Monday's 08:00 is 07:00 UTC, not 06:00.
        (BERLIN, utc(2021, 10, 29, 6), utc(2021, 11, 1, 7)),
    ],
)
def test_dst_keeps_the_wall_clock_hour(zone: ZoneInfo, before: datetime, slot: datetime) -> None:
    assert not digest_due(DEFAULT_PREFERENCE, zone, before, slot - timedelta(minutes=1))
    assert digest_due(DEFAULT_PREFERENCE, zone, before, slot)
    assert last_slot(DEFAULT_PREFERENCE, zone, slot) == slot
    assert slot.astimezone(zone).hour == 8


def test_modes_and_custom_schedule() -> None:
    now = utc(2021, 4, 28, 6)
    assert not digest_due(Preference(mode=DigestMode.OFF), BERLIN, None, now)
    assert digest_due(Preference(mode=DigestMode.IMMEDIATE), BERLIN, now, now)
    mondays_at_7 = Preference(hour=7, weekdays=(0,))
    assert not digest_due(mondays_at_7, BERLIN, utc(2021, 4, 26, 5), now)  # Wednesday
    assert digest_due(mondays_at_7, BERLIN, utc(2021, 4, 26, 5), utc(2021, 5, 3, 5))


def test_weekday_parsing() -> None:
    assert parse_weekdays("mon-fri") == (0, 1, 2, 3, 4)
    assert parse_weekdays("Mon, Wed ,fri") == (0, 2, 4)
    assert parse_weekdays("sat-mon") == (0, 5, 6)
    assert parse_weekdays("daily") == tuple(range(7))
    assert parse_weekdays("tuesday") == (1,)
    assert format_weekdays((0, 1, 2, 3, 4)) == "mon-fri"
    assert format_weekdays((0, 2, 4)) == "mon,wed,fri"
    assert format_weekdays(tuple(range(7))) == "daily"
    with pytest.raises(ValueError, match="unknown weekday 'funday'"):
        parse_weekdays("mon,funday")
    with pytest.raises(ValueError, match="hour must be 0-23"):
        Preference(hour=24)


def test_unknown_zone_falls_back_to_utc() -> None:
    assert rep_zone("Mars/Olympus") == ZoneInfo("UTC")
    assert rep_zone("") == ZoneInfo("UTC")
