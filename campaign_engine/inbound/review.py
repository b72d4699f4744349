"""The review list: incoming mail held for a person, because nothing proves what it claims (a
report naming no message we sent to that recipient), a sender domain reached its hourly limit,
or a person's reply names nothing we sent. Holding changes no contact."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from campaign_engine.core.errors import InvalidInput, NotFound
from campaign_engine.core.kinds import ReviewStatus
from campaign_engine.inbound.parse import Inbound
from campaign_engine.store.db import Database
from campaign_engine.store.inbound_tables import InboundReview

__all__ = ["Hold", "hold", "open_review", "reviews"]


@dataclass(frozen=True)
class Hold:
    """What a held mail would do, and why it does not."""

    kind: str  # InboundKind
    address: str  # the contact it names ("" when none)
    message_id: int | None
    reason: str


def hold(db: Database, mail: Inbound, what: Hold, now: datetime) -> int:
    """Put the mail on the review list (once per mail); its review id."""
    row = InboundReview(
        mail_key=mail.key[:900],
        kind=what.kind,
        address=what.address[:320],
        message_id=what.message_id,
        sender=mail.from_address[:320],
        subject=mail.subject[:500],
        reason=what.reason,
        raw=mail.raw,
        received_at=now,
    )
    try:
        with db.session() as session:
            session.add(row)
    except IntegrityError:  # held a moment ago by another worker
        pass
    with db.session() as session:
        found = session.exec(
            select(InboundReview.id).where(InboundReview.mail_key == mail.key[:900])
        ).one()
    assert found is not None
    return found


def reviews(
    session: Session, status: str | None, offset: int = 0, limit: int = 50
) -> tuple[list[InboundReview], int]:
    """Held mail, newest first (all of it when `status` is None), and how many there are."""
    query = select(InboundReview)
    count = select(func.count()).select_from(InboundReview)
    if status is not None:
        query = query.where(InboundReview.status == status)
        count = count.where(InboundReview.status == status)
    rows = session.exec(
        query.order_by(col(InboundReview.received_at).desc(), col(InboundReview.id).desc())
        .offset(offset)
        .limit(limit)
    ).all()
    return list(rows), session.exec(count).one()


def open_review(session: Session, review_id: int) -> InboundReview:
    """The review, if it is still open (NotFound / InvalidInput saying what it is otherwise)."""
    row = session.get(InboundReview, review_id)
    if row is None:
        raise NotFound(f"review #{review_id} does not exist (campaign inbox review list)")
    if row.status != ReviewStatus.OPEN:
        when = row.decided_at.strftime("%Y-%m-%d %H:%M UTC") if row.decided_at else "?"
        raise InvalidInput(
            f"review #{review_id} was already {row.status} by {row.decided_by} on {when}"
        )
    return row
