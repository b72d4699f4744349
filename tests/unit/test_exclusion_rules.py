"""Pure parts of exclusions: what a cell means, and when an upload is late."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from campaign_engine.audience.exclusions import is_late, parse_target


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
