"""A person's decision on held mail: apply it (it acts on a contact, as if it had been proven)
or dismiss it (it changes nothing). Either is recorded with who and when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from campaign_engine.core.config import Settings
from campaign_engine.core.errors import InvalidInput, NotFound
from campaign_engine.core.kinds import ReviewStatus
from campaign_engine.inbound.actions import Handled, act
from campaign_engine.inbound.classify import classify
from campaign_engine.inbound.gate import About
from campaign_engine.inbound.match import latest_sent
from campaign_engine.inbound.parse import parse_mail
from campaign_engine.inbound.review import open_review
from campaign_engine.store.db import Database
from campaign_engine.store.inbound_tables import InboundMail
from campaign_engine.store.models import Contact, Message

__all__ = ["Decided", "apply_review", "dismiss_review"]


@dataclass(frozen=True)
class Decided:
    review_id: int
    status: ReviewStatus
    address: str
    outcome: str

    def __str__(self) -> str:
        about = f" to {self.address}" if self.address else ""
        return f"review #{self.review_id} {self.status}{about}: {self.outcome}"


def apply_review(
    db: Database,
    settings: Settings,
    review_id: int,
    by: str,
    now: datetime,
    address: str | None = None,
) -> Decided:
    """Have the held mail act on `address` (default: the contact it names)."""
    with db.session() as session:
        review = open_review(session, review_id)
        email = (address or review.address).strip().lower()
        if not email:
            raise InvalidInput(
                f"review #{review_id} names no contact: say which one (--address EMAIL)"
            )
        contact = session.exec(select(Contact).where(Contact.email == email)).first()
        if contact is None:
            raise NotFound(f"no contact with email {email!r}: review #{review_id} not applied")
        sent = session.get(Message, review.message_id) if review.message_id else None
        if sent is None or sent.contact_id != contact.id:
            sent = latest_sent(session, contact, None)
        about = About(
            sent.id if sent else None,
            contact.id,
            contact.email,
            "review",
            sent.step if sent else None,
        )
        mail = parse_mail(review.raw)
    handled = act(db, settings, mail, classify(mail, settings.unsubscribe_mailto), about, now)
    outcome = f"{handled.kind}: {handled.detail}"
    with db.session() as session:
        review = open_review(session, review_id)
        review.status, review.decided_by, review.decided_at = ReviewStatus.APPLIED, by, now
        review.outcome, review.address = outcome, contact.email
        session.add(review)
        _record(session, review.mail_key, handled, about, by)
    return Decided(review_id, ReviewStatus.APPLIED, contact.email, outcome)


def dismiss_review(db: Database, review_id: int, by: str, now: datetime) -> Decided:
    with db.session() as session:
        review = open_review(session, review_id)
        review.status, review.decided_by, review.decided_at = ReviewStatus.DISMISSED, by, now
        review.outcome = "nothing changed"
        session.add(review)
    return Decided(review_id, ReviewStatus.DISMISSED, "", "nothing changed")


def _record(session: Session, mail_key: str, handled: Handled, about: About, by: str) -> None:
    """The mail's record says what it did now (reports count it under its real kind)."""
    row = session.exec(select(InboundMail).where(InboundMail.mail_key == mail_key)).first()
    if row is None:
        return
    row.kind, row.matched_by = handled.kind, about.matched_by
    row.message_id, row.contact_id, row.address = about.message_id, about.contact_id, about.email
    row.detail = f"{handled.detail} (applied by {by} from the review list)"
    session.add(row)
