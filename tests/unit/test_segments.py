import pytest

from campaign_engine.audience.segments import (
    automated_channel,
    expand_segments,
    parse_outreach_mode,
    parse_segment,
    persona_for,
    segment_for,
)


@pytest.mark.parametrize(
    ("employees", "segment"),
    [
        (0, "SMB"),
        (99, "SMB"),
        (100, "MM"),
        (749, "MM"),
        (750, "Large"),
        (4999, "Large"),
        (5000, "Strategic"),
    ],
)
def test_segment_boundaries(employees: int, segment: str) -> None:
    assert segment_for(employees) == segment


def test_large_and_strategic_are_apart_and_ent_is_told_by_employees() -> None:
    assert (parse_segment("large"), parse_segment("Strategic")) == ("Large", "Strategic")
    assert parse_segment("ENT", 5000) == parse_segment("Enterprise", 80000) == "Strategic"
    assert parse_segment("ENT", 750) == parse_segment("ent", None) == "Large"
    with pytest.raises(ValueError, match="unknown segment 'Huge'"):
        parse_segment("Huge")


def test_a_sequence_s_ent_stands_for_large_and_strategic() -> None:
    assert expand_segments(["SMB", "ENT"]) == ("SMB", "Large", "Strategic")
    assert expand_segments(["Large", "enterprise"]) == ("Large", "Strategic")
    with pytest.raises(ValueError):
        expand_segments(["Huge"])


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


def test_a_blank_mode_is_the_segments_default_and_c_automates_any_segment() -> None:
    assert [parse_outreach_mode("", s) for s in ("SMB", "MM", "Large", "Strategic")] == [
        "C",
        "B",
        "B",
        "B",
    ]
    assert parse_outreach_mode("C", "Strategic") == "C"
    assert automated_channel("C", "SMB", ("SMB",)) and automated_channel("C", "MM", ("SMB",))
    assert not automated_channel("B", "SMB", ("SMB",))
    assert not automated_channel("C", "SMB", ("MM",)), "the sequence decides for SMB's default"
