"""Alerts to reps: rendered when raised, stored, and sent (and retried) until the relay takes them.

An alert row is written in the same transaction as what caused it, so a relay that is down
loses nothing: `send_pending_alerts` (called right after a contact request, and by every tick
before and between its batches of campaign mail) picks up whatever is still queued.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from email.utils import format_datetime, parseaddr
from pathlib import Path

import sqlalchemy as sa
from jinja2.sandbox import SandboxedEnvironment
from sqlmodel import Session, col, select

from campaign_engine.core.config import Settings
from campaign_engine.core.kinds import AlertState
from campaign_engine.reps.mail_retry import (
    note_relay_fault,
    relay_board,
    relay_paused,
    released,
    rep_mail_fate,
)
from campaign_engine.reps.rep_view import rep_mail_environment
from campaign_engine.sending.meeting_guides import MeetingGuide
from campaign_engine.sending.mime import build_mime, format_address, wire_address
from campaign_engine.sending.retry import AttemptResult, RetryPolicy, expired_claims
from campaign_engine.sending.transport import Delivery, Outcome, Transport
from campaign_engine.store.db import Database
from campaign_engine.store.models import Alert

__all__ = [
    "CONTACT_REQUEST",
    "NOBODY",
    "ContactRequestAlert",
    "queue_alert",
    "render_contact_request",
    "send_alerts_now",
    "send_pending_alerts",
]

log = logging.getLogger(__name__)

CONTACT_REQUEST = "contact_request"
NOBODY = (
    "nobody to alert: no rep owns the account and there is no fallback"
    " (set [reps] unassigned_to, or add an ops user)"
)
ALERT_BATCH = 100  # alerts claimed per pass
_ALERTS: sa.Table = Alert.__table__  # type: ignore[attr-defined]
_COLUMNS = (
    "state",
    "error",
    "sent_at",
    "next_attempt_at",
    "claimed_until",
    "attempts",
    "first_attempt_at",
)


@dataclass(frozen=True)
class ContactRequestAlert:
    """Everything the "Contact request" alert tells the rep."""

    contact_name: str
    contact_title: str
    contact_email: str
    account: str
    segment: str
    rep_name: str
    campaign: str  # "" when unknown
    step_number: int | None  # the email they answered; None when unknown
    step_subject: str
    offer_name: str
    meeting: str  # the play's recommended next step for that email
    preferred_time: str
    message: str
    source: str  # "web" (the contact's form), "reply" (they answered) or "manual" (by hand)
    received_at: str  # in the rep's time zone
    replied_by: str = ""  # a colleague of the contact who answered on the thread
    guide: MeetingGuide | None = None  # the play's guide for the meeting this email leads to
    contact_url: str = ""  # the contact in the web app
    role: str = ""  # economic buyer, technical influencer or other, when the sequence is known
    may_be_automatic: str = ""  # a reply with a weak sign of an auto-reply: the sign, in words
    unassigned: bool = False  # no rep owns the account: this goes to the fallback
    assign_command: str = ""  # how to give the account a rep (when unassigned)
    unassigned_url: str = ""  # the console's list of unassigned requests
    handed_over_from: str = ""  # the request moved to this rep from someone else


def render_contact_request(templates_dir: Path, alert: ContactRequestAlert) -> tuple[str, str, str]:
    """(subject, text, html) of the alert, from templates/alerts/contact_request.*.j2."""
    env = _environment(templates_dir)
    context = {"alert": asdict(alert)}
    text = env.get_template("alerts/contact_request.txt.j2").render(context)
    html = env.get_template("alerts/contact_request.html.j2").render(context)
    email_part = f" (email {alert.step_number})" if alert.step_number else ""
    doubt = " (may be automatic)" if alert.may_be_automatic else ""
    subject = (
        f"Contact request{doubt}: {alert.contact_name or alert.contact_email}, {alert.account}"
    )
    return _one_line(subject + email_part), text, html


def queue_alert(
    session: Session,
    *,
    kind: str,
    rep_id: int | None,
    recipient: str,
    contact_id: int | None,
    subject: str,
    text: str,
    html: str,
    reply_to: str,
    now: datetime,
) -> Alert:
    """Store an alert (in the caller's transaction); it is sent by `send_pending_alerts`."""
    alert = Alert(
        kind=kind,
        rep_id=rep_id,
        contact_id=contact_id,
        recipient=recipient,
        reply_to=_one_line(reply_to),
        subject=_one_line(subject),
        text=text,
        html=html,
        state=AlertState.QUEUED if recipient else AlertState.FAILED,
        error=None if recipient else NOBODY,
        created_at=now,
        next_attempt_at=now,
    )
    session.add(alert)
    session.flush()
    return alert


async def send_pending_alerts(
    db: Database, settings: Settings, transport: Transport, now: datetime
) -> int:
    """Send every queued alert that is due; returns how many the relay accepted. Nothing is
    tried while sending is paused for a relay fault: the alerts wait, queued."""
    sent = 0
    while not relay_paused(db, settings, now):
        alerts = _claim(db, settings, now)
        if not alerts:
            break
        deliveries, refused = _deliveries(settings, alerts, now)
        board = relay_board(db, settings, now)
        outcomes = await transport.deliver(deliveries, board=board) if deliveries else []
        _record(db, settings, {a.id: a for a in alerts}, [*outcomes, *refused], now)
        note_relay_fault(db, settings, outcomes, now, board)
        sent += sum(1 for o in outcomes if o.ok)
    return sent


async def send_alerts_now(
    db: Database, settings: Settings, transport_factory: Callable[[], Transport], now: datetime
) -> int:
    """Send the alerts due now on a connection of their own, right where a request came in
    (contact page, reply, by hand, an assignment); a failure is logged and they stay queued
    for the next tick. Returns how many the relay accepted."""
    try:
        async with transport_factory() as transport:
            return await send_pending_alerts(db, settings, transport, now)
    except Exception:
        log.exception("sending alerts failed; the next tick retries them")
        return 0


def _claim(db: Database, settings: Settings, now: datetime) -> list[Alert]:
    with db.session() as session:
        connection = session.connection()
        # A sender that died mid-send: its alerts go out again (a duplicate beats a lost alert).
        connection.execute(
            sa.update(_ALERTS).where(expired_claims(_ALERTS, now)).values(state=AlertState.QUEUED)
        )
        ids = session.exec(
            select(Alert.id)
            .where(Alert.state == AlertState.QUEUED, col(Alert.next_attempt_at) <= now)
            .order_by(col(Alert.id))
            .limit(ALERT_BATCH)
        ).all()
        if not ids:
            return []
        claimed = connection.execute(
            sa.update(_ALERTS)
            .where(_ALERTS.c.id.in_(ids), _ALERTS.c.state == AlertState.QUEUED)
            .values(
                state=AlertState.SENDING,
                claimed_until=now + timedelta(seconds=settings.lease_seconds),
            )
            .returning(_ALERTS.c.id)
        ).all()
        return list(session.exec(select(Alert).where(col(Alert.id).in_([c[0] for c in claimed]))))


def _deliveries(
    settings: Settings, alerts: list[Alert], now: datetime
) -> tuple[list[Delivery], list[Outcome]]:
    sender = parseaddr(settings.from_address)[1]
    domain = sender.rsplit("@", 1)[-1] or "localhost"
    deliveries, refused = [], []
    for alert in alerts:
        assert alert.id is not None
        headers = [("Auto-Submitted", "auto-generated"), ("X-Campaign-Alert", alert.kind)]
        try:
            if alert.reply_to:
                headers.insert(0, ("Reply-To", format_address(alert.reply_to)))
            wire = wire_address(parseaddr(alert.recipient)[1])
            raw = build_mime(
                from_header=format_address(settings.from_address),
                to_header=format_address(alert.recipient),
                subject=alert.subject,
                html=alert.html,
                text=alert.text,
                message_id=f"<alert.{alert.id}.{secrets.token_hex(8)}@{domain}>",
                date=format_datetime(now),
                extra_headers=headers,
            )
        except ValueError as exc:  # a header that would break a line: never sent
            refused.append(Outcome(alert.id, AttemptResult.PERMANENT, str(exc)))
            continue
        deliveries.append(Delivery(alert.id, sender, wire.address, raw, wire.smtputf8))
    return deliveries, refused


def _record(
    db: Database,
    settings: Settings,
    alerts: dict[int | None, Alert],
    outcomes: list[Outcome],
    now: datetime,
) -> None:
    """Every claimed alert leaves `sending`: by its outcome, or back to the queue untried."""
    policy = RetryPolicy.from_settings(settings)
    answered: dict[int | None, Outcome] = {o.key: o for o in outcomes}
    rows = []
    for key, alert in alerts.items():
        outcome = answered.get(key)
        if outcome is None:
            row = released(now, alert.error or "")
        else:
            row = rep_mail_fate(
                outcome,
                attempts=alert.attempts,
                first_attempt_at=alert.first_attempt_at,
                policy=policy,
                now=now,
            )
            _log(alert, str(row["state"]), outcome)
        rows.append(
            {
                "aid": key,
                "attempts": alert.attempts,
                "first_attempt_at": alert.first_attempt_at,
                "sent_at": None,
                **row,
            }
        )
    if not rows:
        return
    with db.session() as session:
        session.connection().execute(
            sa.update(_ALERTS)
            .where(_ALERTS.c.id == sa.bindparam("aid"))
            .values(**{key: sa.bindparam(key) for key in _COLUMNS}),
            rows,
        )


def _log(alert: Alert, state: str, outcome: Outcome) -> None:
    if state == AlertState.FAILED:
        log.error("alert %s to %s failed: %s", alert.id, alert.recipient, outcome.detail)
    elif state == AlertState.QUEUED:
        log.warning("alert %s to %s: %s; retrying", alert.id, alert.recipient, outcome.detail)


def _environment(templates_dir: Path) -> SandboxedEnvironment:
    return rep_mail_environment(templates_dir)


def _one_line(value: str) -> str:
    return " ".join(value.split())
