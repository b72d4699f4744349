"""Data-subject requests: everything held on one person (export), and erasure (forget)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, SQLModel, col, or_, select

from campaign_engine.core.errors import NotFound
from campaign_engine.store import engagement_counts, message_counts
from campaign_engine.store.compliance_tables import ConsentRecord, HashedSuppression, email_hash
from campaign_engine.store.db import Database
from campaign_engine.store.inbound_tables import InboundReview
from campaign_engine.store.models import (
    Account,
    Contact,
    Enrollment,
    Event,
    Exclusion,
    Message,
    Rep,
    Suppression,
)
from campaign_engine.store.request_tables import ContactRequest

__all__ = ["ForgetReport", "export_person", "forget_person"]

_EVENTS: sa.Table = Event.__table__  # type: ignore[attr-defined]
_REQUESTS: sa.Table = ContactRequest.__table__  # type: ignore[attr-defined]
_MESSAGES: sa.Table = Message.__table__  # type: ignore[attr-defined]


def export_person(db: Database, email: str) -> dict[str, Any]:
    """All data held on `email` (lower-cased) as JSON-ready dicts; NotFound when nothing is."""
    email = email.strip().lower()
    with db.session() as session:
        contact = session.exec(select(Contact).where(Contact.email == email)).first()
        suppression = session.exec(select(Suppression).where(Suppression.email == email)).first()
        hashed = session.exec(
            select(HashedSuppression).where(HashedSuppression.email_hash == email_hash(email))
        ).first()
        consent = session.exec(
            select(ConsentRecord)
            .where(ConsentRecord.email == email)
            .order_by(col(ConsentRecord.id))
        ).all()
        exclusions = session.exec(select(Exclusion).where(Exclusion.email == email)).all()
        if not (contact or suppression or hashed or consent or exclusions):
            raise NotFound(f"no data held on {email}")
        data: dict[str, Any] = {
            "email": email,
            "contact": _plain(contact),
            "account": None,
            "rep": None,
            "consent": [_plain(c) for c in consent],
            "suppression": _plain(suppression),
            "hashed_suppression": _plain(hashed),
            "exclusions": [_plain(x) for x in exclusions],
            "enrollments": [],
            "messages": [],
            "events": [],
            "contact_requests": [],
        }
        if contact is not None:
            account = session.get(Account, contact.account_id)
            data["account"] = _plain(account)
            if account is not None and account.rep_id is not None:
                data["rep"] = _plain(session.get(Rep, account.rep_id))
            for name, model in (
                ("enrollments", Enrollment),
                ("messages", Message),
                ("events", Event),
                ("contact_requests", ContactRequest),
            ):
                rows = session.exec(
                    select(model).where(model.contact_id == contact.id).order_by(col(model.id))
                ).all()
                data[name] = [_plain(r) for r in rows]
        return data


@dataclass(frozen=True)
class ForgetReport:
    email: str
    contact_erased: bool
    messages: int
    events: int
    consent_records: int


def forget_person(db: Database, email: str, now: datetime) -> ForgetReport:
    """Erase the personal data held on `email`, keeping only a hashed suppression, so the
    address is never mailed again, even when a later import brings it back."""
    email = email.strip().lower()
    digest = email_hash(email)
    with db.session() as session:
        contact = session.exec(select(Contact).where(Contact.email == email)).first()
        messages = events = 0
        if contact is not None:
            messages, events = _erase_activity(session, contact)
            contact.email = f"erased-{contact.id}@erased.invalid"
            contact.first_name = contact.last_name = contact.title = ""
            contact.unsubscribed_at = contact.unsubscribed_at or now
            contact.updated_at = now
        plain = session.exec(select(Suppression).where(Suppression.email == email)).first()
        reason = f"forgotten (was {plain.reason})" if plain else "forgotten"
        if plain is not None:
            session.delete(plain)
        if (
            session.exec(
                select(HashedSuppression.id).where(HashedSuppression.email_hash == digest)
            ).first()
            is None
        ):
            session.add(HashedSuppression(email_hash=digest, reason=reason, created_at=now))
        consent = session.exec(select(ConsentRecord).where(ConsentRecord.email == email)).all()
        for record in consent:
            session.delete(record)
        held = select(InboundReview).where(
            or_(InboundReview.address == email, InboundReview.sender == email)
        )
        for review in session.exec(held).all():  # the held mail itself is about them
            session.delete(review)
        for exclusion in session.exec(select(Exclusion).where(Exclusion.email == email)).all():
            exclusion.email = None  # an address-less rule matches nobody; the audit row stays
            exclusion.reason = f"{exclusion.reason} (address erased)".strip()
        return ForgetReport(email, contact is not None, messages, events, len(consent))


def _erase_activity(session: Session, contact: Contact) -> tuple[int, int]:
    connection = session.connection()
    # the title written on each email for the report goes too (its emails count as untitled)
    engagement_counts.touching(session, _MESSAGES.c.contact_id == contact.id)
    messages = message_counts.change_states(
        session,
        _MESSAGES.c.contact_id == contact.id,
        recipient="",
        subject="",
        error=None,
        title="",
    )
    events = connection.execute(
        sa.update(_EVENTS)
        .where(_EVENTS.c.contact_id == contact.id)
        .values(user_agent=None, ip_prefix=None, note=None)
    ).rowcount
    connection.execute(
        sa.update(_REQUESTS)
        .where(_REQUESTS.c.contact_id == contact.id)
        .values(message="", preferred_time="", replied_by="", note="")
    )
    return messages, events


def _plain(row: SQLModel | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {key: _json(value) for key, value in row.model_dump().items()}


def _json(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value
