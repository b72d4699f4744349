"""The [personas] table of the sequence files: real-world titles and the persona each gets."""

import json
from pathlib import Path

import pytest

from campaign_engine.audience.segments import DEFAULT_PERSONA_TABLE, DEFAULT_ROLE_TABLE, persona_for
from campaign_engine.core.errors import SequenceError
from campaign_engine.sending.sequences import Sequence, load_sequence

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ("premium-to-ultimate", "premium-to-ultimate-personas")
M, P = "management", "practitioner"

TITLES = [
    # Leaders by rank: manager/head/director/VP/founder win over engineer/developer/architect.
    ("Engineering Manager", M),
    ("DevOps Manager", M),
    ("Sr. Manager, Software Engineering", M),
    ("Software Engineering Manager", M),
    ("App Dev Manager", M),
    ("Security Manager", M),
    ("IT Manager", M),
    ("Product Manager", M),
    ("Head of Platform", M),
    ("Head of Engineering", M),
    ("Director of Engineering", M),
    ("Sr Director, Platform Engineering", M),
    ("IT Director", M),
    ("App/Dev Director", M),
    ("Infrastructure Engineering Director", M),
    ("Release and Change Management Director", M),
    ("Director of Security", M),
    ("VP Engineering", M),
    ("VP, Engineering", M),
    ("VP of Security", M),
    ("SVP Technology", M),
    ("Vice President of Information Technology", M),
    ("Founder", M),
    ("Co-Founder & CTO", M),
    ("Owner", M),
    # C-level, by acronym or as a chief ... officer.
    ("CISO", M),
    ("CTO", M),
    ("CIO", M),
    ("Chief Information Security Officer", M),
    ("Chief Technology Officer", M),
    ("Information Security Officer", M),
    # Security and IT titles that are neither a rank nor a builder's: the play's buyers.
    ("Information Security", M),
    ("IT Security Specialist", M),
    ("Compliance Lead", M),
    # People who build: engineer/developer/architect/SRE... (staff, principal, lead are not ranks).
    ("Staff Engineer", P),
    ("Principal Engineer", P),
    ("Senior Software Engineer", P),
    ("Software Engineer", P),
    ("Security Engineer", P),
    ("Application Security Engineer", P),
    ("DevOps Engineer", P),
    ("Platform Engineer", P),
    ("SRE", P),
    ("Site Reliability Engineer", P),
    ("Developer", P),
    ("Full Stack Developer", P),
    ("Developer Advocate", P),
    ("Principal Architect", P),
    ("Chief Architect", P),
    ("Solutions Architect", P),
    ("Security Analyst", P),
    ("Systems Administrator", P),
    ("IT Admin", P),
    ("Data Scientist", P),
    ("QA Tester", P),
    # Nothing matches: the default.
    ("Team Lead", P),
    ("Tech Lead", P),
    ("Scrum Master", P),
    ("", P),
]


def test_at_least_forty_titles_are_checked() -> None:
    assert len(TITLES) >= 40
    assert len({title for title, _ in TITLES}) == len(TITLES)


@pytest.mark.parametrize("key", SHIPPED)
@pytest.mark.parametrize(("title", "persona"), TITLES)
def test_the_sequence_table_gives_each_title_its_persona(
    key: str, title: str, persona: str
) -> None:
    sequence = load_sequence(ROOT / "sequences", key)
    assert sequence.persona_for(title) == persona


@pytest.mark.parametrize(("title", "persona"), TITLES)
def test_callers_without_a_sequence_get_the_shipped_rule(title: str, persona: str) -> None:
    assert persona_for(title) == persona


def test_matching_is_on_whole_words_whatever_the_case() -> None:
    assert persona_for("DIRECTOR OF IT") == M
    assert persona_for("Headless CMS Developer") == P  # "head" is not a word of it
    assert persona_for("Digital Marketing") == P  # "it" is not a word of it either


@pytest.mark.parametrize("key", SHIPPED)
def test_the_shipped_files_carry_the_shipped_rule(key: str) -> None:
    assert load_sequence(ROOT / "sequences", key).personas == DEFAULT_PERSONA_TABLE


