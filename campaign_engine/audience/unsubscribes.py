"""Unsubscribe: the address gets no further marketing email from any campaign.

Marks the contact, adds a suppression (checked by the dispatcher just before every send) and
records the event, in one transaction: effective before the next send.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import select

from campaign_engine.core.errors import NotFound
from campaign_engine.core.kinds import EventKind
from campaign_engine.store.db import Database
from campaign_engine.store.models import Contact, Event, Message, Suppression

__all__ = ["UnsubscribeResult", "unsubscribe"]


@dataclass(frozen=True)
class UnsubscribeResult:
    email: str
    already: bool  # they had unsubscribed before


def unsubscribe(
    db: Database,
    now: datetime,
    *,
    message_id: int,
    source: str = "link",
    user_agent: str | None = None,
    ip_prefix: str | None = None,
    is_human: bool = True,
    bot_reason: str | None = None,
) -> UnsubscribeResult:
    """Unsubscribe the recipient of `message_id` (idempotent: a second time records the event)."""
    try:
        return _unsubscribe(
            db, now, message_id, source, user_agent, ip_prefix, is_human, bot_reason
        )
    except sa.exc.IntegrityError:  # a concurrent unsubscribe added the suppression first
        return _unsubscribe(
            db, now, message_id, source, user_agent, ip_prefix, is_human, bot_reason
        )


def _unsubscribe(
    db: Database,
    now: datetime,
    message_id: int,
    source: str,
    user_agent: str | None,
    ip_prefix: str | None,
    is_human: bool,
    bot_reason: str | None,
) -> UnsubscribeResult:
    with db.session() as session:
        message = session.get(Message, message_id)
        contact = session.get(Contact, message.contact_id) if message else None
        if contact is None:
            raise NotFound(f"message {message_id} does not exist")
        already = contact.unsubscribed_at is not None
        if not already:
            contact.unsubscribed_at = now
            contact.updated_at = now
            session.add(contact)
        exists = session.exec(select(Suppression.id).where(Suppression.email == contact.email))
        if exists.first() is None:
            session.add(
                Suppression(
                    email=contact.email,
                    reason="unsubscribe",
                    source=f"{source}, message {message_id}",
                    created_at=now,
                )
            )
        session.add(
            Event(
                kind=EventKind.UNSUBSCRIBE,
                message_id=message_id,
                contact_id=contact.id,
                is_human=is_human,
                bot_reason=bot_reason,
                user_agent=user_agent,
                ip_prefix=ip_prefix,
                note=source,
                occurred_at=now,
            )
        )
        return UnsubscribeResult(contact.email, already)
