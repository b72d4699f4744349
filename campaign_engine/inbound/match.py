"""Which message we sent an incoming mail is about, best evidence first.

1. In-Reply-To / References naming a Message-ID we sent;
2. a signed tag in a recipient address (replies+TAG@, bounces+TAG@; forged tags match nothing);
3. for a DSN or a complaint: the embedded original Message-ID, then the reported recipient
   ("named recipient": no proof; such a report is held for review, see proof.py);
4. last, a From equal to a contact we mailed in the last 30 days (a weaker match).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from campaign_engine.core.config import Settings
from campaign_engine.core.kinds import MessageState
from campaign_engine.core.tokens import TokenKind, TokenSigner
from campaign_engine.inbound.parse import Inbound
from campaign_engine.sending.reply_addresses import tag_of
from campaign_engine.store.models import Contact, Message

__all__ = ["NAMED", "PROOF", "WEAK_MATCH_DAYS", "Match", "find_match", "latest_sent"]

WEAK_MATCH_DAYS = 30
PROOF = ("in-reply-to", "tag", "dsn")  # matches that name a message we sent
NAMED = "named recipient"
_SENT = (MessageState.SENT, MessageState.UNCERTAIN, MessageState.BOUNCED)


@dataclass(frozen=True)
class Match:
    message: Message | None
    contact: Contact | None
    matched_by: str  # in-reply-to, tag, dsn, named recipient, from (weak), or "" for no match


_NONE = Match(None, None, "")


def find_match(
    session: Session,
    settings: Settings,
    mail: Inbound,
    reported: Iterable[str],
    now: datetime,
) -> Match:
    """`reported`: the addresses a DSN or complaint names (empty for other mail)."""
    for found, how in (
        (_by_reference(session, mail.references), "in-reply-to"),
        (_by_tag(session, settings, mail.recipients), "tag"),
        (_by_reference(session, (mail.original_message_id,)), "dsn"),
    ):
        if found is not None:
            return Match(found, session.get(Contact, found.contact_id), how)
    for address in reported:
        contact = _contact(session, address)
        if contact is not None:
            return Match(latest_sent(session, contact, None), contact, NAMED)
    contact = _contact(session, mail.from_address)
    if contact is not None:
        since = now - timedelta(days=WEAK_MATCH_DAYS)
        latest = latest_sent(session, contact, since)
        if latest is not None:
            return Match(latest, contact, "from (weak)")
    return _NONE


def _by_reference(session: Session, ids: Iterable[str]) -> Message | None:
    for header in ids:
        if not header:
            continue
        found = session.exec(select(Message).where(Message.message_id_header == header)).first()
        if found is not None:
            return found
    return None


def _by_tag(session: Session, settings: Settings, recipients: Iterable[str]) -> Message | None:
    signer = TokenSigner(settings.secret)
    bases = {TokenKind.REPLY: settings.reply_to, TokenKind.BOUNCE: settings.bounce_address}
    for address in recipients:
        for kind, base in bases.items():
            tag = tag_of(address, base)
            payload = signer.verify_tag(tag) if tag else None
            if payload is not None and payload.kind == kind:
                return session.get(Message, payload.message_id)
    return None


def _contact(session: Session, address: str) -> Contact | None:
    if "@" not in address or not address.isprintable():  # what a broken report calls an address
        return None
    return session.exec(select(Contact).where(Contact.email == address.lower())).first()


def latest_sent(session: Session, contact: Contact, since: datetime | None) -> Message | None:
    query = select(Message).where(Message.contact_id == contact.id, col(Message.state).in_(_SENT))
    if since is not None:
        query = query.where(col(Message.sent_at) >= since)
    return session.exec(query.order_by(col(Message.sent_at).desc(), col(Message.id).desc())).first()
