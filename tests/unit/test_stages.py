"""Sales stage names as ops type them."""

from __future__ import annotations

import pytest

from campaign_engine.reporting.stages import STAGES, parse_stage, stage_label


@pytest.mark.parametrize(
    ("text", "stage"),
    [
        ("0", 0),
        ("1", 1),
        ("1 - Discovery", 1),
        ("1-Discovery", 1),
        ("  discovery ", 1),
        ("SAO", 1),
        ("Technical Evaluation", 3),
        ("6 - Awaiting Signature", 6),
        ("7-Closed Won", 7),
        ("closed won", 7),
        ("8", 8),
        ("Lost", 8),
    ],
)
def test_parse_stage(text: str, stage: int) -> None:
    assert parse_stage(text) == stage


@pytest.mark.parametrize("text", ["9", "-1", "1 - Scoping", "Qualified", ""])
def test_unknown_stages_name_the_choices(text: str) -> None:
    with pytest.raises(
        ValueError, match=r"is not a sales stage \(one of: 0 - Pending Acceptance, "
    ):
        parse_stage(text)


def test_the_nine_stages_of_the_seed() -> None:
    assert [stage_label(n) for n in range(len(STAGES))] == [
        "0 - Pending Acceptance",
        "1 - Discovery",
        "2 - Scoping",
        "3 - Technical Evaluation",
        "4 - Proposal",
        "5 - Negotiating",
        "6 - Awaiting Signature",
        "7 - Closed Won",
        "8 - Lost",
    ]
