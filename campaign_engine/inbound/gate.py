"""Before an incoming mail changes a contact: what proves it is about that contact, and is its
sender domain within the hourly limit? Otherwise it is held for a person (review.py).

A person's reply needs a match (a reply is never a suppression); a bounce or complaint needs
proof (proof.py); a mailto unsubscribe needs our signed token, or to answer an email we sent to
its sender.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from campaign_engine.core.config import Settings
from campaign_engine.core.kinds import InboundKind
from campaign_engine.core.tokens import TokenKind, TokenSigner
from campaign_engine.inbound.classify import Verdict
from campaign_engine.inbound.flood import SUPPRESSING, over_limit, sender_domain
from campaign_engine.inbound.match import PROOF, Match
from campaign_engine.inbound.parse import Inbound
from campaign_engine.inbound.proof import named_recipients, unproven
from campaign_engine.inbound.review import Hold
from campaign_engine.store.models import Contact, Message

__all__ = ["About", "gate"]


@dataclass(frozen=True)
class About:
    """The message and contact an incoming mail acts on, and how that was established."""

    message_id: int | None
    contact_id: int | None
    email: str
    matched_by: str = ""
    step: int | None = None


def gate(
    session: Session,
    settings: Settings,
    mail: Inbound,
    verdict: Verdict,
    match: Match,
    now: datetime,
) -> About | Hold:
    kind = verdict.kind
    about = _about(session, match.message, match.contact, match.matched_by)
    if kind == InboundKind.REPLY and match.contact is None:
        return Hold(kind, "", None, "a reply that names nothing we sent: who wrote it?")
    if kind == InboundKind.UNSUBSCRIBE:
        found = _unsubscribe_target(session, settings, mail, verdict, match)
        if found is None:
            named = mail.from_address if _is_contact(session, mail.from_address) else ""
            reason = "an unsubscribe without our signed token, not a reply to an email we sent"
            return Hold(kind, named, None, f"{reason} to {mail.from_address or 'its sender'}")
        about = found
    elif kind in SUPPRESSING:
        reason = unproven(match, named_recipients(mail, verdict))
        if reason:
            named = match.contact.email if match.contact and match.matched_by not in PROOF else ""
            return Hold(kind, named, None, reason)
    else:
        return about
    domain = sender_domain(mail.from_address)
    flood = over_limit(session, domain, settings.inbox.reports_per_domain_hour, now)
    return Hold(kind, about.email, about.message_id, flood) if flood else about


def _about(
    session: Session, message: Message | None, contact: Contact | None, matched_by: str
) -> About:
    if contact is None and message is not None:
        contact = session.get(Contact, message.contact_id)
    return About(
        message.id if message else None,
        contact.id if contact else None,
        contact.email if contact else "",
        matched_by if contact else "",
        message.step if message else None,
    )


def _unsubscribe_target(
    session: Session, settings: Settings, mail: Inbound, verdict: Verdict, match: Match
) -> About | None:
    payload = TokenSigner(settings.secret).verify(verdict.token) if verdict.token else None
    if payload is not None and payload.kind == TokenKind.UNSUBSCRIBE:
        message = session.get(Message, payload.message_id)
        if message is not None:
            return _about(session, message, None, "tag")
    replied = match.message
    if match.matched_by in PROOF and replied and replied.recipient == mail.from_address:
        return _about(session, replied, match.contact, match.matched_by)
    return None


def _is_contact(session: Session, address: str) -> bool:
    found = session.exec(select(Contact.id).where(Contact.email == address)).first()
    return "@" in address and found is not None
