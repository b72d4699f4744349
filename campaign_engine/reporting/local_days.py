"""Sends per local day (each contact's own calendar), for status and report."""

from __future__ import annotations

from collections import Counter

from sqlmodel import Session

from campaign_engine.core.kinds import MessageState
from campaign_engine.store import message_counts

__all__ = ["sends_per_local_day"]

_SENT = (MessageState.SENT, MessageState.BOUNCED)


def sends_per_local_day(session: Session, campaign_ids: list[int]) -> dict[int, dict[str, int]]:
    """Messages handed to the relay per local day of their recipients, per campaign (campaign id
    -> YYYY-MM-DD -> sends, in day order), from the message counters: each message's day is
    counted in its contact's zone when it was queued (the campaign's when it had none)."""
    counted: dict[int, Counter[str]] = {campaign_id: Counter() for campaign_id in campaign_ids}
    kept = message_counts.kept_slices(session.connection(), campaign_ids, _SENT)
    for (campaign_id, *_, day), n in kept.items():
        if day:
            counted[campaign_id][day] += n
    return {campaign_id: dict(sorted(days.items())) for campaign_id, days in counted.items()}
