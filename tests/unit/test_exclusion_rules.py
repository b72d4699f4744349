"""Pure parts of exclusions: what a cell means, and when an upload is late."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from campaign_engine.audience.exclusions import is_late, parse_target
from campaign_engine.sending.eligibility import ExclusionRule


@pytest.mark.parametrize(
    ("cell", "parsed"),
    [
        ("Ada@Tiny.Example ", ("ada@tiny.example", None)),
        ("@Acme.Example", (None, "acme.example")),
        ("acme.example", (None, "acme.example")),
        (" sub.acme.example.", (None, "sub.acme.example")),
    ],
)
def test_parse_target(cell: str, parsed: tuple[str | None, str | None]) -> None:
    assert parse_target(cell) == parsed


@pytest.mark.parametrize("cell", ["email", "not an address", "@", "a@@b.example", "-x.example"])
def test_parse_target_rejects(cell: str) -> None:
    with pytest.raises(ValueError):
        parse_target(cell)


def test_deadline_day_counts_in_the_campaign_time_zone() -> None:
    friday = date(2021, 4, 23)
    late_utc = datetime(2021, 4, 24, 2, tzinfo=UTC)  # still Friday evening in New York
    assert not is_late(friday, late_utc, "America/New_York")
    assert is_late(friday, late_utc, "UTC")
    assert not is_late(friday, datetime(2021, 4, 23, 23, 59, tzinfo=UTC), "UTC")


ACME = ExclusionRule(email=None, domain="acme.example", campaign_id=None, reason="partner")


@pytest.mark.parametrize(
    ("email", "excluded"),
    [
        ("ada@acme.example", True),
        ("ada@notacme.example", False),  # ends with the domain, is another domain
        ("ada@acme.example.evil", False),  # starts with it
        ("acme.example@other.example", False),  # the domain in the local part
        ("ada@sales.acme.example", False),  # a subdomain is a domain of its own: its own row
        ("ada@acme.examples", False),
    ],
)
def test_a_domain_exclusion_matches_that_domain_exactly(email: str, excluded: bool) -> None:
    assert ACME.matches(email, campaign_id=1) is excluded


def test_a_domain_exclusion_scoped_to_a_campaign_leaves_others_alone() -> None:
    scoped = ExclusionRule(email=None, domain="acme.example", campaign_id=2, reason="")
    assert scoped.matches("ada@acme.example", campaign_id=2)
    assert not scoped.matches("ada@acme.example", campaign_id=1)