def test_a_sequence_table_decides_over_the_shipped_rule(tmp_path: Path) -> None:
    (tmp_path / "own.toml").write_text(
        'name = "x"\n[personas]\ndefault = "management"\n'
        'rules = [{ persona = "practitioner", words = ["engineer", "team lead"] }]\n'
        '[[steps]]\nday = 0\nsubject = "s"\n'
    )
    sequence = load_sequence(tmp_path, "own")
    assert sequence.persona_for("Engineering Manager") == M  # "engineering" is not "engineer"
    assert sequence.persona_for("Staff Engineer") == P
    assert sequence.persona_for("Team Lead, Platform") == P
    assert sequence.persona_for("Founder") == M
    assert Sequence.from_json(sequence.to_json()) == sequence


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('personas = "all"', r"bad\.toml: personas must be a table"),
        ("[personas]\ndefault = 'practitioner'", r"bad\.toml: personas\.rules must be a non-empty"),
        ("[personas]\nrules = []", r"personas\.rules must be a non-empty"),
        (
            "[personas]\ndefault = 'boss'\nrules = [{ persona = 'management', words = ['vp'] }]",
            r"bad\.toml: personas\.default must be practitioner or management, got 'boss'",
        ),
        (
            "[personas]\nrules = [{ persona = 'management', words = ['vp'] },"
            " { persona = 'exec', words = ['ceo'] }]",
            r"bad\.toml: personas\.rules\[2\]\.persona must be practitioner or management",
        ),
        (
            "[personas]\nrules = [{ persona = 'management', words = [] }]",
            r"personas\.rules\[1\]\.words must be a non-empty array",
        ),
        (
            "[personas]\nrules = [{ persona = 'management', words = ['vp', '--'] }]",
            r"personas\.rules\[1\]\.words: '--' is not a word",
        ),
        (
            "[personas]\nrules = [{ persona = 'management', word = ['vp'] }]",
            r"personas\.rules\[1\]: unknown key 'word'",
        ),
        (
            "[personas]\nfallback = 'management'\nrules = [{ persona = 'management', words = ['vp'] }]",
            r"personas: unknown key 'fallback'",
        ),
    ],
)
def test_a_broken_persona_table_is_refused_at_load(
    tmp_path: Path, table: str, message: str
) -> None:
    (tmp_path / "bad.toml").write_text(f'name = "x"\n{table}\n[[steps]]\nday = 0\nsubject = "s"\n')
    with pytest.raises(SequenceError, match=message):
        load_sequence(tmp_path, "bad")


def test_a_format_2_snapshot_reads_with_the_shipped_rule() -> None:
    sequence = load_sequence(ROOT / "sequences", "premium-to-ultimate-personas")
    old = {**json.loads(sequence.to_json()), "format": 2}
    del old["personas"]
    assert Sequence.from_json(json.dumps(old)).personas == DEFAULT_PERSONA_TABLE


@pytest.mark.parametrize("key", SHIPPED)
def test_the_shipped_files_carry_the_plays_title_table_of_roles(key: str) -> None:
    sequence = load_sequence(ROOT / "sequences", key)
    assert sequence.roles == DEFAULT_ROLE_TABLE
    play = {
        "economic buyer": [
            "CISO", "Security Manager", "VP of Security", "Director of Security", "VP of IT",
            "CTO", "App/Dev Director",
        ],
        "technical influencer": ["Chief Architect", "App Dev Manager"],
        "other": [
            "Infrastructure Engineering Director", "Release and Change Management Director",
            "Developer",
        ],
    }  # fmt: skip
    for role, titles in play.items():
        for title in titles:
            assert sequence.role_for(title) == role, title
    again = Sequence.from_json(sequence.to_json())
    assert again.roles == DEFAULT_ROLE_TABLE and again.role_for("CTO") == "economic buyer"


def test_a_bad_role_is_refused_with_the_file_and_field(tmp_path: Path) -> None:
    text = (ROOT / "sequences" / "premium-to-ultimate.toml").read_text()
    (tmp_path / "bad.toml").write_text(text.replace('role = "economic buyer"', 'role = "buyer"'))
    with pytest.raises(SequenceError, match=r"bad.toml: roles.rules\[2\].role must be economic"):
        load_sequence(tmp_path, "bad")
