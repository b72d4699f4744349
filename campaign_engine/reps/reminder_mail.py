"""Next-step reminders from the database, and one summary email per rep (each reminder once).

Reps who get engagement digests read their reminders in the digest (digests.py claims them); the
separate summary email here goes only to reps whose digests are off.
"""

from __future__ import annotations

import html
import secrets
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parseaddr

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from campaign_engine.core.config import Settings
from campaign_engine.core.kinds import (
    DigestMode,
    DraftStatus,
    EventKind,
    MessageState,
    OutreachMode,
)
from campaign_engine.reps.drafts import rep_by_email
from campaign_engine.reps.reminders import (
    STOPPING_KINDS,
    ContactEvent,
    Reminder,
    SentStep,
    due_reminders,
)
from campaign_engine.sending.mime import build_mime, format_address
from campaign_engine.sending.sequences import Sequence
from campaign_engine.sending.transport import Delivery, Transport
from campaign_engine.store.db import Database
from campaign_engine.store.digest_tables import DigestPreference
from campaign_engine.store.models import (
    Account,
    Campaign,
    Contact,
    Draft,
    Event,
    Message,
    ReminderNotice,
    Rep,
    Suppression,
    ThreadOutcome,
)

__all__ = [
    "ReminderLine",
    "draft_command",
    "draft_path",
    "reminder_key",
    "reminder_lines",
    "send_reminder_emails",
    "unnoticed",
]

_NOTICES: sa.Table = ReminderNotice.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class ReminderLine:
    """A due reminder with what the rep needs to act: the contact, and the draft to send."""

    reminder: Reminder
    rep_id: int
    account: str
    draft_id: int | None

    def to_json(self) -> dict[str, object]:
        r = self.reminder
        return {
            "rep_email": r.rep_email,
            "contact_email": r.contact_email,
            "account": self.account,
            "campaign": r.campaign,
            "sent_step": r.sent_step,
            "sent_at": r.sent_at.isoformat(),
            "next_step": r.next_step,
            "due_at": r.due_at.isoformat(),
            "draft_id": self.draft_id,
        }

    def sentence(self) -> str:
        r = self.reminder
        send = f"`{draft_command(self.draft_id)}`" if self.draft_id else "no open draft"
        return (
            f"{r.contact_email} ({self.account}, {r.campaign}): you sent email {r.sent_step} on"
            f" {r.sent_at:%Y-%m-%d}; time for email {r.next_step}: {send}"
        )


def draft_command(draft_id: int) -> str:
    return f"campaign drafts send {draft_id}"


def draft_path(draft_id: int) -> str:
    """Where the rep edits and sends the draft in the web app (under tracking_base_url)."""
    return f"/app/drafts/{draft_id}"


def reminder_lines(
    session: Session, now: datetime, reminder_days: int, rep_email: str | None = None
) -> list[ReminderLine]:
    """Every reminder due at `now` (for one rep, or all), emailed already or not."""
    query = (
        select(Draft.campaign_id, Contact, Account, Rep, Campaign.sequence_json, Campaign.name)  # type: ignore[call-overload]  # sqlmodel types up to 4
        .join(Contact, col(Contact.id) == Draft.contact_id)
        .join(Account, col(Account.id) == Contact.account_id)
        .join(Rep, col(Rep.id) == Account.rep_id)
        .join(Campaign, col(Campaign.id) == Draft.campaign_id)
        .where(Draft.status == DraftStatus.SENT, Contact.outreach_mode != OutreachMode.DO_NOTHING)
        .distinct()
    )
    if rep_email is not None:
        query = query.where(Account.rep_id == rep_by_email(session, rep_email).id)
    threads = session.exec(query).all()
    if not threads:
        return []
    contacts = {contact.id: (contact, account, rep) for _, contact, account, rep, _, _ in threads}
    campaigns = {cid: (Sequence.from_json(seq), name) for cid, *_, seq, name in threads}
    wanted = {(cid, contact.id) for cid, contact, *_ in threads}
    sent = [
        SentStep(
            campaign_id=cid,
            contact_id=contact_id,
            step=step,
            sent_at=sent_at,
            by_rep=origin == "rep",
            last_step=len(campaigns[cid][0].steps),
            rep_email=contacts[contact_id][2].email,
            contact_email=contacts[contact_id][0].email,
            campaign=campaigns[cid][1],
        )
        for cid, contact_id, step, sent_at, origin in session.exec(
            select(  # type: ignore[call-overload]
                Message.campaign_id,
                Message.contact_id,
                Message.step,
                Message.sent_at,
                Message.origin,
            ).where(col(Message.contact_id).in_(list(contacts)), Message.state == MessageState.SENT)
        ).all()
        if (cid, contact_id) in wanted and sent_at is not None
    ]
    reminders = due_reminders(sent, _events(session, contacts), now, reminder_days)
    drafts = {
        (d.campaign_id, d.contact_id, d.step): d.id
        for d in session.exec(
            select(Draft).where(
                col(Draft.contact_id).in_([r.contact_id for r in reminders]),
                Draft.status == DraftStatus.DRAFT,
            )
        ).all()
    }
    lines = []
    for r in reminders:
        _, account, rep = contacts[r.contact_id]
        assert rep.id is not None
        draft_id = drafts.get((r.campaign_id, r.contact_id, r.next_step))
        lines.append(ReminderLine(r, rep.id, account.name, draft_id))
    return lines


