"""PURE next-step reminders: after a rep sends email N, remind them to send N+1 some days later
(reminder_query.py finds the threads due in SQL).

No reminder once the contact asked for contact, unsubscribed or bounced, or the rep moved the
thread to a meeting or an opportunity.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from campaign_engine.core.kinds import EventKind, ThreadMark

__all__ = ["ANY_TIME", "STOPPING_KINDS", "Reminder", "next_step"]

# Event kinds that end the reminders: a contact request or a rep's mark after the send,
# an unsubscribe or a bounce whenever it happened.
STOPPING_KINDS: tuple[str, ...] = (
    EventKind.CONTACT_REQUEST,
    *ThreadMark,
    EventKind.UNSUBSCRIBE,
    EventKind.BOUNCE,
)
ANY_TIME: tuple[str, ...] = (EventKind.UNSUBSCRIBE, EventKind.BOUNCE)


@dataclass(frozen=True)
class Reminder:
    """Time to send `next_step` to a contact: `sent_step` went out `reminder_days` ago."""

    campaign_id: int
    campaign: str
    contact_id: int
    contact_email: str
    rep_email: str
    sent_step: int
    sent_at: datetime
    next_step: int
    due_at: datetime


def next_step(latest: int, last_step: int, sent: Collection[int]) -> int | None:
    """The email to suggest after the thread's latest one: the first later step of the sequence
    not sent yet (the rep may have sent them out of order); None when every one went out."""
    return next((n for n in range(latest + 1, last_step + 1) if n not in sent), None)
