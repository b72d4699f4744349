"""IP prefixes, the recent-links window and contact-form cleaning: pure functions."""

from __future__ import annotations

import random
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


def test_recent_links_knows_a_target_hit_within_the_span() -> None:
    recent = RecentLinks(timedelta(seconds=2))
    assert not recent.has(1, ("click", 0), T0)
    recent.add(1, ("click", 0), T0)
    assert recent.has(1, ("click", 0), T0 + timedelta(seconds=2))
    assert not recent.has(1, ("click", 0), T0 + timedelta(seconds=2.001))  # the span has passed
    assert not recent.has(1, ("click", 1), T0)  # another link
    assert not recent.has(2, ("click", 0), T0)  # another message


class _EveryHit:
    """The window by definition: every hit kept, each count a scan (pruned like RecentLinks)."""

    def __init__(self, span: timedelta) -> None:
        self.span = span
        self.hits: dict[int, list[tuple[tuple[str, int | None], datetime]]] = {}
        self.pruned: datetime | None = None

    def add(self, message_id: int, target: tuple[str, int | None], at: datetime) -> int:
        if self.pruned is None or at - self.pruned > self.span:
            self.pruned = at
            for seen in self.hits.values():
                while seen and at - seen[0][1] > self.span:
                    seen.pop(0)
        seen = self.hits.setdefault(message_id, [])
        seen.append((target, at))
        return len({t for t, when in seen if at - when <= self.span})

    def window_start(self, message_id: int, at: datetime) -> datetime:
        hits = self.hits.get(message_id, [])
        return min((when for _, when in hits if at - when <= self.span), default=at)


def test_recent_links_agrees_with_scanning_every_hit() -> None:
    rng = random.Random(7)
    span = timedelta(seconds=2)
    recent, reference = RecentLinks(span), _EveryHit(span)
    targets = [("click", 0), ("click", 1), ("contact_page", None), ("unsubscribe_page", None)]
    clock = T0
    for _ in range(20_000):
        clock += timedelta(milliseconds=rng.choice([0, 1, 10, 300, 1000, 1999, 2000, 2001]))
        at = clock - timedelta(milliseconds=rng.choice([0, 0, 0, 1, 50, 500]))  # not in order
        message_id, target = rng.randrange(5), rng.choice(targets)
        assert recent.add(message_id, target, at) == reference.add(message_id, target, at)
        assert recent.window_start(message_id, at) == reference.window_start(message_id, at)


def test_contact_form_is_cleaned_and_bounded() -> None:
    form = clean_form({"preferred_time": " Tue\r\n3pm\x00 ", "message": " hi\r\nthere\x07 "})
    assert form == RequestForm(message="hi\nthere", preferred_time="Tue 3pm")
    assert clean_form({}) == RequestForm()
    with pytest.raises(InvalidInput, match="at most 2000"):
        clean_form({"message": "x" * 2001})
    with pytest.raises(InvalidInput, match="preferred time"):
        clean_form({"preferred_time": "x" * 201})
