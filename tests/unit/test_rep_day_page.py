"""My day's count of reminders due: the oldest shown, of a count that stopped at the cap."""

from __future__ import annotations

from campaign_engine.reporting.search import COUNT_CAP
from campaign_engine.web.rep_day_page import NEXT_REMINDERS, reminders_due


def test_a_count_past_the_cap_says_so_and_a_short_list_is_just_its_number() -> None:
    assert reminders_due(NEXT_REMINDERS, COUNT_CAP + 1) == "the oldest 25 of 1,000+"
    assert reminders_due(NEXT_REMINDERS, COUNT_CAP) == "the oldest 25 of 1,000"
    assert reminders_due(NEXT_REMINDERS, 300) == "the oldest 25 of 300"
    assert reminders_due(3, 3) == "3"
    assert reminders_due(0, 0) == "0"
