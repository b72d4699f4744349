"""A contact request: the contact leaves every automated campaign and the owning rep is alerted.

Comes from the hosted contact page (a POST: a GET alone is only a click), from a reply read
from the reply mailbox (source `reply`), or by hand (`campaign contact-request EMAIL`). One transaction does all of it, so the dispatcher's
send-time check (enrollment no longer active) refuses any step not yet handed to SMTP.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from email.utils import formataddr

import sqlalchemy as sa
from sqlmodel import Session, col, select

from campaign_engine.core.config import Settings
from campaign_engine.core.errors import InvalidInput, NotFound
from campaign_engine.core.kinds import (
    Channel,
    EnrollmentStatus,
    EventKind,
    MessageState,
    OutreachMode,
)
from campaign_engine.reps.alerts import (
    CONTACT_REQUEST,
    ContactRequestAlert,
    queue_alert,
    render_contact_request,
)
from campaign_engine.reps.drafts import create_drafts_for_contact
from campaign_engine.reps.rep_view import contact_url, local_time
from campaign_engine.reps.request_note import RequestNote
from campaign_engine.sending.campaigns import sequence_of
from campaign_engine.store.db import Database
from campaign_engine.store.models import Account, Campaign, Contact, Enrollment, Event, Message, Rep

__all__ = [
    "MAX_MESSAGE",
    "MAX_PREFERRED_TIME",
    "STOP_REASON",
    "ContactRequestResult",
    "RequestForm",
    "clean_form",
    "record_contact_request",
]

STOP_REASON = "contact request"
RESUBMIT_WINDOW = timedelta(minutes=10)  # the same request again within this is one request
MAX_MESSAGE = 2000  # characters of the contact's message
MAX_PREFERRED_TIME = 200  # characters of their preferred time
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # control characters but tab and newline
_MESSAGES: sa.Table = Message.__table__  # type: ignore[attr-defined]
_ENROLLMENTS: sa.Table = Enrollment.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class RequestForm:
    """The contact page's fields, cleaned: one line for the time, no stray control characters."""

    message: str = ""
    preferred_time: str = ""


@dataclass(frozen=True)
class ContactRequestResult:
    contact_email: str
    contact_name: str
    rep_name: str
    rep_email: str
    step: int | None
    stopped_enrollments: int
    skipped_messages: int
    alert_id: int | None
    repeated: bool = False  # the same request was just recorded: no second event or alert


def clean_form(fields: Mapping[str, str]) -> RequestForm:
    """Validate the form: too long is refused (InvalidInput); CR/LF never leave the message body.

    >>> clean_form({"preferred_time": "Tue\\r\\nBcc: x@y", "message": "hi\\r\\nthere"})
    RequestForm(message='hi\\nthere', preferred_time='Tue Bcc: x@y')
    """
    message = _CONTROL.sub("", fields.get("message", "").replace("\r\n", "\n").replace("\r", "\n"))
    preferred = " ".join(_CONTROL.sub(" ", fields.get("preferred_time", "")).split())
    if len(message) > MAX_MESSAGE:
        raise InvalidInput(f"message is {len(message)} characters; at most {MAX_MESSAGE} please")
    if len(preferred) > MAX_PREFERRED_TIME:
        raise InvalidInput(
            f"preferred time is {len(preferred)} characters; at most {MAX_PREFERRED_TIME} please"
        )
    return RequestForm(message.strip(), preferred)


