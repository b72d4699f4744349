"""Market segment from employee count, persona from job title, outreach mode from a CSV cell."""

from __future__ import annotations

import re
from dataclasses import dataclass

from campaign_engine.core.kinds import OutreachMode

__all__ = [
    "DEFAULT_PERSONA_TABLE",
    "DEFAULT_ROLE_TABLE",
    "ENTERPRISE",
    "PERSONAS",
    "ROLES",
    "SEGMENTS",
    "PersonaRule",
    "PersonaTable",
    "expand_segments",
    "is_enterprise_label",
    "parse_outreach_mode",
    "parse_segment",
    "persona_for",
    "persona_table_from",
    "role_for",
    "role_table_from",
    "segment_for",
]

# The sales segments (market segmentation: by employees). Large and Strategic are the play's
# "ENT": rep-driven like MM, and reported apart.
SEGMENTS = ("SMB", "MM", "Large", "Strategic")
ENTERPRISE = ("Large", "Strategic")
MM_MIN_EMPLOYEES = 100
LARGE_MIN_EMPLOYEES = 750
STRATEGIC_MIN_EMPLOYEES = 5000

_SEGMENT_ALIASES = {
    "smb": "SMB",
    "small business": "SMB",
    "mm": "MM",
    "mid market": "MM",
    "mid-market": "MM",
    "midmarket": "MM",
    "large": "Large",
    "strategic": "Strategic",
}
_ENTERPRISE_LABELS = ("ent", "enterprise")

PERSONAS = ("practitioner", "management")
# The play's "Target Buyer Personas": the role a title plays in the buying decision.
ROLES = ("economic buyer", "technical influencer", "other")


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

# The play's title table, also written as the [roles] table of sequences/*.toml (a test keeps
# them equal): technical influencers first, so "App Dev Manager" is not read as a buyer.
DEFAULT_ROLE_TABLE = PersonaTable(
    rules=(
        PersonaRule(
            "technical influencer",
            (
                "chief architect", "app dev manager", "application development manager",
                "applications development manager",
            ),
        ),
        PersonaRule(
            "economic buyer",
            (
                "ciso", "chief information security officer", "security manager",
                "vp of security", "vp security", "vice president of security",
                "director of security", "security director", "head of security",
                "vp of it", "vp it", "vice president of it", "cto", "chief technology officer",
                "app dev director", "application development director",
                "applications development director",
            ),
        ),
    ),
    default="other",
)  # fmt: skip


def persona_table_from(data: object) -> PersonaTable:
    """A [personas] table read from TOML; ValueError naming the bad key otherwise."""
    return _title_table(data, "personas", "persona", PERSONAS, "practitioner")


def role_table_from(data: object) -> PersonaTable:
    """A [roles] table read from TOML (rules of `role` and `words`, like [personas])."""
    return _title_table(data, "roles", "role", ROLES, "other")


def _title_table(
    data: object, section: str, key: str, allowed: tuple[str, ...], default_value: str
) -> PersonaTable:
    choices = " or ".join(allowed) if len(allowed) == 2 else ", ".join(allowed)
    if not isinstance(data, dict):
        raise ValueError(f"{section} must be a table")
    unknown = sorted(set(data) - {"default", "rules"})
    if unknown:
        raise ValueError(f"{section}: unknown key {unknown[0]!r} (use default and rules)")
    default = data.get("default", default_value)
    if default not in allowed:
        raise ValueError(f"{section}.default must be {choices}, got {default!r}")
    raw_rules = data.get("rules")
    if not isinstance(raw_rules, list) or not raw_rules:
        raise ValueError(f"{section}.rules must be a non-empty array of {{{key}, words}} tables")
    rules = []
    for index, raw in enumerate(raw_rules, 1):
        where = f"{section}.rules[{index}]"
        if not isinstance(raw, dict):
            raise ValueError(f"{where} must be a table with {key} and words")
        unknown = sorted(set(raw) - {key, "words"})
        if unknown:
            raise ValueError(f"{where}: unknown key {unknown[0]!r} (use {key} and words)")
        label = raw.get(key)
        if label not in allowed:
            raise ValueError(f"{where}.{key} must be {choices}, got {label!r}")
        words = raw.get("words")
        if not isinstance(words, list) or not words:
            raise ValueError(f"{where}.words must be a non-empty array of strings")
        for word in words:
            if not isinstance(word, str) or not _words(word):
                raise ValueError(f"{where}.words: {word!r} is not a word")
        rules.append(PersonaRule(str(label), tuple(words)))
    return PersonaTable(rules=tuple(rules), default=str(default))


