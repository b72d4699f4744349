import pytest

from campaign_engine.audience.segments import (
    parse_outreach_mode,
    parse_segment,
    persona_for,
    segment_for,
)


@pytest.mark.parametrize(
    ("employees", "segment"), [(0, "SMB"), (99, "SMB"), (100, "MM"), (749, "MM"), (750, "ENT")]
)
def test_segment_boundaries(employees: int, segment: str) -> None:
    assert segment_for(employees) == segment


def test_large_and_strategic_are_ent() -> None:
    assert parse_segment("Large") == parse_segment("strategic") == "ENT"
    with pytest.raises(ValueError, match="unknown segment 'Huge'"):
        parse_segment("Huge")


@pytest.mark.parametrize(
    ("title", "persona"),
    [
        ("CISO", "management"),
        ("VP of Security", "management"),
        ("Director of Security", "management"),
        ("CTO", "management"),
        ("App/Dev Director", "management"),
        ("Chief Architect", "practitioner"),
        ("Software Engineer", "practitioner"),
        ("Developer", "practitioner"),
    ],
)
def test_persona_from_title(title: str, persona: str) -> None:
    assert persona_for(title) == persona


def test_outreach_mode() -> None:
    assert parse_outreach_mode("") == "C"
    assert parse_outreach_mode(" b ") == "B"
    with pytest.raises(ValueError):
        parse_outreach_mode("Z")
