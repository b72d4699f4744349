"""A limit on how many reports from one sender domain change contacts per hour, so that a flood
of reports (forged or not) cannot suppress a list: the rest are held for review."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, col, func, select

from campaign_engine.core.kinds import InboundKind
from campaign_engine.store.inbound_tables import InboundMail

__all__ = ["SUPPRESSING", "over_limit", "sender_domain"]

SUPPRESSING = (
    InboundKind.BOUNCE,
    InboundKind.SOFT_BOUNCE,
    InboundKind.COMPLAINT,
    InboundKind.UNSUBSCRIBE,
)


def sender_domain(address: str) -> str:
    """The domain of a From address; "" when it has none (those count together)."""
    return address.rpartition("@")[2].lower() if "@" in address else ""


def over_limit(session: Session, domain: str, limit: int, now: datetime) -> str:
    """Why a report from `domain` is held (the limit reached this hour), or "" (0: no limit)."""
    if limit <= 0:
        return ""
    acted = session.exec(
        select(func.count())
        .select_from(InboundMail)
        .where(
            InboundMail.sender_domain == domain,
            col(InboundMail.kind).in_(SUPPRESSING),
            col(InboundMail.received_at) > now - timedelta(hours=1),
        )
    ).one()
    if acted < limit:
        return ""
    return (
        f"{acted} reports from {domain or 'senders without a domain'} changed contacts in the"
        f" last hour ([inbox] reports_per_domain_hour = {limit})"
    )
