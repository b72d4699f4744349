"""Claiming a batch of due messages for one worker, as plain rows (no ORM objects)."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

import sqlalchemy as sa
from sqlmodel import Session

from campaign_engine.core.kinds import MessageState
from campaign_engine.store import message_counts
from campaign_engine.store.bulk import among
from campaign_engine.store.db import is_postgres
from campaign_engine.store.models import Message

__all__ = ["CLAIMABLE", "Claimed", "claim"]

CLAIMABLE = (MessageState.QUEUED, MessageState.RETRY)
_MESSAGES: sa.Table = Message.__table__  # type: ignore[attr-defined]


class Claimed(NamedTuple):
    """A claimed message as sending, recording and counting it read it."""

    id: int
    enrollment_id: int
    contact_id: int
    campaign_id: int
    step: int
    origin: str
    state: str
    attempts: int
    first_attempt_at: datetime | None
    next_attempt_at: datetime | None
    sent_at: datetime | None
    recipient: str
    subject: str
    message_id_header: str
    skip_reason: str | None
    error: str | None
    relay: str | None
    # its report slice (see store.message_counts)
    segment: str | None
    title: str | None
    rep_id: int | None
    zone: str | None


_COLUMNS = tuple(_MESSAGES.c[name] for name in Claimed._fields)


def claim(
    session: Session, campaign_id: int, worker: str, now: datetime, until: datetime, size: int
) -> list[Claimed]:
    """Up to `size` of the campaign's messages due at `now`, oldest due first, claimed for
    `worker` until `until` (state `sending`), counted in the session's transaction."""
    connection = session.connection()
    m = _MESSAGES.c
    query = (
        sa.select(m.id, m.state)
        .where(m.campaign_id == campaign_id, m.state.in_(CLAIMABLE), m.next_attempt_at <= now)
        .order_by(m.next_attempt_at, m.id)
        .limit(size)
    )
    if is_postgres(connection.engine):
        # NO KEY: a tracked hit stored meanwhile (its foreign key locks the row KEY SHARE)
        # neither waits for this claim nor is skipped by it.
        query = query.with_for_update(skip_locked=True, key_share=True)
    found: dict[int, str] = {mid: state for mid, state in connection.execute(query)}
    if not found:
        return []
    # The state condition makes the claim safe even where SKIP LOCKED does not exist: a row
    # another worker claimed meanwhile no longer matches and is not returned.
    taken = connection.execute(
        sa.update(_MESSAGES)
        .where(among(connection, m.id, list(found)), m.state.in_(CLAIMABLE))
        .values(state=MessageState.SENDING, claimed_by=worker, claimed_until=until)
        .returning(*_COLUMNS)
    )
    order = {mid: place for place, mid in enumerate(found)}
    claimed = sorted(map(Claimed._make, taken), key=lambda row: order[row.id])
    message_counts.moved(
        session,
        (
            (message_counts.key_of(row, state=found[row.id]), message_counts.key_of(row))
            for row in claimed
        ),
    )
    return claimed
