"""Market segment from employee count, persona from job title, outreach mode from a CSV cell."""

from __future__ import annotations

import re
from dataclasses import dataclass

from campaign_engine.core.kinds import OutreachMode

__all__ = [
    "DEFAULT_PERSONA_TABLE",
    "PERSONAS",
    "SEGMENTS",
    "PersonaRule",
    "PersonaTable",
    "parse_outreach_mode",
    "parse_segment",
    "persona_for",
    "persona_table_from",
    "segment_for",
]

SEGMENTS = ("SMB", "MM", "ENT")
MM_MIN_EMPLOYEES = 100
ENT_MIN_EMPLOYEES = 750

_SEGMENT_ALIASES = {
    "smb": "SMB",
    "small business": "SMB",
    "mm": "MM",
    "mid market": "MM",
    "mid-market": "MM",
    "midmarket": "MM",
    "ent": "ENT",
    "enterprise": "ENT",
    "large": "ENT",
    "strategic": "ENT",
}

PERSONAS = ("practitioner", "management")


@dataclass(frozen=True)
class PersonaRule:
    """Titles holding any of `words` (a word or a phrase of words) get `persona`."""

    persona: str
    words: tuple[str, ...]


@dataclass(frozen=True)
class PersonaTable:
    """Ordered title rules: the first rule with a word in the title decides, else `default`.

    Matching is case-insensitive on whole words: a title and each rule word are split into runs
    of letters and digits ("Sr. Manager, Software Engineering" is sr/manager/software/
    engineering), and a rule word matches when its words appear in the title in a row.
    """

    rules: tuple[PersonaRule, ...]
    default: str = "practitioner"

    def persona_for(self, title: str) -> str:
        words = _words(title)
        for rule in self.rules:
            if any(_contains(words, _words(word)) for word in rule.words):
                return rule.persona
        return self.default


# The shipped rule, also written as the [personas] table of sequences/*.toml (a test keeps them
# equal); callers without a sequence use it. Leaders and buyers (rank, then C-level) get the
# Management offer before anybody who builds gets the Practitioner one; then the play's
# security/IT titles are management; anybody else is a practitioner.
DEFAULT_PERSONA_TABLE = PersonaTable(
    rules=(
        PersonaRule(
            "management",
            (
                "manager", "mgr", "head", "director", "dir", "vp", "svp", "evp", "avp",
                "vice president", "president", "officer", "executive", "founder", "owner",
                "ceo", "cto", "cio", "ciso", "cso", "cfo", "coo", "cpo", "cdo", "chief of staff",
            ),
        ),
        PersonaRule(
            "practitioner",
            (
                "engineer", "developer", "architect", "devops", "devsecops", "sre",
                "site reliability", "programmer", "analyst", "administrator", "admin",
                "sysadmin", "tester", "scientist",
            ),
        ),
        PersonaRule(
            "management",
            (
                "security", "infosec", "cybersecurity", "appsec", "it", "information technology",
                "compliance", "risk",
            ),
        ),
    ),
    default="practitioner",
)  # fmt: skip


def persona_table_from(data: object) -> PersonaTable:
    """A [personas] table read from TOML; ValueError naming the bad key otherwise."""
    if not isinstance(data, dict):
        raise ValueError("personas must be a table")
    unknown = sorted(set(data) - {"default", "rules"})
    if unknown:
        raise ValueError(f"personas: unknown key {unknown[0]!r} (use default and rules)")
    default = data.get("default", "practitioner")
    if default not in PERSONAS:
        raise ValueError(f"personas.default must be practitioner or management, got {default!r}")
    raw_rules = data.get("rules")
    if not isinstance(raw_rules, list) or not raw_rules:
        raise ValueError("personas.rules must be a non-empty array of {persona, words} tables")
    rules = []
    for index, raw in enumerate(raw_rules, 1):
        where = f"personas.rules[{index}]"
        if not isinstance(raw, dict):
            raise ValueError(f"{where} must be a table with persona and words")
        unknown = sorted(set(raw) - {"persona", "words"})
        if unknown:
            raise ValueError(f"{where}: unknown key {unknown[0]!r} (use persona and words)")
        persona = raw.get("persona")
        if persona not in PERSONAS:
            raise ValueError(f"{where}.persona must be practitioner or management, got {persona!r}")
        words = raw.get("words")
        if not isinstance(words, list) or not words:
            raise ValueError(f"{where}.words must be a non-empty array of strings")
        for word in words:
            if not isinstance(word, str) or not _words(word):
                raise ValueError(f"{where}.words: {word!r} is not a word")
        rules.append(PersonaRule(str(persona), tuple(words)))
    return PersonaTable(rules=tuple(rules), default=str(default))


def _words(text: str) -> tuple[str, ...]:
    return tuple(re.findall(r"[a-z0-9]+", text.lower()))


def _contains(words: tuple[str, ...], phrase: tuple[str, ...]) -> bool:
    size = len(phrase)
    return any(words[i : i + size] == phrase for i in range(len(words) - size + 1))


def segment_for(employees: int) -> str:
    """Sales segment from employee count: < 100 SMB, 100-749 MM, 750+ ENT (Large and Strategic)."""
    if employees < MM_MIN_EMPLOYEES:
        return "SMB"
    if employees < ENT_MIN_EMPLOYEES:
        return "MM"
    return "ENT"


def parse_segment(label: str) -> str:
    """Normalise a segment label ("Large", "mid-market"...) or raise ValueError."""
    try:
        return _SEGMENT_ALIASES[label.strip().lower()]
    except KeyError:
        raise ValueError(
            f"unknown segment {label!r} (use SMB, MM, ENT, Large or Strategic)"
        ) from None


def persona_for(title: str, table: PersonaTable | None = None) -> str:
    """The persona a sequence's table gives the title; the shipped rule without one.

    >>> persona_for("Chief Architect"), persona_for("VP of Security"), persona_for("Developer")
    ('practitioner', 'management', 'practitioner')
    """
    return (table or DEFAULT_PERSONA_TABLE).persona_for(title)


def parse_outreach_mode(value: str) -> str:
    """A (do nothing), B (sales direct only) or C (marketing email, the default)."""
    cleaned = value.strip().upper()
    if not cleaned:
        return OutreachMode.MARKETING
    if cleaned[0] in ("A", "B", "C") and (len(cleaned) == 1 or not cleaned[1].isalpha()):
        return OutreachMode(cleaned[0])
    raise ValueError(f"unknown outreach mode {value!r} (use A, B or C)")
