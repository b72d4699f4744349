"""The per-contact frequency cap's pure rule: when may one more marketing email go out?"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from campaign_engine.core.config import load_settings
from campaign_engine.core.errors import ConfigError
from campaign_engine.sending.eligibility import CAP_WINDOW, frequency_cap_until

NOW = datetime(2021, 5, 4, 9, tzinfo=UTC)


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def test_under_the_cap_sends_now() -> None:
    assert frequency_cap_until([], NOW, cap=2) is None
    assert frequency_cap_until([days_ago(1)], NOW, cap=2) is None


def test_at_the_cap_waits_until_the_oldest_send_leaves_the_week() -> None:
    sends = [days_ago(1), days_ago(6.5)]
    assert frequency_cap_until(sends, NOW, cap=2) == days_ago(6.5) + CAP_WINDOW
    assert frequency_cap_until(list(reversed(sends)), NOW, cap=2) == NOW + timedelta(hours=12)


def test_sends_older_than_the_week_do_not_count() -> None:
    assert frequency_cap_until([days_ago(7), days_ago(8), days_ago(1)], NOW, cap=2) is None
    # exactly 7 days ago has just left the window
    assert frequency_cap_until([days_ago(7), days_ago(2)], NOW, cap=2) is None


def test_over_the_cap_waits_until_only_cap_minus_one_remain() -> None:
    # a rep sent one more on top of two automated: the 2nd oldest must leave too
    sends = [days_ago(5), days_ago(3), days_ago(1)]
    assert frequency_cap_until(sends, NOW, cap=2) == days_ago(3) + CAP_WINDOW
    assert frequency_cap_until(sends, NOW, cap=1) == days_ago(1) + CAP_WINDOW
    assert frequency_cap_until(sends, NOW, cap=3) == days_ago(5) + CAP_WINDOW
    assert frequency_cap_until(sends, NOW, cap=4) is None


def test_the_answer_is_always_in_the_future_and_then_allowed() -> None:
    sends = [days_ago(6), days_ago(4), days_ago(0.5)]
    until = frequency_cap_until(sends, NOW, cap=2)
    assert until is not None and until > NOW
    assert frequency_cap_until(sends, until, cap=2) is None


def test_zero_means_no_cap() -> None:
    assert frequency_cap_until([days_ago(d / 10) for d in range(50)], NOW, cap=0) is None


def test_config_key(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('secret = "s"\n')
    assert load_settings(config, environ={}).max_marketing_per_week == 2
    env = {"CAMPAIGN_MAX_MARKETING_PER_WEEK": "0"}
    assert load_settings(config, environ=env).max_marketing_per_week == 0
    config.write_text('secret = "s"\nmax_marketing_per_week = -1\n')
    with pytest.raises(ConfigError, match="max_marketing_per_week"):
        load_settings(config, environ={})
