"""The brakes' rule on its own: which windows pause, which warn, and what the line says."""

from __future__ import annotations

import pytest

from campaign_engine.sending.brake_rule import BrakeLimits, Level, Tally, judge

DEFAULTS = BrakeLimits()  # window 500, min_sends 100, 5% bounces, 0.3% complaints


@pytest.mark.parametrize(
    ("tally", "level"),
    [
        (Tally(500), Level.OK),
        (Tally(500, bounces=12), Level.OK),  # 2.4%: not above half of 5%
        (Tally(500, bounces=13), Level.WARNING),  # 2.6%
        (Tally(500, bounces=24), Level.WARNING),  # 4.8%
        (Tally(500, bounces=25), Level.PAUSE),  # 5%: at the limit pauses
        (Tally(3, bounces=1), Level.OK),  # 1 of the minimum 100: not 33%
        (Tally(40, bounces=5), Level.PAUSE),  # 5 of the minimum 100, early in a campaign
        (Tally(500, complaints=1), Level.WARNING),  # 0.2%
        (Tally(500, complaints=2), Level.PAUSE),  # 0.4%
        (Tally(100, complaints=1), Level.PAUSE),  # 1%
    ],
)
def test_levels(tally: Tally, level: Level) -> None:
    assert judge(tally, DEFAULTS).level == level


def test_the_pause_line_says_what_how_much_against_what_and_what_to_check() -> None:
    reading = judge(Tally(500, bounces=27), DEFAULTS)
    assert reading.reason == (
        "27 hard bounces in the last 500 sends (5.4% ≥ 5%) — check the list source"
    )
    assert reading.bounce_rate == pytest.approx(0.054)
    early = judge(Tally(62, bounces=5), DEFAULTS, " from example.com")
    assert early.reason == (
        "5 hard bounces in the last 62 sends from example.com (5% of the minimum 100 ≥ 5%)"
        " — check the list source"
    )
    complaint = judge(Tally(500, complaints=2), DEFAULTS)
    assert complaint.reason == (
        "2 spam complaints in the last 500 sends (0.4% ≥ 0.3%)"
        " — check who is mailed and what they are sent"
    )


def test_a_warning_says_where_it_would_pause_and_a_pause_outranks_it() -> None:
    warning = judge(Tally(500, bounces=14), DEFAULTS)
    assert warning.reason == "14 hard bounces in the last 500 sends (2.8% pauses at 5%)"
    both = judge(Tally(500, bounces=14, complaints=2), DEFAULTS)
    assert both.level == Level.PAUSE and both.reason.startswith("2 spam complaints")


def test_a_limit_of_zero_never_pauses() -> None:
    off = BrakeLimits(bounce_rate=0.0, complaint_rate=0.0)
    assert judge(Tally(100, bounces=100, complaints=100), off).level == Level.OK
