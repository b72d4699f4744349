"""PURE send-time checks: may this contact get this marketing email right now?"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from campaign_engine.audience.segments import automated_channel
from campaign_engine.core.kinds import EnrollmentStatus, OutreachMode

__all__ = [
    "CAP_WINDOW",
    "FREQUENCY_CAP",
    "PROVIDER_PACING",
    "SEND_WINDOW",
    "ExclusionRule",
    "Exclusions",
    "SendFacts",
    "frequency_cap_until",
    "skip_reason",
    "stops_enrollment",
]

FREQUENCY_CAP = "frequency cap"  # the note on a message deferred by `max_marketing_per_week`
CAP_WINDOW = timedelta(days=7)
PROVIDER_PACING = "provider pacing"  # held back: the recipient's mailbox provider has no room yet
SEND_WINDOW = "window"  # the note on a message held back at send time: its local window is shut

# Skip reasons that end the enrollment rather than just this one step.
_FINAL_PREFIXES = ("unsubscribed", "suppressed", "outreach mode", "segment", "enrollment")


@dataclass(frozen=True)
class ExclusionRule:
    """An active exclusion: an address or a whole domain, in one campaign or all (None)."""

    email: str | None
    domain: str | None
    campaign_id: int | None
    reason: str

    def matches(self, email: str, campaign_id: int) -> bool:
        if self.campaign_id is not None and self.campaign_id != campaign_id:
            return False
        if self.email is not None:
            return self.email == email
        return self.domain is not None and email.rsplit("@", 1)[-1] == self.domain


class Exclusions:
    """The rules in force, found by address and by domain: a message costs two lookups, not a
    pass over every rule (ops upload tens of thousands)."""

    def __init__(self, rules: Iterable[ExclusionRule]) -> None:
        self._by_email: dict[str, list[tuple[int, ExclusionRule]]] = {}
        self._by_domain: dict[str, list[tuple[int, ExclusionRule]]] = {}
        for order, rule in enumerate(rules):
            if rule.email is not None:
                self._by_email.setdefault(rule.email, []).append((order, rule))
            elif rule.domain is not None:
                self._by_domain.setdefault(rule.domain, []).append((order, rule))

    def match(self, email: str, campaign_id: int) -> ExclusionRule | None:
        """The first rule (in the order given) that excludes `email` from the campaign."""
        domain = email.rsplit("@", 1)[-1]
        candidates = [*self._by_email.get(email, ()), *self._by_domain.get(domain, ())]
        found = [(order, rule) for order, rule in candidates if rule.matches(email, campaign_id)]
        return min(found, key=lambda pair: pair[0])[1] if found else None


@dataclass(frozen=True)
class SendFacts:
    """What the database says about a recipient at the moment of sending."""

    email: str
    campaign_id: int
    enrollment_status: str
    outreach_mode: str
    segment: str
    automated_segments: tuple[str, ...]
    unsubscribed: bool
    suppression_reason: str | None


def skip_reason(facts: SendFacts, exclusions: Exclusions, automated: bool = True) -> str | None:
    """Why this message must not go out, or None when it may."""
    if facts.enrollment_status != EnrollmentStatus.ACTIVE:
        return f"enrollment {facts.enrollment_status}"
    if facts.unsubscribed:
        return "unsubscribed"
    if facts.suppression_reason is not None:
        return f"suppressed: {facts.suppression_reason}"
    rule = exclusions.match(facts.email, facts.campaign_id)
    if rule is not None:
        return f"excluded: {rule.reason}" if rule.reason else "excluded"
    if not automated:
        return "outreach mode A" if facts.outreach_mode == OutreachMode.DO_NOTHING else None
    if automated_channel(facts.outreach_mode, facts.segment, facts.automated_segments):
        return None
    if facts.outreach_mode != OutreachMode.MARKETING:
        return f"outreach mode {facts.outreach_mode}"
    return f"segment {facts.segment} is not automated"


def stops_enrollment(reason: str) -> bool:
    """True when the skip is for good (the contact left), not just for this step (an exclusion)."""
    return reason.startswith(_FINAL_PREFIXES)


def frequency_cap_until(
    sent_at: Iterable[datetime], now: datetime, cap: int, window: timedelta = CAP_WINDOW
) -> datetime | None:
    """When a contact who got marketing mail at `sent_at` may get one more, or None for now.

    At most `cap` sends in any `window` (0 = no cap): with `cap` or more sends in the window
    before `now`, the next one waits until enough of them have left it.

    >>> t = datetime(2021, 4, 27, 9)
    >>> frequency_cap_until([t, t + timedelta(days=2)], t + timedelta(days=6), cap=2)
    datetime.datetime(2021, 5, 4, 9, 0)
    >>> frequency_cap_until([t], t + timedelta(days=6), cap=2) is None
    True
    """
    if cap <= 0:
        return None
    recent = sorted(t for t in sent_at if t > now - window)
    if len(recent) < cap:
        return None
    # Once this one leaves the window, cap - 1 remain: room for one more.
    return recent[len(recent) - cap] + window