def _words(text: str) -> tuple[str, ...]:
    return tuple(re.findall(r"[a-z0-9]+", text.lower()))


def _contains(words: tuple[str, ...], phrase: tuple[str, ...]) -> bool:
    size = len(phrase)
    return any(words[i : i + size] == phrase for i in range(len(words) - size + 1))


def segment_for(employees: int) -> str:
    """Sales segment from employee count: < 100 SMB, 100-749 MM, 750-4999 Large, 5000+ Strategic."""
    if employees < MM_MIN_EMPLOYEES:
        return "SMB"
    if employees < LARGE_MIN_EMPLOYEES:
        return "MM"
    if employees < STRATEGIC_MIN_EMPLOYEES:
        return "Large"
    return "Strategic"


def parse_segment(label: str, employees: int | None = None) -> str:
    """Normalise a segment label ("Large", "mid-market"...) or raise ValueError. "ENT" (or
    "Enterprise") is Large or Strategic by `employees`: Strategic from 5,000, else Large.

    >>> parse_segment("ENT", 12000), parse_segment("enterprise", 900), parse_segment("ENT")
    ('Strategic', 'Large', 'Large')
    """
    key = label.strip().lower()
    if key in _ENTERPRISE_LABELS:
        big = employees is not None and employees >= STRATEGIC_MIN_EMPLOYEES
        return "Strategic" if big else "Large"
    try:
        return _SEGMENT_ALIASES[key]
    except KeyError:
        raise ValueError(
            f"unknown segment {label!r} (use SMB, MM, Large, Strategic or ENT)"
        ) from None


def is_enterprise_label(label: str) -> bool:
    """True for the play's "ENT"/"Enterprise", which stands for Large and Strategic."""
    return label.strip().lower() in _ENTERPRISE_LABELS


def expand_segments(labels: list[str]) -> tuple[str, ...]:
    """A list of segment names as a sequence writes it, "ENT" standing for Large and Strategic;
    ValueError naming an unknown one."""
    found: list[str] = []
    for label in labels:
        names = ENTERPRISE if is_enterprise_label(label) else (parse_segment(label),)
        found += [name for name in names if name not in found]
    return tuple(found)


def role_for(title: str, table: PersonaTable | None = None) -> str:
    """The role a sequence's [roles] table gives the title; the play's table without one.

    >>> role_for("CISO"), role_for("Chief Architect"), role_for("Release Manager")
    ('economic buyer', 'technical influencer', 'other')
    """
    return (table or DEFAULT_ROLE_TABLE).persona_for(title)


def automated_channel(mode: str, segment: str, automated_segments: tuple[str, ...]) -> bool:
    """True when the engine mails the contact on schedule: mode C, in a segment the sequence
    automates, or in MM/Large/Strategic, where C is never a default but the play's explicit
    choice (option C, marketing email outreach).

    >>> automated_channel("C", "SMB", ("SMB",)), automated_channel("C", "Large", ("SMB",))
    (True, True)
    >>> automated_channel("B", "SMB", ("SMB",)), automated_channel("C", "SMB", ("MM",))
    (False, False)
    """
    if mode != OutreachMode.MARKETING:
        return False
    return segment in automated_segments or segment != "SMB"


def persona_for(title: str, table: PersonaTable | None = None) -> str:
    """The persona a sequence's table gives the title; the shipped rule without one.

    >>> persona_for("Chief Architect"), persona_for("VP of Security"), persona_for("Developer")
    ('practitioner', 'management', 'practitioner')
    """
    return (table or DEFAULT_PERSONA_TABLE).persona_for(title)


def parse_outreach_mode(value: str, segment: str = "SMB") -> str:
    """A (do nothing), B (sales direct only) or C (marketing email). A blank cell takes the
    play's default for the segment: C for SMB (marketing drives it), B for MM, Large and
    Strategic (sales drives them); C for those is the play's explicit "marketing volume/email
    outreach" and puts them on the automated channel.

    >>> parse_outreach_mode(""), parse_outreach_mode("", "Large"), parse_outreach_mode("c", "MM")
    ('C', 'B', 'C')
    """
    cleaned = value.strip().upper()
    if not cleaned:
        return OutreachMode.MARKETING if segment == "SMB" else OutreachMode.SALES_ONLY
    if cleaned[0] in ("A", "B", "C") and (len(cleaned) == 1 or not cleaned[1].isalpha()):
        return OutreachMode(cleaned[0])
    raise ValueError(f"unknown outreach mode {value!r} (use A, B or C)")
