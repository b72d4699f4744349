"""IP prefixes, the recent-links window and contact-form cleaning: pure functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from campaign_engine.core.errors import InvalidInput
from campaign_engine.reps.contact_requests import RequestForm, clean_form
from campaign_engine.tracking.hits import RecentLinks, clean_user_agent, ip_prefix

T0 = datetime(2021, 4, 27, 9, tzinfo=UTC)


@pytest.mark.parametrize(
    ("address", "prefix"),
    [
        ("203.0.113.77", "203.0.113.0/24"),
        ("2001:db8:1234:5678::1", "2001:db8:1234::/48"),
        ("::ffff:198.51.100.9", "198.51.100.0/24"),
        ("not an ip", None),
        (None, None),
    ],
)
def test_ip_prefix_keeps_the_network_only(address: str | None, prefix: str | None) -> None:
    assert ip_prefix(address) == prefix


def test_user_agent_is_one_bounded_line() -> None:
    assert clean_user_agent("a\r\nb") == "a b"
    assert len(clean_user_agent("x" * 5000)) == 512
    assert clean_user_agent(None) == ""


def test_recent_links_counts_distinct_targets_within_the_span() -> None:
    recent = RecentLinks(timedelta(seconds=2))
    assert recent.add(1, ("click", 0), T0) == 1
    assert recent.add(1, ("click", 0), T0 + timedelta(seconds=0.5)) == 1
    assert recent.add(2, ("click", 0), T0 + timedelta(seconds=0.6)) == 1  # another message
    assert recent.add(1, ("contact_page", None), T0 + timedelta(seconds=1)) == 2
    assert recent.window_start(1, T0 + timedelta(seconds=1)) == T0
    assert recent.add(1, ("unsubscribe_page", None), T0 + timedelta(seconds=10)) == 1


def test_contact_form_is_cleaned_and_bounded() -> None:
    form = clean_form({"preferred_time": " Tue\r\n3pm\x00 ", "message": " hi\r\nthere\x07 "})
    assert form == RequestForm(message="hi\nthere", preferred_time="Tue 3pm")
    assert clean_form({}) == RequestForm()
    with pytest.raises(InvalidInput, match="at most 2000"):
        clean_form({"message": "x" * 2001})
    with pytest.raises(InvalidInput, match="preferred time"):
        clean_form({"preferred_time": "x" * 201})
