"""What the engine does with a classified, matched incoming mail; each mail is handled once.

A human reply is a contact request (reps.contact_requests, the same path as the contact page);
an auto-reply is recorded, nothing more; a permanent bounce suppresses the address, a transient
one does after 3 within 30 days; a complaint suppresses and stops every enrollment; a mailto
unsubscribe unsubscribes like the link. A bounce or complaint counts towards the automatic
brakes of the campaign that sent the email (sending.brakes), which may pause it. Only on proof (gate.py): what lacks it is held for a
person (review.py) and changes nothing. The `inboundmail` row (unique per Message-ID) is
written last, so a crash before it means the mail is handled again, never lost; every action
is safe to repeat.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from email.utils import parseaddr

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from campaign_engine.audience.suppression import add_suppression
from campaign_engine.audience.unsubscribes import unsubscribe
from campaign_engine.core.config import Settings
from campaign_engine.core.errors import InvalidInput
from campaign_engine.core.kinds import (
    Channel,
    EnrollmentStatus,
    EventKind,
    InboundKind,
    MessageState,
    SuppressReason,
)
from campaign_engine.inbound.classify import Verdict
from campaign_engine.inbound.flood import sender_domain
from campaign_engine.inbound.gate import About, gate
from campaign_engine.inbound.match import find_match
from campaign_engine.inbound.parse import Inbound
from campaign_engine.inbound.reply_text import reply_text
from campaign_engine.inbound.review import Hold, hold
from campaign_engine.reps.brake_alerts import ops_alert
from campaign_engine.reps.contact_requests import (
    MAX_MESSAGE,
    RequestForm,
    record_contact_request,
)
from campaign_engine.sending.brakes import check_reported
from campaign_engine.store import message_counts
from campaign_engine.store.db import Database
from campaign_engine.store.inbound_tables import InboundMail
from campaign_engine.store.models import Contact, Enrollment, Event, Message, Rep

__all__ = ["SOFT_BOUNCE_DAYS", "SOFT_BOUNCE_LIMIT", "Handled", "act", "handle"]

SOFT_BOUNCE_LIMIT, SOFT_BOUNCE_DAYS = 3, 30  # transient failures that make a bounce
_MESSAGES: sa.Table = Message.__table__  # type: ignore[attr-defined]
_ENROLLMENTS: sa.Table = Enrollment.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Handled:
    """What became of one incoming mail."""

    kind: InboundKind
    matched_by: str = ""
    address: str = ""  # the contact it concerns
    step: int | None = None  # the email (step) it answers
    detail: str = ""  # what was done, in words
    already: bool = False  # handled before (same Message-ID): nothing done now

    def __str__(self) -> str:
        if self.already:
            return f"already handled ({self.kind}): nothing to do"
        about = f" {self.address}" if self.address else ""
        email = f" (email {self.step}, matched by {self.matched_by})" if self.step else ""
        return f"{self.kind}{about}{email}: {self.detail}"


def handle(
    db: Database, settings: Settings, mail: Inbound, verdict: Verdict, source: str, now: datetime
) -> Handled:
    with db.session() as session:
        done = session.exec(select(InboundMail.kind).where(InboundMail.mail_key == mail.key))
        previous = done.first()
        if previous is not None:
            return Handled(InboundKind(previous), already=True)
        reported = verdict.failed or mail.original_recipients
        match = find_match(session, settings, mail, reported, now)
        decision = gate(session, settings, mail, verdict, match, now)
    if verdict.kind == InboundKind.NOTICE:
        result = Handled(InboundKind.NOTICE, detail=verdict.status)
    elif verdict.kind == InboundKind.REPLY and _is_ours(db, settings, mail.from_address):
        # A rep (or the engine) writing on the thread with the reply address in copy.
        result = Handled(InboundKind.NOTICE, detail=f"written by {mail.from_address}, one of ours")
    elif isinstance(decision, Hold):
        review_id = hold(db, mail, decision, now)
        named = f" about {decision.address}" if decision.address else ""
        result = Handled(
            InboundKind.UNMATCHED,
            detail=f"{verdict.kind}{named} held for review #{review_id}: {decision.reason}",
        )
    elif decision.contact_id is None:
        result = Handled(
            InboundKind.UNMATCHED,
            detail=f"{verdict.kind} that names nothing we sent: left for a person",
        )
    else:
        result = act(db, settings, mail, verdict, decision, now)
    acted = not isinstance(decision, Hold) and result.kind != InboundKind.UNMATCHED
    about = decision if acted and isinstance(decision, About) else About(None, None, "")
    result = Handled(
        result.kind, about.matched_by, about.email, about.step if acted else None, result.detail
    )
    _remember(db, mail, result, about.message_id, about.contact_id, source, now)
    return result


def act(
    db: Database, settings: Settings, mail: Inbound, verdict: Verdict, about: About, now: datetime
) -> Handled:
    """Do what the mail asks to `about`'s contact (checked before: by `gate`, or by a person)."""
    if verdict.kind == InboundKind.REPLY:
        return _reply(db, settings, mail, verdict, about.message_id, about.email, now)
    if verdict.kind == InboundKind.UNSUBSCRIBE:
        return _unsubscribe(db, about, now)
    action = _ACTIONS.get(verdict.kind)
    if action is None:
        raise InvalidInput(f"a {verdict.kind} changes no contact: there is nothing to apply")
    with db.session() as session:
        handled = action(session, verdict, about, now)
        if verdict.kind not in _BRAKED or about.message_id is None:
            return handled
        paused = check_reported(session, settings, about.message_id, now, ops_alert(settings))
        braked = "".join(f"; campaign {name} paused by the brakes" for name in paused)
        return replace(handled, detail=handled.detail + braked)


