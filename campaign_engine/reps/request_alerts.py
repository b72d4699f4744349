"""Who hears of a contact request: the account's rep, or, while no rep owns the account, the
unassigned fallback (`[reps] unassigned_to`, else the console's ops users), told plainly how to
assign one. When the account gets a rep (or another one), its open requests move to that rep,
who is alerted then (`hand_over_requests`, run by every tick and right after an assignment).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from email.utils import formataddr

import sqlalchemy as sa
from sqlmodel import Session, col, select

from campaign_engine.core.config import Settings
from campaign_engine.core.kinds import UserRole
from campaign_engine.reps.alerts import (
    CONTACT_REQUEST,
    ContactRequestAlert,
    queue_alert,
    render_contact_request,
)
from campaign_engine.reps.rep_view import assign_command, contact_url, local_time
from campaign_engine.sending.campaigns import sequence_of
from campaign_engine.store.db import Database
from campaign_engine.store.models import (
    Account,
    Alert,
    Campaign,
    Contact,
    Event,
    Message,
    Rep,
    User,
)
from campaign_engine.store.request_tables import ContactRequest

__all__ = ["UNASSIGNED_PATH", "alert_request", "fallback_recipients", "hand_over_requests"]

UNASSIGNED_PATH = "/app/unassigned"  # the console's list of requests no rep owns
_REQUESTS: sa.Table = ContactRequest.__table__  # type: ignore[attr-defined]


def fallback_recipients(session: Session, settings: Settings) -> list[str]:
    """Who is alerted when no rep owns the account: `[reps] unassigned_to`, else every active
    ops user of the console."""
    if settings.reps.fallback:
        return settings.reps.fallback
    return list(
        session.exec(
            select(User.email)
            .where(User.role == UserRole.OPS, col(User.disabled).is_(False))
            .order_by(col(User.email))
        ).all()
    )


def alert_request(
    session: Session,
    settings: Settings,
    request: ContactRequest,
    now: datetime,
    handed_over_from: str = "",
) -> list[Alert]:
    """Queue the request's alert (in the caller's transaction) to the account's rep, or to every
    fallback address while it has none; `handed_over_from`: who had it before (a move)."""
    contact = session.get(Contact, request.contact_id)
    assert contact is not None
    account = session.get(Account, contact.account_id)
    assert account is not None
    rep = session.get(Rep, account.rep_id) if account.rep_id else None
    content = _content(session, settings, request, contact, account, rep, handed_over_from)
    recipients = [_address(rep.name, rep.email)] if rep else fallback_recipients(session, settings)
    request.alerted_rep_id = rep.id if rep else None
    session.add(request)
    subject, text, html = render_contact_request(settings.templates_dir, content)
    if rep is None:
        subject = "Unassigned " + subject[0].lower() + subject[1:]
    reply_to = _address(content.contact_name, contact.email)
    return [
        queue_alert(
            session,
            kind=CONTACT_REQUEST,
            rep_id=rep.id if rep else None,
            recipient=recipient,
            contact_id=contact.id,
            subject=subject,
            text=text,
            html=html,
            reply_to=reply_to,
            now=now,
        )
        for recipient in recipients or [""]  # nobody at all: stored failed, saying so
    ]


def hand_over_requests(db: Database, settings: Settings, now: datetime) -> int:
    """Open requests whose account's rep is not the one alerted move to that rep, who is
    alerted now; returns how many moved. Each move is claimed with a conditional update, so two
    processes doing this at once alert once."""
    with db.session() as session:
        rows = session.exec(
            select(ContactRequest, Account.rep_id)
            .join(Contact, col(Contact.id) == ContactRequest.contact_id)
            .join(Account, col(Account.id) == Contact.account_id)
            .where(
                col(ContactRequest.outcome).is_(None),
                col(Account.rep_id).is_not(None),
                sa.or_(
                    col(ContactRequest.alerted_rep_id).is_(None),
                    col(ContactRequest.alerted_rep_id) != col(Account.rep_id),
                ),
            )
            .order_by(col(ContactRequest.id))
        ).all()
        moved = 0
        for request, rep_id in rows:
            before = request.alerted_rep_id
            claimed = (
                session.connection()
                .execute(
                    sa.update(_REQUESTS)
                    .where(
                        _REQUESTS.c.id == request.id,
                        _REQUESTS.c.alerted_rep_id.is_(None)
                        if before is None
                        else _REQUESTS.c.alerted_rep_id == before,
                    )
                    .values(alerted_rep_id=rep_id)
                )
                .rowcount
            )
            if not claimed:
                continue
            previous = session.get(Rep, before) if before else None
            was = previous.email if previous else "the unassigned fallback"
            alert_request(session, settings, request, now, handed_over_from=was)
            moved += 1
        return moved


def _content(
    session: Session,
    settings: Settings,
    request: ContactRequest,
    contact: Contact,
    account: Account,
    rep: Rep | None,
    handed_over_from: str,
) -> ContactRequestAlert:
    event = session.get(Event, request.event_id)
    message = session.get(Message, event.message_id) if event and event.message_id else None
    campaign = session.get(Campaign, message.campaign_id) if message else None
    step_subject = offer_name = meeting = role = ""
    guide = None
    if message is not None and campaign is not None:
        sequence = sequence_of(campaign)
        step = sequence.step(message.step)
        offer = step.offer_for(sequence.persona_for(contact.title))
        role = sequence.role_for(contact.title)
        step_subject = message.subject or step.subject
        offer_name = offer.name if offer else ""
        meeting = step.meeting
        guide = step.guide
    zone = rep.timezone if rep else settings.timezone
    name = " ".join(f"{contact.first_name} {contact.last_name}".split())
    alert = ContactRequestAlert(
        contact_name=name,
        contact_title=" ".join(contact.title.split()),
        contact_email=contact.email,
        account=" ".join(account.name.split()),
        segment=account.segment,
        rep_name=(rep.name or rep.email) if rep else "",
        campaign=campaign.name if campaign else "",
        step_number=message.step if message else None,
        step_subject=step_subject,
        offer_name=offer_name,
        meeting=meeting,
        preferred_time=request.preferred_time,
        message=request.message,
        source=request.source,
        received_at=local_time(request.received_at, zone),
        replied_by=request.replied_by,
        may_be_automatic=request.may_be_automatic,
        guide=guide,
        contact_url=contact_url(settings.tracking_base_url, contact.id),
        role=role,
    )
    if rep is None:
        return replace(
            alert,
            unassigned=True,
            assign_command=assign_command(alert.account),
            unassigned_url=settings.tracking_base_url.rstrip("/") + UNASSIGNED_PATH,
        )
    return replace(alert, handed_over_from=handed_over_from)


def _address(name: str, email: str) -> str:
    return formataddr((" ".join(name.split()), email))
