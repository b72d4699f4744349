"""Market segment from employee count, persona from job title, outreach mode from a CSV cell."""

from __future__ import annotations

import re

from campaign_engine.core.kinds import OutreachMode

__all__ = ["SEGMENTS", "parse_outreach_mode", "parse_segment", "persona_for", "segment_for"]

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

# Buyers and leaders get the Management offer; people who build get the Practitioner one.
_MANAGEMENT = re.compile(
    r"\b(ciso|cto|cio|cso|chief|vp|vice president|director|head|manager|security|it\b|executive"
    r"|president|officer|founder|owner)",
    re.IGNORECASE,
)
_PRACTITIONER = re.compile(
    r"\b(architect|engineer|developer|devops|sre|programmer|analyst)", re.IGNORECASE
)


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


def persona_for(title: str) -> str:
    """'management' for security/IT/executive titles, else 'practitioner'.

    >>> persona_for("Chief Architect"), persona_for("VP of Security"), persona_for("Developer")
    ('practitioner', 'management', 'practitioner')
    """
    if _PRACTITIONER.search(title) and not re.search(r"\b(vp|director|head)\b", title, re.I):
        return "practitioner"
    return "management" if _MANAGEMENT.search(title) else "practitioner"


def parse_outreach_mode(value: str) -> str:
    """A (do nothing), B (sales direct only) or C (marketing email, the default)."""
    cleaned = value.strip().upper()
    if not cleaned:
        return OutreachMode.MARKETING
    if cleaned[0] in ("A", "B", "C") and (len(cleaned) == 1 or not cleaned[1].isalpha()):
        return OutreachMode(cleaned[0])
    raise ValueError(f"unknown outreach mode {value!r} (use A, B or C)")
