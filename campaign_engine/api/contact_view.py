"""One contact with its history, as the API returns it: campaigns, emails, engagement, stages."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel
from sqlmodel import Session, col, select

from campaign_engine.core.errors import NotFound
from campaign_engine.reporting.stages import stage_label
from campaign_engine.store.models import (
    Account,
    Campaign,
    Contact,
    Enrollment,
    Event,
    Message,
    Rep,
    StageChange,
    Suppression,
)

__all__ = [
    "ContactDetail",
    "EmailOut",
    "EnrollmentOut",
    "EventOut",
    "StageOut",
    "contact_detail",
    "event_out",
]


class EnrollmentOut(BaseModel):
    campaign: str
    channel: str
    status: str
    stop_reason: str | None
    next_step: int
    next_due_at: datetime | None


class EmailOut(BaseModel):
    campaign: str
    step: int
    state: str
    subject: str
    skip_reason: str | None
    sent_at: datetime | None


class EventOut(BaseModel):
    id: int
    kind: str
    occurred_at: datetime | None
    contact_email: str | None
    campaign: str | None
    step: int | None
    url: str | None
    is_human: bool
    bot_reason: str | None
    note: str | None


class StageOut(BaseModel):
    stage: int
    label: str
    changed_on: date
    source: str


class ContactDetail(BaseModel):
    email: str
    first_name: str
    last_name: str
    title: str
    account: str
    segment: str
    employees: int | None
    rep_email: str | None
    outreach_mode: str
    timezone: str  # IANA zone, given or derived from country and region; "" unknown
    unsubscribed_at: datetime | None
    suppressed: str | None  # the suppression reason, when suppressed
    created_at: datetime | None
    updated_at: datetime | None
    enrollments: list[EnrollmentOut]
    emails: list[EmailOut]
    events: list[EventOut]
    stages: list[StageOut]


def event_out(event: Event, email: str | None, campaign: str | None, step: int | None) -> EventOut:
    assert event.id is not None
    return EventOut(
        id=event.id,
        kind=event.kind,
        occurred_at=event.occurred_at,
        contact_email=email,
        campaign=campaign,
        step=step,
        url=event.url,
        is_human=event.is_human,
        bot_reason=event.bot_reason,
        note=event.note,
    )


def contact_detail(session: Session, email: str) -> ContactDetail:
    """The contact named by `email` (any case) with its whole history; NotFound if unknown."""
    row = session.exec(
        select(Contact, Account)
        .join(Account, col(Account.id) == Contact.account_id)
        .where(Contact.email == email.strip().lower())
    ).first()
    if row is None:
        raise NotFound(f"no contact {email.strip().lower()!r}")
    contact, account = row
    rep = session.get(Rep, account.rep_id) if account.rep_id else None
    suppression = session.exec(
        select(Suppression.reason).where(Suppression.email == contact.email)
    ).first()
    names = dict(session.exec(select(Campaign.id, Campaign.name)).all())
    enrollments = session.exec(
        select(Enrollment).where(Enrollment.contact_id == contact.id).order_by(col(Enrollment.id))
    ).all()
    messages = session.exec(
        select(Message).where(Message.contact_id == contact.id).order_by(col(Message.id))
    ).all()
    steps = {m.id: (names.get(m.campaign_id), m.step) for m in messages}
    events = session.exec(
        select(Event).where(Event.contact_id == contact.id).order_by(col(Event.id))
    ).all()
    stages = session.exec(
        select(StageChange)
        .where(StageChange.contact_id == contact.id)
        .order_by(col(StageChange.changed_on), col(StageChange.id))
    ).all()
    return ContactDetail(
        email=contact.email,
        first_name=contact.first_name,
        last_name=contact.last_name,
        title=contact.title,
        account=account.name,
        segment=account.segment,
        employees=account.employees,
        rep_email=rep.email if rep else None,
        outreach_mode=contact.outreach_mode,
        timezone=contact.timezone,
        unsubscribed_at=contact.unsubscribed_at,
        suppressed=suppression,
        created_at=contact.created_at,
        updated_at=contact.updated_at,
        enrollments=[
            EnrollmentOut(
                campaign=names.get(e.campaign_id, ""),
                channel=e.channel,
                status=e.status,
                stop_reason=e.stop_reason,
                next_step=e.next_step,
                next_due_at=e.next_due_at,
            )
            for e in enrollments
        ],
        emails=[
            EmailOut(
                campaign=names.get(m.campaign_id, ""),
                step=m.step,
                state=m.state,
                subject=m.subject,
                skip_reason=m.skip_reason,
                sent_at=m.sent_at,
            )
            for m in messages
        ],
        events=[
            event_out(e, contact.email, *steps.get(e.message_id, (None, None))) for e in events
        ],
        stages=[
            StageOut(
                stage=s.stage, label=stage_label(s.stage), changed_on=s.changed_on, source=s.source
            )
            for s in stages
        ],
    )