async def send_reminder_emails(
    db: Database, settings: Settings, transport: Transport, now: datetime
) -> int:
    """Email each rep whose digests are off one summary of the reminders not noticed yet (reps
    with digests read them in their digest); returns the emails sent.

    Notices are written before SMTP (unique per campaign, contact and step, so two workers never
    both send one); a refused email frees its notices for the next tick.
    """
    with db.session() as session:
        lines = unnoticed(session, reminder_lines(session, now, settings.reminder_days))
        off = set(
            session.exec(
                select(DigestPreference.rep_id).where(DigestPreference.mode == DigestMode.OFF)
            ).all()
        )
        lines = [line for line in lines if line.rep_id in off]
        reps = {
            rep.id: rep
            for rep in session.exec(
                select(Rep).where(col(Rep.id).in_({line.rep_id for line in lines}))
            )
        }
    by_rep: dict[int, list[ReminderLine]] = defaultdict(list)
    for line in lines:
        by_rep[line.rep_id].append(line)
    claimed: dict[int, list[int]] = {}
    for rep_id, group in by_rep.items():
        try:
            with db.session() as session:
                notices = [
                    ReminderNotice(
                        campaign_id=line.reminder.campaign_id,
                        contact_id=line.reminder.contact_id,
                        rep_id=rep_id,
                        step=line.reminder.next_step,
                        created_at=now,
                    )
                    for line in group
                ]
                session.add_all(notices)
                session.flush()
                claimed[rep_id] = [n.id for n in notices if n.id is not None]
        except IntegrityError:
            continue  # another worker is sending this rep's reminders
    if not claimed:
        return 0
    sender = parseaddr(settings.from_address)[1]
    deliveries = [
        Delivery(
            rep_id,
            sender,
            reps[rep_id].email,
            _summary(settings, reps[rep_id], by_rep[rep_id], now),
        )
        for rep_id in claimed
    ]
    outcomes = await transport.deliver(deliveries)
    sent = {outcome.key for outcome in outcomes if outcome.ok}
    with db.session() as session:
        for rep_id, ids in claimed.items():  # not sent (or not tried): offered again next time
            statement = (
                sa.update(_NOTICES).values(sent_at=now) if rep_id in sent else sa.delete(_NOTICES)
            )
            session.connection().execute(statement.where(_NOTICES.c.id.in_(ids)))
    return len(sent)


def reminder_key(reminder: Reminder) -> tuple[int, int, int]:
    """What a ReminderNotice is unique on: campaign, contact and the step to send."""
    return reminder.campaign_id, reminder.contact_id, reminder.next_step


def unnoticed(session: Session, lines: list[ReminderLine]) -> list[ReminderLine]:
    """The lines no ReminderNotice covers yet (not emailed, not in any digest)."""
    noticed = _noticed(session, [line.reminder.contact_id for line in lines])
    return [line for line in lines if reminder_key(line.reminder) not in noticed]


def _noticed(session: Session, contact_ids: list[int]) -> set[tuple[int, int, int]]:
    if not contact_ids:
        return set()
    rows = session.exec(
        select(ReminderNotice.campaign_id, ReminderNotice.contact_id, ReminderNotice.step).where(
            col(ReminderNotice.contact_id).in_(contact_ids)
        )
    ).all()
    return set(rows)


def _events(
    session: Session, contacts: dict[int | None, tuple[Contact, Account, Rep]]
) -> list[ContactEvent]:
    ids = [cid for cid in contacts if cid is not None]
    events = [
        ContactEvent(cid, kind, at)
        for cid, kind, at in session.exec(
            select(Event.contact_id, Event.kind, Event.occurred_at).where(
                col(Event.contact_id).in_(ids), col(Event.kind).in_(STOPPING_KINDS)
            )
        ).all()
        if cid is not None and at is not None
    ]
    events += [
        ContactEvent(cid, reason, at)
        for cid, reason, at in session.exec(
            select(ThreadOutcome.contact_id, ThreadOutcome.reason, ThreadOutcome.created_at).where(
                col(ThreadOutcome.contact_id).in_(ids)
            )
        ).all()
        if at is not None
    ]
    suppressed = set(
        session.exec(
            select(Suppression.email).where(
                col(Suppression.email).in_([c.email for c, _, _ in contacts.values()])
            )
        ).all()
    )
    for cid, (contact, _, _) in contacts.items():
        if cid is None:
            continue
        if contact.unsubscribed_at is not None:
            events.append(ContactEvent(cid, EventKind.UNSUBSCRIBE, contact.unsubscribed_at))
        if contact.email in suppressed:
            events.append(
                ContactEvent(cid, EventKind.BOUNCE, _EPOCH)
            )  # counts whenever it happened
    return events


def _summary(settings: Settings, rep: Rep, lines: list[ReminderLine], now: datetime) -> bytes:
    count = len(lines)
    subject = f"Time for the next email: {count} contact{'s' if count != 1 else ''}"
    greeting = f"Hi {rep.name.split()[0] if rep.name else 'there'},"
    intro = (
        f"these contacts got your last email {settings.reminder_days} or more days ago; the next"
        " email of the sequence is ready as a draft:"
    )
    items = [line.sentence() for line in lines]
    text = "\n".join([greeting, "", intro, "", *(f"- {item}" for item in items), ""])
    body = "".join(f"<li>{html.escape(item)}</li>" for item in items)
    markup = (
        f"<!DOCTYPE html><html><body><p>{html.escape(greeting)}</p><p>{html.escape(intro)}</p>"
        f"<ul>{body}</ul></body></html>"
    )
    domain = parseaddr(settings.from_address)[1].rsplit("@", 1)[-1] or "localhost"
    return build_mime(
        from_header=format_address(settings.from_address),
        to_header=format_address(rep.email, rep.name),
        subject=subject,
        html=markup,
        text=text,
        message_id=f"<reminders.{secrets.token_hex(8)}@{domain}>",
        date=format_datetime(now),
    )


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