def _is_ours(db: Database, settings: Settings, address: str) -> bool:
    own = {parseaddr(settings.from_address)[1].lower(), settings.reply_to, settings.bounce_address}
    if address in own:
        return True
    with db.session() as session:
        return session.exec(select(Rep.id).where(Rep.email == address)).first() is not None


def _reply(
    db: Database,
    settings: Settings,
    mail: Inbound,
    verdict: Verdict,
    message_id: int | None,
    email: str,
    now: datetime,
) -> Handled:
    replied_by = ""
    if mail.from_address and mail.from_address != email:
        replied_by = (
            f"{mail.from_name} <{mail.from_address}>" if mail.from_name else mail.from_address
        )
    text = reply_text(mail.text, MAX_MESSAGE)
    request = record_contact_request(
        db,
        settings,
        now,
        message_id=message_id,
        email=None if message_id else email,
        form=RequestForm(message=text),
        source="reply",
        replied_by=replied_by,
        may_be_automatic=verdict.may_be_automatic,
    )
    with db.session() as session:
        contact = session.exec(select(Contact).where(Contact.email == email)).one()
        _event(session, EventKind.REPLY, message_id, contact.id, replied_by or "the contact", now)
    alert = (
        f"alert to {request.rep_name or request.rep_email}"
        if request.alert_id
        else "no alert (no rep)"
    )
    by = f" (written by {replied_by})" if replied_by else ""
    doubt = f" (may be automatic: {verdict.may_be_automatic})" if verdict.may_be_automatic else ""
    return Handled(
        InboundKind.REPLY,
        detail=f"contact request{by}{doubt}: left automation ({request.stopped_enrollments} enrollment(s)"
        f" stopped), {alert}",
    )


def _auto_reply(session: Session, verdict: Verdict, about: About, now: datetime) -> Handled:
    back = f"back on {verdict.returns_on}" if verdict.returns_on else "no return date stated"
    _event(session, EventKind.AUTO_REPLY, about.message_id, about.contact_id, back, now)
    return Handled(InboundKind.AUTO_REPLY, detail=f"{back} ({verdict.status}); stays in automation")


def _bounce(session: Session, verdict: Verdict, about: About, now: datetime) -> Handled:
    source = f"bounce report {verdict.status}".strip()
    add_suppression(session, about.email, SuppressReason.BOUNCE, source[:250], now)
    _event(session, EventKind.BOUNCE, about.message_id, about.contact_id, verdict.status, now)
    stopped = _stop(session, about.contact_id, "bounced", now, automated_only=True)
    return Handled(
        InboundKind.BOUNCE, detail=f"{verdict.status}: suppressed, {stopped} enrollment(s) stopped"
    )


