"""Sends per local day (each contact's own calendar) and late joiners, for status and report."""

from __future__ import annotations

from collections import Counter

import sqlalchemy as sa
from sqlmodel import Session, col, select

from campaign_engine.core.kinds import MessageState
from campaign_engine.store import message_counts
from campaign_engine.store.models import Enrollment

__all__ = ["late_joiner_counts", "sends_per_local_day"]

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


def late_joiner_counts(session: Session, campaign_ids: list[int]) -> dict[int, int]:
    """Contacts enrolled by a tick after launch, per campaign."""
    rows = session.exec(
        select(Enrollment.campaign_id, sa.func.count())
        .where(
            col(Enrollment.campaign_id).in_(campaign_ids),
            Enrollment.late_joiner == True,  # noqa: E712
        )
        .group_by(col(Enrollment.campaign_id))
    ).all()
    return dict(rows)
