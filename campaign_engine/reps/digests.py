"""Engagement digests to reps: preferences, preview, and the run that claims and sends them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, select

from campaign_engine.core.config import Settings
from campaign_engine.core.errors import NotFound
from campaign_engine.core.kinds import DigestMode
from campaign_engine.reps.alerts import send_pending_alerts
from campaign_engine.reps.digest_claims import (
    claim_events,
    engagement_facts,
    last_runs,
    pending_entries,
    pending_events,
    pending_reminders,
    preferences,
    requeue_expired,
)
from campaign_engine.reps.digest_content import DigestEntry
from campaign_engine.reps.digest_delivery import DigestReport, prepare_digests, record_outcomes
from campaign_engine.reps.digest_schedule import (
    DEFAULT_PREFERENCE,
    WEEKDAYS,
    Preference,
    digest_due,
    format_weekdays,
    parse_weekdays,
    rep_zone,
)
from campaign_engine.reps.digest_unassigned import queue_unassigned_digest
from campaign_engine.reps.mail_retry import note_relay_fault, relay_board, relay_paused
from campaign_engine.reps.reminder_query import ReminderLine
from campaign_engine.sending.transport import Transport
from campaign_engine.store.db import Database
from campaign_engine.store.digest_tables import DigestPreference
from campaign_engine.store.models import Rep

__all__ = [
    "DigestPreview",
    "describe",
    "preview_digest",
    "rep_by_email",
    "send_due_digests",
    "set_preference",
]


@dataclass(frozen=True)
class DigestPreview:
    """What the rep's next digest would contain right now (nothing claimed)."""

    rep: Rep
    preference: Preference
    due: bool
    last_run_at: datetime | None
    entries: list[DigestEntry]
    reminders: list[ReminderLine] = field(default_factory=list)


# -- preferences ------------------------------------------------------------------------------


def rep_by_email(session: Session, email: str) -> Rep:
    rep = session.exec(select(Rep).where(Rep.email == email.strip().lower())).first()
    if rep is None:
        raise NotFound(
            f"no rep with email {email!r}: reps come from `campaign import contacts` (owner_email)"
            " or `campaign import reps`"
        )
    return rep


def set_preference(
    db: Database,
    rep_email: str,
    mode: str | None = None,
    hour: int | None = None,
    weekdays: str | None = None,
) -> tuple[Rep, Preference]:
    """Change what was given, keep the rest; returns the rep and the preference now stored."""
    with db.session() as session:
        rep = rep_by_email(session, rep_email)
        assert rep.id is not None
        current = preferences(session, [rep.id]).get(rep.id, DEFAULT_PREFERENCE)
        wanted = Preference(
            mode=DigestMode(mode) if mode else current.mode,
            hour=current.hour if hour is None else hour,
            weekdays=parse_weekdays(weekdays) if weekdays else current.weekdays,
        )
        row = session.exec(
            select(DigestPreference).where(DigestPreference.rep_id == rep.id)
        ).first()
        row = row or DigestPreference(rep_id=rep.id)
        row.mode, row.hour = wanted.mode.value, wanted.hour
        row.weekdays = ",".join(WEEKDAYS[d] for d in wanted.weekdays)
        session.add(row)
        return rep, wanted


def describe(pref: Preference, timezone: str) -> str:
    """'scheduled: mon-fri at 08:00 Europe/Berlin', 'immediate' or 'off'."""
    if pref.mode != DigestMode.SCHEDULED:
        return pref.mode.value
    return f"scheduled: {format_weekdays(pref.weekdays)} at {pref.hour:02d}:00 {timezone or 'UTC'}"


# -- preview ----------------------------------------------------------------------------------


def preview_digest(
    db: Database, rep_email: str, now: datetime, reminder_days: int = 7
) -> DigestPreview:
    with db.session() as session:
        rep = rep_by_email(session, rep_email)
        assert rep.id is not None
        pref = preferences(session, [rep.id]).get(rep.id, DEFAULT_PREFERENCE)
        last = last_runs(session, [rep.id]).get(rep.id)
        entries = pending_entries(session, rep.id, now)
        reminders = pending_reminders(session, rep, pref, now, reminder_days)
    due = digest_due(pref, rep_zone(rep.timezone), last, now)
    return DigestPreview(rep, pref, due, last, entries, reminders)


# -- sending ----------------------------------------------------------------------------------


async def send_due_digests(
    db: Database,
    settings: Settings,
    transport: Transport,
    now: datetime,
    rep_email: str | None = None,
) -> DigestReport:
    """Claim and send every digest due at `now`; with `rep_email`, that rep's digest regardless
    of schedule. Queued digests (new, after a crash, or after a 4xx) are sent too. Without
    `rep_email`, the engagement no rep owns goes to the unassigned fallback when its slot is
    due (digest_unassigned), sent with the alerts."""
    report = DigestReport()
    forced = rep_email is not None
    with db.session() as session:
        if forced:
            reps = [rep_by_email(session, rep_email or "")]
        else:
            reps = list(session.exec(select(Rep).order_by(col(Rep.id))).all())
        rep_ids = [r.id for r in reps if r.id is not None]
        prefs = preferences(session, rep_ids)
        last = last_runs(session, rep_ids)
        requeue_expired(session, now)
    by_id = {rep.id: rep for rep in reps}
    for rep in reps:
        assert rep.id is not None
        pref = prefs.get(rep.id, DEFAULT_PREFERENCE)
        if not forced and not digest_due(pref, rep_zone(rep.timezone), last.get(rep.id), now):
            continue
        with db.session() as session:
            event_ids = [
                f.event_id for f in engagement_facts(session, *pending_events(rep.id, now))
            ]
            reminders = pending_reminders(session, rep, pref, now, settings.reminder_days)
        scheduled = pref.mode == DigestMode.SCHEDULED and not forced
        if claim_events(db, rep.id, event_ids, now, scheduled, reminders) is None:
            report.nothing_new.append(rep.email)
    if not forced:
        report.unassigned = queue_unassigned_digest(db, settings, now)
    if relay_paused(db, settings, now):  # claimed digests wait, queued, for the relay
        return report
    deliveries, digests = prepare_digests(db, settings, by_id, now, forced)
    board = relay_board(db, settings, now)
    outcomes = await transport.deliver(deliveries, board=board) if deliveries else []
    record_outcomes(db, settings, digests, outcomes, now, report)
    note_relay_fault(db, settings, outcomes, now, board)
    if report.unassigned:
        await send_pending_alerts(db, settings, transport, now)
    return report
