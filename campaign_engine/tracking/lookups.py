"""Read-only lookups the tracking endpoints need: a message's links, and who a page is for."""

from __future__ import annotations

import functools
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
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

_MESSAGES: sa.Table = Message.__table__  # type: ignore[attr-defined]
_CAMPAIGNS: sa.Table = Campaign.__table__  # type: ignore[attr-defined]
_INFOS = (  # built once: a click on a message not in memory yet waits for this query
    sa.select(
        _MESSAGES.c.id,
        _MESSAGES.c.contact_id,
        _MESSAGES.c.campaign_id,
        _MESSAGES.c.step,
        _MESSAGES.c.sent_at,
        _CAMPAIGNS.c.links_json,
    )
    .join_from(_MESSAGES, _CAMPAIGNS, _CAMPAIGNS.c.id == _MESSAGES.c.campaign_id)
    .where(_MESSAGES.c.id.in_(sa.bindparam("ids", expanding=True)))
)

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


def message_infos(
    connection: sa.Connection, message_ids: Collection[int]
) -> dict[int, MessageInfo]:
    """The messages that exist among `message_ids`, in one query of the few columns needed."""
    rows = connection.execute(_INFOS, {"ids": list(message_ids)})
    return {
        message_id: MessageInfo(
            message_id=message_id,
            contact_id=contact_id,
            campaign_id=campaign_id,
            step=step,
            sent_at=sent_at,
            links=_registry(links_json).get(step, ()),
        )
        for message_id, contact_id, campaign_id, step, sent_at, links_json in rows
    }


@functools.lru_cache(maxsize=256)  # one parse per campaign (and per change of its links)
def _registry(links_json: str) -> dict[int, tuple[str, ...]]:
    return {step: tuple(map(str, urls)) for step, urls in parse_link_registry(links_json).items()}


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
