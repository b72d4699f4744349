"""Read-only lookups the tracking endpoints need: a message's links, and who a page is for."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from campaign_engine.store.models import (
    Account,
    Campaign,
    Contact,
    Message,
    Rep,
    parse_link_registry,
)

__all__ = ["MessageInfo", "PageView", "message_infos", "page_view"]

# Each message also links to its contact page and its unsubscribe page (tracked apart).
PAGE_LINKS = 2


@dataclass(frozen=True)
class MessageInfo:
    """What a hit on one of a message's tokens needs to know about the message."""

    message_id: int
    contact_id: int
    campaign_id: int
    step: int
    sent_at: datetime | None
    links: tuple[str, ...]  # the registered URLs of its step, by link index

    @property
    def links_total(self) -> int:
        return len(self.links) + PAGE_LINKS


@dataclass(frozen=True)
class PageView:
    """What the contact and unsubscribe pages say: whose page it is, and whose rep."""

    message_id: int
    contact_id: int
    email: str
    first_name: str
    account: str
    rep_name: str
    rep_email: str
    unsubscribed: bool


def message_infos(session: Session, message_ids: Collection[int]) -> dict[int, MessageInfo]:
    """The messages that exist among `message_ids`, in one query."""
    found: dict[int, MessageInfo] = {}
    rows = session.exec(
        select(Message, Campaign.links_json)
        .join(Campaign, col(Campaign.id) == Message.campaign_id)
        .where(col(Message.id).in_(list(message_ids)))
    )
    registries: dict[str, dict[int, list[str]]] = {}  # one parse per campaign
    for message, links_json in rows:
        assert message.id is not None
        if links_json not in registries:
            registries[links_json] = parse_link_registry(links_json)
        links = registries[links_json].get(message.step, [])
        found[message.id] = MessageInfo(
            message_id=message.id,
            contact_id=message.contact_id,
            campaign_id=message.campaign_id,
            step=message.step,
            sent_at=message.sent_at,
            links=tuple(str(url) for url in links),
        )
    return found


def page_view(session: Session, message_id: int) -> PageView | None:
    row = session.exec(
        select(Message.contact_id, Contact, Account, Rep)
        .join(Contact, col(Contact.id) == Message.contact_id)
        .join(Account, col(Account.id) == Contact.account_id)
        .join(Rep, col(Rep.id) == Account.rep_id, isouter=True)
        .where(Message.id == message_id)
    ).first()
    if row is None:
        return None
    contact_id, contact, account, rep = row
    return PageView(
        message_id=message_id,
        contact_id=contact_id,
        email=contact.email,
        first_name=contact.first_name,
        account=account.name,
        rep_name=(rep.name or rep.email) if rep else "",
        rep_email=rep.email if rep else "",
        unsubscribed=contact.unsubscribed_at is not None,
    )
