"""Whether a bounce, complaint or unsubscribe by mail may change a contact (PURE).

Anyone can write a report, so it acts only on proof: our signed tag (VERP / sub-address), or a
Message-ID we sent that it references or embeds; and whatever recipient it names must be the
one that message went to. Anything less is held for a person (review.py).
"""

from __future__ import annotations

from collections.abc import Iterable

from campaign_engine.inbound.classify import Verdict
from campaign_engine.inbound.match import PROOF, Match
from campaign_engine.inbound.parse import Inbound

__all__ = ["named_recipients", "unproven"]


def named_recipients(mail: Inbound, verdict: Verdict) -> frozenset[str]:
    """The addresses a report says it is about: the failed or complained-about ones (with a
    DSN's Original-Recipient), else those of the embedded original message."""
    named = {a for a in verdict.failed if a}
    named.update(r.original for r in mail.dsn if r.address in named and r.original)
    return frozenset(named or (a for a in mail.original_recipients if a))


def unproven(match: Match, named: Iterable[str]) -> str:
    """Why this report must not change anyone, in words; "" when it may."""
    message = match.message
    if message is None or match.matched_by not in PROOF:
        return "it names no message we sent (no signed tag, no Message-ID of ours)"
    named = sorted(set(named))
    if named and message.recipient.lower() not in named:
        return (
            f"it names {', '.join(named)}, but the message it refers to (email {message.step})"
            f" was sent to {message.recipient or 'an erased address'}"
        )
    return ""
