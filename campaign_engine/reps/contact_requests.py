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
from campaign_engine.reps.drafts import cancel_open_drafts
from campaign_engine.reps.request_alerts import alert_request
from campaign_engine.reps.request_note import RequestNote
from campaign_engine.store import message_counts
from campaign_engine.store.db import Database
from campaign_engine.store.models import Account, Contact, Enrollment, Event, Message, Rep
from campaign_engine.store.request_tables import ContactRequest

__all__ = [
    "MAX_MESSAGE",
    "MAX_PREFERRED_TIME",
    "STOP_REASON",
    "ContactRequestResult",
    "RequestForm",
    "cancel_note",
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
    cancelled_drafts: int = 0  # the rep's open sequence drafts to them, closed
    alerted: tuple[str, ...] = ()  # who the alert goes to (the rep, or the unassigned fallback)

    @property
    def unassigned(self) -> bool:
        """No rep owns the contact's account: the alert went to the fallback."""
        return not self.rep_email


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
    """Stop automation for the contact, move them to sales direct, close the rep's sequence
    drafts, record the request and queue the alert (the rep's, or the unassigned fallback's).

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
        skipped = message_counts.change_states(
            session,
            sa.and_(
                _MESSAGES.c.enrollment_id.in_(automated),
                _MESSAGES.c.state.in_((MessageState.QUEUED, MessageState.RETRY)),
            ),
            state=MessageState.SKIPPED,
            skip_reason=STOP_REASON,
        )
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
        # The rep talks to them now: the sequence's next emails would answer a raised hand.
        cancelled = cancel_open_drafts(session, contact.id, cancel_note(now), now)
        note = _note(form, source, replied_by)
        result = ContactRequestResult(
            contact_email=contact.email,
            contact_name=" ".join(f"{contact.first_name} {contact.last_name}".split()),
            rep_name=rep.name if rep else "",
            rep_email=rep.email if rep else "",
            step=message.step if message else None,
            stopped_enrollments=stopped,
            skipped_messages=skipped,
            alert_id=None,
            cancelled_drafts=cancelled,
        )
        if _just_recorded(session, contact.id, note, now):  # a double submit or a reload
            return replace(result, repeated=True)
        event = Event(
            kind=EventKind.CONTACT_REQUEST,
            message_id=message.id if message else None,
            contact_id=contact.id,
            is_human=True,
            user_agent=user_agent,
            ip_prefix=ip_prefix,
            note=note,
            occurred_at=now,
        )
        session.add(event)
        session.flush()
        assert event.id is not None
        request = ContactRequest(
            event_id=event.id,
            contact_id=contact.id,
            received_at=now,
            source=source,
            message=form.message,
            preferred_time=form.preferred_time,
            replied_by=replied_by,
            may_be_automatic=may_be_automatic,
        )
        session.add(request)
        session.flush()
        alerts = alert_request(session, settings, request, now)
        return replace(
            result,
            alert_id=alerts[0].id,
            alerted=tuple(a.recipient for a in alerts if a.recipient),
        )


def cancel_note(now: datetime) -> str:
    """Why a contact's open drafts were closed: 'contact requested contact on 2021-04-27'."""
    return f"contact requested contact on {now:%Y-%m-%d}"


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


def _note(form: RequestForm, source: str, replied_by: str = "") -> str:
    return RequestNote(source, replied_by, form.preferred_time, form.message).stored()