def record_contact_request(
    db: Database,
    settings: Settings,
    now: datetime,
    *,
    message_id: int | None = None,
    email: str | None = None,
    form: RequestForm = RequestForm(),
    source: str = "web",
    user_agent: str | None = None,
    ip_prefix: str | None = None,
    replied_by: str = "",
    may_be_automatic: str = "",
) -> ContactRequestResult:
    """Stop automation for the contact, move them to sales direct, record it, queue the alert.

    Identify the contact by the message they answered (`message_id`, from the page) or by
    `email` (by hand: the latest email sent to them is named in the alert, if any).
    `replied_by`: who wrote the reply when it was not the contact (a colleague on the thread).
    `may_be_automatic`: why a reply may be an automatic answer after all (the alert says so).
    """
    with db.session() as session:
        contact, message = _find(session, message_id, email)
        assert contact.id is not None
        account = session.get(Account, contact.account_id)
        assert account is not None
        rep = session.get(Rep, account.rep_id) if account.rep_id else None
        connection = session.connection()
        automated = sa.select(_ENROLLMENTS.c.id).where(
            _ENROLLMENTS.c.contact_id == contact.id,
            _ENROLLMENTS.c.channel == Channel.AUTOMATED,
        )
        skipped = connection.execute(
            sa.update(_MESSAGES)
            .where(
                _MESSAGES.c.enrollment_id.in_(automated),
                _MESSAGES.c.state.in_((MessageState.QUEUED, MessageState.RETRY)),
            )
            .values(state=MessageState.SKIPPED, skip_reason=STOP_REASON)
        ).rowcount
        stopped = connection.execute(
            sa.update(_ENROLLMENTS)
            .where(
                _ENROLLMENTS.c.contact_id == contact.id,
                _ENROLLMENTS.c.channel == Channel.AUTOMATED,
                _ENROLLMENTS.c.status == EnrollmentStatus.ACTIVE,
            )
            .values(
                status=EnrollmentStatus.STOPPED,
                stop_reason=STOP_REASON,
                stopped_at=now,
                next_due_at=None,
            )
        ).rowcount
        contact.outreach_mode = OutreachMode.SALES_ONLY
        contact.updated_at = now
        session.add(contact)
        # The rep takes it from here, with drafts of the emails the contact has not had yet.
        create_drafts_for_contact(session, contact.id, now, settings)
        note = _note(form, source, replied_by)
        content = _alert_content(
            session, contact, account, rep, message, form, source, now, settings.tracking_base_url
        )
        content = replace(content, replied_by=replied_by, may_be_automatic=may_be_automatic)
        result = ContactRequestResult(
            contact_email=contact.email,
            contact_name=content.contact_name,
            rep_name=rep.name if rep else "",
            rep_email=rep.email if rep else "",
            step=content.step_number,
            stopped_enrollments=stopped,
            skipped_messages=skipped,
            alert_id=None,
        )
        if _just_recorded(session, contact.id, note, now):  # a double submit or a reload
            return replace(result, repeated=True)
        session.add(
            Event(
                kind=EventKind.CONTACT_REQUEST,
                message_id=message.id if message else None,
                contact_id=contact.id,
                is_human=True,
                user_agent=user_agent,
                ip_prefix=ip_prefix,
                note=note,
                occurred_at=now,
            )
        )
        subject, text, html = render_contact_request(settings.templates_dir, content)
        alert = queue_alert(
            session,
            kind=CONTACT_REQUEST,
            rep_id=rep.id if rep else None,
            recipient=_address(rep.name, rep.email) if rep else "",
            contact_id=contact.id,
            subject=subject,
            text=text,
            html=html,
            reply_to=_address(content.contact_name, contact.email),
            now=now,
        )
        return replace(result, alert_id=alert.id)


def _just_recorded(session: Session, contact_id: int, note: str, now: datetime) -> bool:
    last = session.exec(
        select(Event.note, Event.occurred_at)
        .where(Event.contact_id == contact_id, Event.kind == EventKind.CONTACT_REQUEST)
        .order_by(col(Event.occurred_at).desc(), col(Event.id).desc())
    ).first()
    return (
        last is not None
        and last[0] == note
        and last[1] is not None
        and now - last[1] <= RESUBMIT_WINDOW
    )


def _find(
    session: Session, message_id: int | None, email: str | None
) -> tuple[Contact, Message | None]:
    if message_id is not None:
        message = session.get(Message, message_id)
        contact = session.get(Contact, message.contact_id) if message else None
        if message is None or contact is None:
            raise NotFound(f"message {message_id} does not exist")
        return contact, message
    wanted = (email or "").strip().lower()
    contact = session.exec(select(Contact).where(Contact.email == wanted)).first()
    if contact is None:
        raise NotFound(f"no contact with email {wanted!r}; import them first")
    latest = session.exec(
        select(Message)
        .where(Message.contact_id == contact.id, Message.state == MessageState.SENT)
        .order_by(col(Message.sent_at).desc(), col(Message.id).desc())
    ).first()
    return contact, latest


def _alert_content(
    session: Session,
    contact: Contact,
    account: Account,
    rep: Rep | None,
    message: Message | None,
    form: RequestForm,
    source: str,
    now: datetime,
    base_url: str,
) -> ContactRequestAlert:
    name = " ".join(f"{contact.first_name} {contact.last_name}".split())
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
    return ContactRequestAlert(
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
        preferred_time=form.preferred_time,
        message=form.message,
        source=source,
        received_at=local_time(now, rep.timezone if rep else "UTC"),
        guide=guide,
        contact_url=contact_url(base_url, contact.id),
        role=role,
    )


def _note(form: RequestForm, source: str, replied_by: str = "") -> str:
    return RequestNote(source, replied_by, form.preferred_time, form.message).stored()


def _address(name: str, email: str) -> str:
    return formataddr((" ".join(name.split()), email))