def _soft_bounce(session: Session, verdict: Verdict, about: About, now: datetime) -> Handled:
    since = now - timedelta(days=SOFT_BOUNCE_DAYS)
    earlier = session.exec(
        select(func.count())
        .select_from(InboundMail)
        .where(
            InboundMail.kind == InboundKind.SOFT_BOUNCE,
            InboundMail.address == about.email,
            col(InboundMail.received_at) >= since,
        )
    ).one()
    count = earlier + 1
    if count < SOFT_BOUNCE_LIMIT:
        return Handled(
            InboundKind.SOFT_BOUNCE,
            detail=f"{verdict.status}: transient failure {count} of {SOFT_BOUNCE_LIMIT} in"
            f" {SOFT_BOUNCE_DAYS} days; not suppressed",
        )
    source = f"{count} transient failures in {SOFT_BOUNCE_DAYS} days, last {verdict.status}"
    add_suppression(session, about.email, SuppressReason.BOUNCE, source[:250], now)
    _event(session, EventKind.BOUNCE, about.message_id, about.contact_id, source, now)
    _stop(session, about.contact_id, "bounced", now, automated_only=True)
    return Handled(InboundKind.SOFT_BOUNCE, detail=f"{source}: suppressed")


def _complaint(session: Session, verdict: Verdict, about: About, now: datetime) -> Handled:
    add_suppression(
        session, about.email, SuppressReason.COMPLAINT, f"feedback loop: {verdict.status}", now
    )
    _event(session, EventKind.COMPLAINT, about.message_id, about.contact_id, verdict.status, now)
    stopped = _stop(session, about.contact_id, "complaint", now, automated_only=False)
    return Handled(
        InboundKind.COMPLAINT,
        detail=f"spam complaint ({verdict.status}): suppressed, every enrollment stopped ({stopped})",
    )


_BRAKED = (InboundKind.BOUNCE, InboundKind.COMPLAINT)  # count towards the automatic brakes
_ACTIONS = {
    InboundKind.AUTO_REPLY: _auto_reply,
    InboundKind.BOUNCE: _bounce,
    InboundKind.SOFT_BOUNCE: _soft_bounce,
    InboundKind.COMPLAINT: _complaint,
}


def _unsubscribe(db: Database, about: About, now: datetime) -> Handled:
    if about.message_id is None:
        raise InvalidInput(f"no email was sent to {about.email}: use `campaign suppress` instead")
    result = unsubscribe(db, now, message_id=about.message_id, source="mailto")
    already = " (already unsubscribed)" if result.already else ""
    return Handled(InboundKind.UNSUBSCRIBE, detail=f"unsubscribed and suppressed{already}")


def _stop(
    session: Session, contact_id: int | None, reason: str, now: datetime, automated_only: bool
) -> int:
    """Stop the contact's active enrollments and skip their messages not yet sent."""
    enrollments = sa.select(_ENROLLMENTS.c.id).where(_ENROLLMENTS.c.contact_id == contact_id)
    active = [
        _ENROLLMENTS.c.contact_id == contact_id,
        _ENROLLMENTS.c.status == EnrollmentStatus.ACTIVE,
    ]
    if automated_only:
        enrollments = enrollments.where(_ENROLLMENTS.c.channel == Channel.AUTOMATED)
        active.append(_ENROLLMENTS.c.channel == Channel.AUTOMATED)
    message_counts.change_states(
        session,
        sa.and_(
            _MESSAGES.c.enrollment_id.in_(enrollments),
            _MESSAGES.c.state.in_((MessageState.QUEUED, MessageState.RETRY)),
        ),
        state=MessageState.SKIPPED,
        skip_reason=reason,
    )
    stopped = session.connection().execute(
        sa.update(_ENROLLMENTS)
        .where(*active)
        .values(
            status=EnrollmentStatus.STOPPED, stop_reason=reason, stopped_at=now, next_due_at=None
        )
    )
    return int(stopped.rowcount)


def _event(
    session: Session,
    kind: EventKind,
    message_id: int | None,
    contact_id: int | None,
    note: str,
    now: datetime,
) -> None:
    session.add(
        Event(kind=kind, message_id=message_id, contact_id=contact_id, note=note, occurred_at=now)
    )


def _remember(
    db: Database,
    mail: Inbound,
    result: Handled,
    message_id: int | None,
    contact_id: int | None,
    source: str,
    now: datetime,
) -> None:
    row = InboundMail(
        mail_key=mail.key[:900],
        kind=result.kind,
        matched_by=result.matched_by,
        message_id=message_id if result.kind != InboundKind.UNMATCHED else None,
        contact_id=contact_id if result.kind != InboundKind.UNMATCHED else None,
        address=result.address,
        sender=mail.from_address[:320],
        sender_domain=sender_domain(mail.from_address)[:255],
        subject=mail.subject[:500],
        detail=result.detail,
        source=source[:500],
        received_at=now,
    )
    try:
        with db.session() as session:
            session.add(row)
    except IntegrityError:  # another worker recorded the same mail a moment ago
        pass
