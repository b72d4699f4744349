"""Next-step reminders from the database, and one summary email per rep (each reminder once).

Reps who get engagement digests read their reminders in the digest (digest_claims.py claims them); the
separate summary email here goes only to reps whose digests are off.
"""

from __future__ import annotations

import html
import secrets
from collections import defaultdict
from datetime import datetime
from email.utils import format_datetime, parseaddr

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from campaign_engine.core.config import Settings
from campaign_engine.core.kinds import DigestMode
from campaign_engine.reps.reminder_query import ReminderLine, reminder_lines
from campaign_engine.reps.reminders import Reminder
from campaign_engine.sending.mime import build_mime, format_address
from campaign_engine.sending.transport import Delivery, Transport
from campaign_engine.store.db import Database
from campaign_engine.store.digest_tables import DigestPreference
from campaign_engine.store.models import ReminderNotice, Rep

__all__ = ["reminder_key", "reminder_lines", "send_reminder_emails", "unnoticed"]

_NOTICES: sa.Table = ReminderNotice.__table__  # type: ignore[attr-defined]


async def send_reminder_emails(
    db: Database, settings: Settings, transport: Transport, now: datetime
) -> int:
    """Email each rep whose digests are off one summary of the reminders not noticed yet (reps
    with digests read them in their digest); returns the emails sent.

    Notices are written before SMTP (unique per campaign, contact and step, so two workers never
    both send one); a refused email frees its notices for the next tick.
    """
    with db.session() as session:
        off = set(
            session.exec(
                select(DigestPreference.rep_id).where(DigestPreference.mode == DigestMode.OFF)
            ).all()
        )
        if not off:  # every rep reads the reminders in a digest: no query for them each tick
            return 0
        lines = unnoticed(session, reminder_lines(session, now, settings.reminder_days))
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
    domain = settings.from_domain or "localhost"
    return build_mime(
        from_header=format_address(settings.from_address),
        to_header=format_address(rep.email, rep.name),
        subject=subject,
        html=markup,
        text=text,
        message_id=f"<reminders.{secrets.token_hex(8)}@{domain}>",
        date=format_datetime(now),
    )
