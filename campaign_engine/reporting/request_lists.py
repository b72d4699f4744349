"""Open contact requests as lists: a rep's (top of My day) and those no rep owns (the console's
Unassigned page, `campaign status`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from campaign_engine.core.kinds import RequestOutcome
from campaign_engine.sending.meeting_guides import MeetingGuide
from campaign_engine.sending.sequences import Sequence
from campaign_engine.store.models import Account, Campaign, Contact, Event, Message
from campaign_engine.store.request_tables import ContactRequest

__all__ = ["RequestLine", "count_unassigned", "handled_by_campaign", "open_requests"]

MAX_LISTED = 200  # open requests on one page; the oldest first past this are still counted


@dataclass(frozen=True)
class RequestLine:
    """An open contact request with what the rep needs to act on it."""

    id: int
    contact_id: int
    email: str
    name: str
    title: str
    account: str
    segment: str
    campaign: str
    step: int | None
    meeting: str  # the play's next step for the email they answered
    guide: MeetingGuide | None
    message: str  # the contact's own words
    preferred_time: str
    source: str
    replied_by: str
    at: datetime


def open_requests(
    session: Session, rep_id: int | None, *, unassigned: bool = False
) -> list[RequestLine]:
    """Open requests, newest first: of the accounts `rep_id` owns (None: every account), or
    with `unassigned`, of the accounts no rep owns."""
    query: Any = (
        select(ContactRequest, Contact, Account, Message.step, Campaign)  # type: ignore[call-overload]
        .join(Contact, col(Contact.id) == ContactRequest.contact_id)
        .join(Account, col(Account.id) == Contact.account_id)
        .join(Event, col(Event.id) == ContactRequest.event_id)
        .join(Message, col(Message.id) == Event.message_id, isouter=True)
        .join(Campaign, col(Campaign.id) == Message.campaign_id, isouter=True)
        .where(col(ContactRequest.outcome).is_(None))
    )
    if unassigned:
        query = query.where(col(Account.rep_id).is_(None))
    elif rep_id is not None:
        query = query.where(Account.rep_id == rep_id)
    rows = session.exec(
        query.order_by(col(ContactRequest.received_at).desc()).limit(MAX_LISTED)
    ).all()
    sequences: dict[int, Sequence] = {}
    lines = []
    for request, contact, account, step, campaign in rows:
        meeting, guide = "", None
        if campaign is not None and step is not None:
            if campaign.id not in sequences:
                sequences[campaign.id] = Sequence.from_json(campaign.sequence_json)
            played = sequences[campaign.id].step(step)
            meeting, guide = played.meeting, played.guide
        lines.append(
            RequestLine(
                id=request.id,
                contact_id=contact.id,
                email=contact.email,
                name=f"{contact.first_name} {contact.last_name}".strip(),
                title=contact.title,
                account=account.name,
                segment=account.segment,
                campaign=campaign.name if campaign else "",
                step=step,
                meeting=meeting,
                guide=guide,
                message=request.message,
                preferred_time=request.preferred_time,
                source=request.source,
                replied_by=request.replied_by,
                at=request.received_at,
            )
        )
    return lines


def count_unassigned(session: Session) -> int:
    """How many open contact requests are of accounts no rep owns."""
    return session.exec(
        select(sa.func.count())
        .select_from(ContactRequest)
        .join(Contact, col(Contact.id) == ContactRequest.contact_id)
        .join(Account, col(Account.id) == Contact.account_id)
        .where(col(ContactRequest.outcome).is_(None), col(Account.rep_id).is_(None))
    ).one()


def handled_by_campaign(session: Session, campaign_ids: list[int]) -> dict[int, dict[str, int]]:
    """Campaign id -> how many of the requests answering its emails were handled each way (every
    outcome listed, 0 included), and how many are still "open"."""
    outcome = sa.func.coalesce(col(ContactRequest.outcome), "open")
    rows = session.exec(
        select(Message.campaign_id, outcome, sa.func.count())
        .select_from(ContactRequest)
        .join(Event, col(Event.id) == ContactRequest.event_id)
        .join(Message, col(Message.id) == Event.message_id)
        .group_by(col(Message.campaign_id), outcome)
    ).all()
    counts = {cid: {**dict.fromkeys(RequestOutcome, 0), "open": 0} for cid in campaign_ids}
    for campaign_id, how, n in rows:
        if campaign_id in counts:
            counts[campaign_id][how] = n
    return counts
