"""PURE next-step reminders: after a rep sends email N, remind them to send N+1 some days later.

No reminder once the contact asked for contact, unsubscribed or bounced, or the rep moved the
thread to a meeting or an opportunity.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from campaign_engine.core.kinds import EventKind, ThreadMark

__all__ = ["STOPPING_KINDS", "ContactEvent", "Reminder", "SentStep", "due_reminders"]

# Event kinds that end the reminders: a contact request or a rep's mark after the send,
# an unsubscribe or a bounce whenever it happened.
STOPPING_KINDS: tuple[str, ...] = (
    EventKind.CONTACT_REQUEST,
    *ThreadMark,
    EventKind.UNSUBSCRIBE,
    EventKind.BOUNCE,
)
_ANY_TIME = (EventKind.UNSUBSCRIBE, EventKind.BOUNCE)


@dataclass(frozen=True)
class SentStep:
    """One email of a campaign that went to a contact (by their rep, or automated)."""

    campaign_id: int
    contact_id: int
    step: int
    sent_at: datetime
    by_rep: bool
    last_step: int  # the sequence's number of emails
    rep_email: str = ""
    contact_email: str = ""
    campaign: str = ""


@dataclass(frozen=True)
class ContactEvent:
    """Something that happened to a contact: a contact request, an unsubscribe, a rep's mark."""

    contact_id: int
    kind: str
    occurred_at: datetime


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


def due_reminders(
    sent_drafts: Iterable[SentStep],
    events: Iterable[ContactEvent],
    now: datetime,
    reminder_days: int,
) -> list[Reminder]:
    """Reminders due at `now`, oldest first.

    Only the latest email of each (campaign, contact) thread counts, and only when the rep sent
    it: email 1 sent by the rep on May 4 at 10:00 with reminder_days=7 is due from May 11 10:00
    for email 2 (or the next one not sent yet).
    """
    by_thread: dict[tuple[int, int], list[SentStep]] = {}
    for sent in sent_drafts:
        by_thread.setdefault((sent.campaign_id, sent.contact_id), []).append(sent)
    stops: dict[int, list[ContactEvent]] = {}
    for event in events:
        if event.kind in STOPPING_KINDS:
            stops.setdefault(event.contact_id, []).append(event)
    delay = timedelta(days=reminder_days)
    reminders = []
    for steps in by_thread.values():
        latest = max(steps, key=lambda s: (s.sent_at, s.step))
        if not latest.by_rep:
            continue
        sent_numbers = {s.step for s in steps}
        following = [
            n for n in range(latest.step + 1, latest.last_step + 1) if n not in sent_numbers
        ]
        due_at = latest.sent_at + delay
        if not following or now < due_at:
            continue
        if any(
            e.kind in _ANY_TIME or e.occurred_at >= latest.sent_at
            for e in stops.get(latest.contact_id, [])
        ):
            continue
        reminders.append(
            Reminder(
                campaign_id=latest.campaign_id,
                campaign=latest.campaign,
                contact_id=latest.contact_id,
                contact_email=latest.contact_email,
                rep_email=latest.rep_email,
                sent_step=latest.step,
                sent_at=latest.sent_at,
                next_step=following[0],
                due_at=due_at,
            )
        )
    return sorted(reminders, key=lambda r: (r.due_at, r.contact_email, r.campaign_id))
