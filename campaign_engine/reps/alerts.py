"""Alerts to reps: rendered when raised, stored, and sent (and retried) until the relay takes them.

An alert row is written in the same transaction as what caused it, so a relay that is down
loses nothing: `send_pending_alerts` (called after every scheduler tick, and right after a
contact request) picks up whatever is still queued.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from email.utils import format_datetime, parseaddr
from pathlib import Path

import sqlalchemy as sa
from jinja2.sandbox import SandboxedEnvironment
from sqlmodel import Session, col, select

from campaign_engine.core.config import Settings
from campaign_engine.core.kinds import AlertState
from campaign_engine.sending.meeting_guides import MeetingGuide
from campaign_engine.sending.mime import build_mime, format_address
from campaign_engine.sending.templating import template_environment
from campaign_engine.sending.transport import Delivery, Outcome, Transport
from campaign_engine.store.db import Database
from campaign_engine.store.models import Alert

__all__ = [
    "CONTACT_REQUEST",
    "ContactRequestAlert",
    "queue_alert",
    "render_contact_request",
    "send_pending_alerts",
]

log = logging.getLogger(__name__)

CONTACT_REQUEST = "contact_request"
ALERT_BATCH = 100  # alerts claimed per pass
_ALERTS: sa.Table = Alert.__table__  # type: ignore[attr-defined]


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
    source: str  # "web" (the contact's form) or "manual" (recorded by rep or ops)
    received_at: str  # in the rep's time zone
    guide: MeetingGuide | None = None  # the play's guide for the meeting this email leads to
    contact_url: str = ""  # the contact in the web app


def render_contact_request(templates_dir: Path, alert: ContactRequestAlert) -> tuple[str, str, str]:
    """(subject, text, html) of the alert, from templates/alerts/contact_request.*.j2."""
    env = _environment(templates_dir)
    context = {"alert": asdict(alert)}
    text = env.get_template("alerts/contact_request.txt.j2").render(context)
    html = env.get_template("alerts/contact_request.html.j2").render(context)
    email_part = f" (email {alert.step_number})" if alert.step_number else ""
    subject = f"Contact request: {alert.contact_name or alert.contact_email}, {alert.account}"
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
        error=None if recipient else "the account has no rep: nobody to alert",
        created_at=now,
        next_attempt_at=now,
    )
    session.add(alert)
    session.flush()
    return alert


async def send_pending_alerts(
    db: Database, settings: Settings, transport: Transport, now: datetime
) -> int:
    """Send every queued alert that is due; returns how many the relay accepted."""
    sent = 0
    while True:
        alerts = _claim(db, settings, now)
        if not alerts:
            return sent
        deliveries, refused = _deliveries(settings, alerts, now)
        outcomes = await transport.deliver(deliveries) if deliveries else []
        _record(db, settings, {a.id: a for a in alerts}, [*outcomes, *refused], now)
        sent += sum(1 for o in outcomes if o.ok)


def _claim(db: Database, settings: Settings, now: datetime) -> list[Alert]:
    with db.session() as session:
        connection = session.connection()
        # A sender that died mid-send: its alerts go out again (a duplicate beats a lost alert).
        connection.execute(
            sa.update(_ALERTS)
            .where(_ALERTS.c.state == AlertState.SENDING, _ALERTS.c.claimed_until < now)
            .values(state=AlertState.QUEUED)
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
                attempts=_ALERTS.c.attempts + 1,
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
        if alert.reply_to:
            headers.insert(0, ("Reply-To", format_address(alert.reply_to)))
        try:
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
            refused.append(Outcome(alert.id, ok=False, permanent=True, detail=str(exc)))
            continue
        deliveries.append(Delivery(alert.id, sender, parseaddr(alert.recipient)[1], raw))
    return deliveries, refused


def _record(
    db: Database,
    settings: Settings,
    alerts: dict[int | None, Alert],
    outcomes: list[Outcome],
    now: datetime,
) -> None:
    rows = []
    for outcome in outcomes:
        alert = alerts[outcome.key]
        row: dict[str, object] = {"aid": outcome.key, "claimed_until": None, "sent_at": None}
        if outcome.ok:
            row.update(state=AlertState.SENT, sent_at=now, error=None, next_attempt_at=None)
        elif outcome.permanent or alert.attempts >= settings.max_attempts:
            row.update(state=AlertState.FAILED, error=outcome.detail, next_attempt_at=None)
            log.error("alert %s to %s failed: %s", alert.id, alert.recipient, outcome.detail)
        else:
            backoff = settings.retry_base_seconds * 2 ** (alert.attempts - 1)
            row.update(
                state=AlertState.QUEUED,
                error=outcome.detail,
                next_attempt_at=now + timedelta(seconds=backoff),
            )
            log.warning("alert %s to %s: %s; retrying", alert.id, alert.recipient, outcome.detail)
        rows.append(row)
    if not rows:
        return
    with db.session() as session:
        session.connection().execute(
            sa.update(_ALERTS)
            .where(_ALERTS.c.id == sa.bindparam("aid"))
            .values(
                **{
                    key: sa.bindparam(key)
                    for key in ("state", "error", "sent_at", "next_attempt_at", "claimed_until")
                }
            ),
            rows,
        )


def _environment(templates_dir: Path) -> SandboxedEnvironment:
    return template_environment(templates_dir)


def _one_line(value: str) -> str:
    return " ".join(value.split())
