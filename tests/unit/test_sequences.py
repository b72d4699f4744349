import json
from pathlib import Path

import pytest

from campaign_engine.core.errors import SequenceError
from campaign_engine.sending.sequences import SNAPSHOT_FORMAT, Sequence, load_sequence, with_utm

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_sequences_load_and_carry_the_plays_utm_parameters() -> None:
    sequence = load_sequence(ROOT / "sequences", "premium-to-ultimate")
    assert [s.subject for s in sequence.steps] == [
        "Interested in speed and security?",
        "Learn how to deploy to production 6x faster",
        "No more afterthought security",
    ]
    assert [s.day for s in sequence.steps] == [0, 7, 14]
    chorus = sequence.step(2).offers[0].url
    assert chorus == (
        "https://learn.gitlab.com/c/chorus-gitlab?x=h7zzhf&utm_medium=email&utm_source=gmail"
        "&utm_campaign=premtoultimatesp&utm_content=choruscasestudy"
    )
    assert Sequence.from_json(sequence.to_json()) == sequence


def test_personas_sequence_picks_the_offer_by_persona() -> None:
    sequence = load_sequence(ROOT / "sequences", "premium-to-ultimate-personas")
    step = sequence.step(1)
    assert step.offer_for("management").name == "CI the new frontier for Security pros"  # type: ignore[union-attr]
    assert step.offer_for("practitioner").name == "A Developer's Guide to Application Security"  # type: ignore[union-attr]


def test_utm_parameters_already_in_the_url_win() -> None:
    assert with_utm(
        "https://x.example/a?utm_source=own", {"utm_source": "gmail", "utm_medium": "email"}
    ) == ("https://x.example/a?utm_source=own&utm_medium=email")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('name = "x"\n[[steps]\n', r"bad\.toml: .*line 2"),
        ('name = "x"\n[[steps]]\nday = 0\n', r"bad\.toml: steps\[1\]\.subject is missing"),
        ('name = "x"\n[[steps]]\nday = -1\nsubject = "s"\n', r"steps\[1\]\.day must be"),
        (
            'name = "x"\n[[steps]]\nday = 7\nsubject = "a"\n[[steps]]\nday = 0\nsubject = "b"\n',
            "steps must be in day order",
        ),
        (
            'name = "x"\n[[steps]]\nday = 0\nsubject = "s"\n[[steps.offers]]\nname = "o"\nurl = "javascript:x"\n',
            r"steps\[1\]\.offers\[1\]\.url must be an http\(s\) URL",
        ),
    ],
)
def test_malformed_sequences_are_refused_with_file_and_field(
    tmp_path: Path, text: str, message: str
) -> None:
    (tmp_path / "bad.toml").write_text(text)
    with pytest.raises(SequenceError, match=message):
        load_sequence(tmp_path, "bad")


def test_unknown_sequence_lists_the_known_ones() -> None:
    with pytest.raises(
        SequenceError, match="known: premium-to-ultimate, premium-to-ultimate-personas"
    ):
        load_sequence(ROOT / "sequences", "nope")


def test_a_campaign_snapshot_says_its_format_and_an_unknown_one_is_refused() -> None:
    sequence = load_sequence(ROOT / "sequences", "premium-to-ultimate")
    snapshot = json.loads(sequence.to_json())
    assert snapshot["format"] == SNAPSHOT_FORMAT
    assert Sequence.from_json(sequence.to_json()) == sequence
    legacy = {k: v for k, v in snapshot.items() if k != "format"}
    assert Sequence.from_json(json.dumps(legacy)) == sequence
    with pytest.raises(SequenceError, match="format 99"):
        Sequence.from_json(json.dumps({**snapshot, "format": 99}))
