"""Sends per local day (each contact's own calendar) and late joiners, for status and report."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, col, select

from campaign_engine.core.kinds import MessageState
from campaign_engine.store.models import Campaign, Enrollment, Message
from campaign_engine.store.sql_dates import local_date

__all__ = ["late_joiner_counts", "sends_per_local_day"]

_SENT = (MessageState.SENT, MessageState.BOUNCED)


def sends_per_local_day(session: Session, campaign_ids: list[int]) -> dict[int, dict[str, int]]:
    """Messages handed to the relay per local day of their recipients, per campaign (campaign id
    -> YYYY-MM-DD -> sends), counted in SQL in each enrolment's zone (the campaign's when it has
    none), in one pass over the campaigns' messages."""
    zone = sa.func.coalesce(sa.func.nullif(Enrollment.timezone, ""), Campaign.timezone)
    day = local_date(Message.sent_at, zone)
    rows = session.execute(
        sa.select(col(Message.campaign_id), day, sa.func.count())
        .join(Enrollment, col(Enrollment.id) == Message.enrollment_id)
        .join(Campaign, col(Campaign.id) == Message.campaign_id)
        .where(
            col(Message.campaign_id).in_(campaign_ids),
            col(Message.state).in_(_SENT),
            col(Message.sent_at).is_not(None),
        )
        .group_by(col(Message.campaign_id), day)
        .order_by(day)
    )
    counted: dict[int, dict[str, int]] = {campaign_id: {} for campaign_id in campaign_ids}
    for campaign_id, local, n in rows:
        counted[campaign_id][local.isoformat()] = n
    return counted


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
