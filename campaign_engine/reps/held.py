"""Why a rep may not write to a contact now (unsubscribed, suppressed, excluded, mode A), as
one SQL expression, so drafts, My day and reminders hold them instead of showing them due."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select

from campaign_engine.core.kinds import OutreachMode
from campaign_engine.store.models import Contact, Exclusion, Suppression

__all__ = ["exclusion_reason", "held_reason"]


def exclusion_reason(email: Any, campaign_id: Any) -> Any:
    """SQL: the reason of the first active exclusion of `email` (its address or its domain) in
    campaign `campaign_id` or all campaigns, or NULL."""
    return (
        select(Exclusion.reason)
        .where(
            col(Exclusion.removed_at).is_(None),
            sa.or_(col(Exclusion.campaign_id).is_(None), col(Exclusion.campaign_id) == campaign_id),
            sa.or_(
                col(Exclusion.email) == email,
                email.like(sa.literal("%@") + col(Exclusion.domain)),
            ),
        )
        .order_by(col(Exclusion.id))
        .limit(1)
        .scalar_subquery()
    )


def held_reason(campaign_id: Any) -> Any:
    """SQL: why the contact (joined as `Contact`) is held in campaign `campaign_id` (a column),
    or NULL when the rep may write to them; the send-time check refuses the same people."""
    suppression = (
        select(Suppression.reason)
        .where(col(Suppression.email) == col(Contact.email))
        .limit(1)
        .scalar_subquery()
    )
    exclusion = exclusion_reason(col(Contact.email), campaign_id)
    return sa.case(
        (col(Contact.unsubscribed_at).is_not(None), sa.literal("unsubscribed")),
        (suppression.is_not(None), sa.literal("suppressed: ") + suppression),
        (
            exclusion.is_not(None),
            sa.case(
                (exclusion == "", sa.literal("excluded")),
                else_=sa.literal("excluded: ") + exclusion,
            ),
        ),
        (col(Contact.outreach_mode) == OutreachMode.DO_NOTHING, sa.literal("outreach mode A")),
        else_=sa.null(),
    )
