"""A rep sends a draft through the engine: same checks, tracking and unsubscribe as automated mail.

The message row is written (queued) and claimed (sending) before SMTP is touched, unique per
(enrollment, step) like every message; From is the rep, Reply-To the reply mailbox in the rep's
name (or the rep), the envelope sender the engine's bounce address so bounces come back to it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import format_datetime, parseaddr

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from campaign_engine.core.config import Settings
from campaign_engine.core.errors import PermanentSendError, TransientSendError
from campaign_engine.core.kinds import (
    Channel,
    DraftStatus,
    EnrollmentStatus,
    EventKind,
    MessageState,
)
from campaign_engine.core.tokens import TokenKind, TokenSigner
from campaign_engine.reps.draftlinks import (
    CONTACT_PLACEHOLDER,
    UNSUBSCRIBE_PLACEHOLDER,
    check_links,
    fill_placeholders,
    text_to_html,
    track_links,
)
from campaign_engine.reps.drafts import DraftRefused, draft_row
from campaign_engine.sending.dispatcher import active_exclusions, suppression_reasons
from campaign_engine.sending.eligibility import SendFacts, skip_reason
from campaign_engine.sending.mime import build_mime, format_address, list_headers
from campaign_engine.sending.render import LinkTracker, recipient_of
from campaign_engine.sending.reply_addresses import envelope_sender, reply_to_header
from campaign_engine.sending.retry import AttemptResult
from campaign_engine.sending.sequences import Sequence
from campaign_engine.sending.transport import Delivery, Transport
from campaign_engine.store import message_counts
from campaign_engine.store.db import Database
from campaign_engine.store.models import Draft, Event, Message, Suppression

__all__ = ["SentDraft", "send_draft"]

_MESSAGES: sa.Table = Message.__table__  # type: ignore[attr-defined]
# A step whose earlier message never went out may be sent by the rep in its place.
_REUSABLE = (MessageState.SKIPPED, MessageState.FAILED)


@dataclass(frozen=True)
class SentDraft:
    """What went out: which draft, as which message, from whom to whom."""

    draft_id: int
    message_id: int
    step: int
    sender: str
    recipient: str
    subject: str


@dataclass(frozen=True)
class _Prepared:
    message_id: int
    delivery: Delivery
    sent: SentDraft


async def send_draft(
    db: Database,
    settings: Settings,
    transport: Transport,
    draft_id: int,
    rep_email: str | None,
    now: datetime,
    direct_replies: bool = False,
) -> SentDraft:
    """Send one draft now, or raise DraftRefused saying why it may not go out.

    Replies go to the reply mailbox (`reply_to`) when there is one, unless `direct_replies`:
    then straight to the rep.
    """
    try:
        with db.session() as session:
            prepared = _prepare(session, settings, draft_id, rep_email, now, direct_replies)
    except IntegrityError:
        raise DraftRefused(f"draft {draft_id}: this step was just sent by someone else") from None
    with db.session() as session:
        claimed = message_counts.change_states(
            session,
            sa.and_(
                _MESSAGES.c.id == prepared.message_id, _MESSAGES.c.state == MessageState.QUEUED
            ),
            state=MessageState.SENDING,
            claimed_by=f"rep:{prepared.sent.sender}",
            claimed_until=now + timedelta(seconds=settings.lease_seconds),
            on_wire=True,  # handed to the relay at once: a death now leaves it uncertain
            attempts=_MESSAGES.c.attempts + 1,
        )
        if claimed != 1:
            raise DraftRefused(f"draft {draft_id}: its message is being sent by someone else")
    (outcome,) = await transport.deliver([prepared.delivery])
    with db.session() as session:
        message = session.get(Message, prepared.message_id)
        draft = session.get(Draft, draft_id)
        assert message is not None and draft is not None
        message.claimed_by, message.claimed_until, message.on_wire = None, None, False
        message.error = None if outcome.ok else outcome.detail
        if outcome.ok:
            message.state, message.sent_at = MessageState.SENT, now
            draft.status, draft.sent_at, draft.message_id = DraftStatus.SENT, now, message.id
            draft.status_note = None
        elif outcome.result == AttemptResult.ADDRESS_GONE:
            message.state = MessageState.BOUNCED
            draft.status_note = f"bounced: {outcome.detail}"
            _record_bounce(session, message, outcome.detail, now)
        else:
            message.state = MessageState.FAILED  # the rep sends again; the row is reused
            draft.status_note = f"not sent: {outcome.detail}"
        session.add(message)
        session.add(draft)
    if outcome.result == AttemptResult.ADDRESS_GONE:
        raise PermanentSendError(
            f"the relay refused {prepared.sent.recipient}: {outcome.detail}; the address is now"
            " suppressed"
        )
    if not outcome.ok:
        raise TransientSendError(
            f"the relay did not take the email to {prepared.sent.recipient}: {outcome.detail};"
            f" try `campaign drafts send {draft_id}` again later"
        )
    return prepared.sent


def _prepare(
    session: Session,
    settings: Settings,
    draft_id: int,
    rep_email: str | None,
    now: datetime,
    direct_replies: bool,
) -> _Prepared:
    draft, campaign, contact, account, rep = draft_row(session, draft_id, rep_email)
    assert campaign.id is not None and contact.id is not None
    label = f"email {draft.step} to {contact.email}"
    if draft.status == DraftStatus.SENT:
        raise DraftRefused(f"{label} was already sent on {draft.sent_at:%Y-%m-%d %H:%M} UTC")
    if draft.status == DraftStatus.CANCELLED:
        raise DraftRefused(f"draft {draft_id} was cancelled: {draft.status_note or 'no reason'}")
    if rep is None:
        raise DraftRefused(
            f"account {account.name} has no rep to send from; set its owner_email and re-import"
        )
    sequence = Sequence.from_json(campaign.sequence_json)
    facts = SendFacts(
        email=contact.email,
        campaign_id=campaign.id,
        # A stopped automated enrollment (contact request, mode B) is what hands a contact to
        # the rep; what forbids rep mail too is checked directly: unsubscribe, bounce, exclusion.
        enrollment_status=EnrollmentStatus.ACTIVE,
        outreach_mode=contact.outreach_mode,
        segment=account.segment,
        automated_segments=sequence.automated_segments,
        unsubscribed=contact.unsubscribed_at is not None,
        suppression_reason=suppression_reasons(session, [contact.email]).get(contact.email),
    )
    reason = skip_reason(facts, active_exclusions(session), automated=False)
    if reason is not None:
        raise DraftRefused(f"{label} can't be sent: {reason}")
    registry = campaign.link_registry()
    for part in (draft.body_text, draft.body_html):
        check_links(part, draft.step, registry, settings.tracking_base_url)

    message = session.exec(
        select(Message).where(
            Message.enrollment_id == draft.enrollment_id, Message.step == draft.step
        )
    ).first()
    if message is not None and message.state not in _REUSABLE:
        done = message.state in (MessageState.SENT, MessageState.UNCERTAIN)
        raise DraftRefused(
            f"{label} was already sent ({message.origin}, {message.state})"
            if done
            else f"{label} is already queued as an {message.origin} message ({message.state})"
        )
    message = message or Message(
        enrollment_id=draft.enrollment_id,
        campaign_id=campaign.id,
        contact_id=contact.id,
        step=draft.step,
    )
    message.step, message.origin, message.state = draft.step, Channel.REP, MessageState.QUEUED
    message.recipient, message.subject = contact.email, draft.subject
    message.attempts, message.skip_reason, message.error = 0, None, None
    message.due_at, message.created_at = now, now
    message.next_attempt_at = None  # never claimable by the dispatcher: this one is ours
    session.add(message)
    session.flush()
    assert message.id is not None

    engine_sender = parseaddr(settings.from_address)[1]
    domain = engine_sender.rsplit("@", 1)[-1] or "localhost"
    message.message_id_header = f"<{message.id}.{secrets.token_hex(8)}@{domain}>"
    tracker = LinkTracker(TokenSigner(settings.secret), settings.tracking_base_url)
    text, html = _parts(draft, tracker, message.id, registry.get(draft.step, []))
    recipient = recipient_of(contact, account, rep)
    sender = format_address(rep.email, rep.name)
    unsubscribe = tracker.url(TokenKind.UNSUBSCRIBE, message.id)
    reply_to = sender
    if not direct_replies:  # the reply mailbox turns the answer into a contact request
        reply_to = (
            reply_to_header(settings, tracker.signer, message.id, rep.name, rep.email) or sender
        )
    raw = build_mime(
        from_header=sender,
        to_header=format_address(contact.email, recipient.full_name),
        subject=draft.subject,
        html=html,
        text=text,
        message_id=message.message_id_header,
        date=format_datetime(now),
        extra_headers=[
            ("Reply-To", reply_to),
            ("Sender", format_address(settings.from_address)),
            *list_headers(unsubscribe, sequence.key, domain, settings.unsubscribe_mailto),
        ],
    )
    session.add(message)
    sent = SentDraft(draft_id, message.id, draft.step, rep.email, contact.email, draft.subject)
    bounces = envelope_sender(settings, tracker.signer, message.id)
    return _Prepared(message.id, Delivery(message.id, bounces, contact.email, raw), sent)


def _parts(
    draft: Draft, tracker: LinkTracker, message_id: int, links: list[str]
) -> tuple[str, str]:
    """The text and HTML parts: placeholders filled, campaign links tracked, pixel added."""
    pages = {
        CONTACT_PLACEHOLDER: tracker.url(TokenKind.CONTACT, message_id),
        UNSUBSCRIBE_PLACEHOLDER: tracker.url(TokenKind.UNSUBSCRIBE, message_id),
    }
    body = fill_placeholders(draft.body_text, pages)
    text = body.rstrip() + "\n\n" + fill_placeholders(draft.footer_text, pages)
    if draft.body_html:
        html = fill_placeholders(draft.body_html, pages)
    else:
        html = text_to_html(body, fill_placeholders(draft.footer_html, pages), draft.subject)

    def tracked(index: int) -> str:
        return tracker.url(TokenKind.CLICK, message_id, index)

    pixel = (
        f'<img src="{tracker.url(TokenKind.OPEN, message_id)}" width="1" height="1"'
        ' alt="" style="display:block;border:0">'
    )
    html = track_links(html, links, tracked)
    html = html.replace("</body>", pixel + "</body>") if "</body>" in html else html + pixel
    return track_links(text, links, tracked), html


def _record_bounce(session: Session, message: Message, detail: str, now: datetime) -> None:
    exists = session.exec(
        select(Suppression.id).where(Suppression.email == message.recipient)
    ).first()
    if exists is None:
        session.add(
            Suppression(email=message.recipient, reason="bounce", source=detail, created_at=now)
        )
    session.add(
        Event(
            kind=EventKind.BOUNCE,
            message_id=message.id,
            contact_id=message.contact_id,
            note=detail,
            occurred_at=now,
        )
    )
