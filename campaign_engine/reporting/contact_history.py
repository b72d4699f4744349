"""One contact's history for the console, and the contact search behind the Contacts page.

A rep sees only the contacts of their own accounts (others are "not found"); ops see everyone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, or_, select

from campaign_engine.core.errors import NotFound
from campaign_engine.core.kinds import EventKind
from campaign_engine.reporting.search import count_of, every_word_in
from campaign_engine.reps.drafts import rep_by_email
from campaign_engine.store.compliance_tables import ConsentRecord, HashedSuppression, email_hash
from campaign_engine.store.models import (
    Account,
    Campaign,
    Contact,
    Draft,
    Enrollment,
    Event,
    Exclusion,
    Message,
    Rep,
    Suppression,
)

__all__ = [
    "EVENT_LIMIT",
    "ContactHistory",
    "ContactRow",
    "contact_history",
    "search_contacts",
]

EVENT_LIMIT = 500  # the most recent events shown on a contact page


@dataclass(frozen=True)
class ContactRow:
    id: int
    email: str
    name: str
    title: str
    account: str
    segment: str
    mode: str
    rep: str | None


@dataclass
class ContactHistory:
    contact: Contact
    account: Account
    rep: Rep | None
    timezone: str | None
    enrollments: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    events_total: int = 0
    requests: list[dict[str, Any]] = field(default_factory=list)
    drafts: list[Draft] = field(default_factory=list)
    exclusions: list[Exclusion] = field(default_factory=list)
    suppression: Suppression | None = None
    hashed_suppressed: bool = False
    consent: list[ConsentRecord] = field(default_factory=list)


def _visible(session: Session, rep_email: str | None) -> Any:
    """The WHERE clause limiting contacts to the rep's own accounts (true for ops)."""
    if rep_email is None:
        return sa.true()
    return Account.rep_id == rep_by_email(session, rep_email).id


def search_contacts(
    session: Session, text: str, rep_email: str | None, offset: int, limit: int
) -> tuple[list[ContactRow], int]:
    """Contacts whose email, name or account contains `text` (all when empty), by email;
    returns one page of rows and the number that match."""
    query = (
        select(Contact, Account, Rep)
        .join(Account, col(Account.id) == Contact.account_id)
        .join(Rep, col(Rep.id) == Account.rep_id, isouter=True)
        .where(_visible(session, rep_email))
    )
    query = every_word_in(
        query, text, Contact.email, Contact.first_name, Contact.last_name, Account.name,
        by_table=True,
    )  # fmt: skip
    total = count_of(session, query)
    rows = session.exec(query.order_by(col(Contact.email)).offset(offset).limit(limit)).all()
    return [
        ContactRow(
            id=contact.id or 0,
            email=contact.email,
            name=f"{contact.first_name} {contact.last_name}".strip(),
            title=contact.title,
            account=account.name,
            segment=account.segment,
            mode=contact.outreach_mode,
            rep=rep.email if rep else None,
        )
        for contact, account, rep in rows
    ], total


def contact_history(session: Session, contact_id: int, rep_email: str | None) -> ContactHistory:
    """Everything the console shows on one contact; NotFound when absent or not the rep's."""
    row = session.exec(
        select(Contact, Account)
        .join(Account, col(Account.id) == Contact.account_id)
        .where(Contact.id == contact_id, _visible(session, rep_email))
    ).first()
    if row is None:
        raise NotFound(f"no contact with id {contact_id}")
    contact, account = row
    rep = session.get(Rep, account.rep_id) if account.rep_id is not None else None
    history = ContactHistory(contact, account, rep, getattr(contact, "timezone", None))
    names = dict(session.exec(select(Campaign.id, Campaign.name)).all())
    for enrollment in session.exec(
        select(Enrollment).where(Enrollment.contact_id == contact_id).order_by(col(Enrollment.id))
    ):
        history.enrollments.append({"campaign": names.get(enrollment.campaign_id, "?"),
                                    "row": enrollment})  # fmt: skip
    steps: dict[int, str] = {}
    for message in session.exec(
        select(Message).where(Message.contact_id == contact_id).order_by(col(Message.id))
    ):
        label = f"{names.get(message.campaign_id, '?')} email {message.step}"
        steps[message.id or 0] = label
        history.messages.append({"label": label, "row": message})
    events = select(Event).where(Event.contact_id == contact_id)
    history.events_total = count_of(session, events)
    for event in session.exec(events.order_by(col(Event.id).desc()).limit(EVENT_LIMIT)):
        entry = {"message": steps.get(event.message_id or 0, ""), "row": event}
        history.events.append(entry)
        if event.kind == EventKind.CONTACT_REQUEST:
            history.requests.append(entry)
    history.drafts = list(
        session.exec(select(Draft).where(Draft.contact_id == contact_id).order_by(col(Draft.id)))
    )
    domain = contact.email.rsplit("@", 1)[-1]
    history.exclusions = list(
        session.exec(
            select(Exclusion)
            .where(or_(Exclusion.email == contact.email, Exclusion.domain == domain))
            .order_by(col(Exclusion.id))
        )
    )
    history.suppression = session.exec(
        select(Suppression).where(Suppression.email == contact.email)
    ).first()
    history.hashed_suppressed = (
        session.exec(
            select(HashedSuppression.id).where(
                HashedSuppression.email_hash == email_hash(contact.email)
            )
        ).first()
        is not None
    )
    history.consent = list(
        session.exec(
            select(ConsentRecord)
            .where(ConsentRecord.email == contact.email)
            .order_by(col(ConsentRecord.id))
        )
    )
    return history
