"""A rep's drafts in the order they are due (My day and the Drafts page), searched and paged
in SQL (open contact requests: request_lists).

Due order: a draft whose previous email went out (or the first email) comes first, the oldest
previous send first; then drafts waiting for an earlier email; last the held ones (the contact
unsubscribed, is suppressed or excluded, or in mode A), which are never due.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from campaign_engine.core.kinds import MessageState
from campaign_engine.reporting.search import COUNT_CAP, every_word_in
from campaign_engine.reps.drafts import rep_by_email
from campaign_engine.reps.held import held_reason
from campaign_engine.store.models import Account, Campaign, Contact, Draft, Message, Rep

__all__ = ["DraftRow", "draft_rows"]


@dataclass(frozen=True)
class DraftRow:
    id: int
    campaign: str
    contact_id: int
    contact_email: str
    contact_name: str
    account: str
    segment: str
    rep_email: str
    step: int
    subject: str
    status: str
    status_note: str
    previous_sent_at: datetime | None  # when the email before this one went out
    due_at: datetime | None  # previous send + reminder days (None: first email, or waiting)
    waiting: bool  # the previous email has not gone out yet
    held: str = ""  # why it may not be sent now (unsubscribed, suppressed, excluded...): never due


def _owned(session: Session, rep_email: str | None) -> Any:
    if rep_email is None:
        return sa.true()
    return col(Account.rep_id) == rep_by_email(session, rep_email).id


def _before(previous: Any) -> Any:
    """Join condition: `previous` is the sent email before the draft's step."""
    return sa.and_(
        col(previous.enrollment_id) == col(Draft.enrollment_id),
        col(previous.step) == col(Draft.step) - 1,
        col(previous.state) == MessageState.SENT,
    )


def draft_rows(
    session: Session,
    rep_email: str | None,
    reminder_days: int,
    *,
    text: str = "",
    campaign: str | None = None,
    status: str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[DraftRow], int, bool]:
    """One page of drafts in due order, how many match (counted up to COUNT_CAP or the page),
    and whether more than that match.

    The order is found on narrow rows (ids and sort keys), then the page's 50 drafts are read
    whole: sorting every matching draft with its body was most of the page's time.
    """
    previous = aliased(Message)
    query = (
        select(Draft.id)
        .join(Campaign, col(Campaign.id) == Draft.campaign_id)
        .join(Contact, col(Contact.id) == Draft.contact_id)
        .join(Account, col(Account.id) == Contact.account_id)
        .join(previous, _before(previous), isouter=True)
        .where(_owned(session, rep_email))
    )
    if campaign:
        query = query.where(Campaign.name == campaign)
    if status:
        query = query.where(Draft.status == status)
    query = every_word_in(
        query, text, Contact.email, Contact.first_name, Contact.last_name, Account.name,
        Draft.subject,
    )  # fmt: skip
    waiting = sa.and_(col(Draft.step) > 1, col(previous.sent_at).is_(None))
    held = held_reason(col(Draft.campaign_id))
    ordered = query.order_by(
        sa.case((held.is_not(None), 2), (waiting, 1), else_=0),
        sa.case((col(Draft.step) == 1, 0), else_=1),
        previous.sent_at,
        col(Campaign.start_date),
        col(Contact.email),
        col(Draft.step),
    )
    # One pass finds the order and the count: the ids up to the cap, the page sliced from them.
    cap = max(COUNT_CAP, offset + limit)
    matching = list(session.exec(ordered.limit(cap + 1)).all())
    total = len(matching)
    ids = matching[offset : offset + limit]
    page = (
        select(Draft, Campaign, Contact, Account, Rep, previous.sent_at, held)  # type: ignore[call-overload]
        .join(Campaign, col(Campaign.id) == Draft.campaign_id)
        .join(Contact, col(Contact.id) == Draft.contact_id)
        .join(Account, col(Account.id) == Contact.account_id)
        .join(Rep, col(Rep.id) == Account.rep_id, isouter=True)
        .join(previous, _before(previous), isouter=True)
        .where(col(Draft.id).in_(ids))
    )
    found = {row[0].id: row for row in session.exec(page).all()}
    rows = []
    for draft, camp, contact, account, rep, sent_at, why in (found[i] for i in ids if i in found):
        rows.append(
            DraftRow(
                id=draft.id or 0,
                campaign=camp.name,
                contact_id=contact.id or 0,
                contact_email=contact.email,
                contact_name=f"{contact.first_name} {contact.last_name}".strip(),
                account=account.name,
                segment=account.segment,
                rep_email=rep.email if rep else "",
                step=draft.step,
                subject=draft.subject,
                status=draft.status,
                status_note=draft.status_note or "",
                previous_sent_at=sent_at,
                due_at=sent_at + timedelta(days=reminder_days) if sent_at else None,
                waiting=draft.step > 1 and sent_at is None,
                held=why or "",
            )
        )
    return rows, min(total, cap), total > cap
