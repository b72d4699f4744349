"""Whether sending is paused because the relay (or our set-up) failed, shared through the DB.

A relay fault pauses every worker: the pause waits 10 s, then doubles up to `max_pause_seconds`
while the relay keeps failing, and ends at the first delivery that works. A fault that will not
heal by itself (a wrong password, our sender refused by policy, a certificate we cannot check)
pauses until the [smtp] settings change or the operator runs `campaign relay resume`.

`is_paused` is the one rule, and `pause_status` the one answer every reader shows: the tick,
`campaign relay status`, `status` and `doctor`, the web console, /healthz and /metrics.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session

from campaign_engine.core.config import Settings
from campaign_engine.sending.smtp_replies import RelayFault, how_to_fix
from campaign_engine.store.db import Database
from campaign_engine.store.relay_tables import RELAY_PAUSE_ID, RelayPause

__all__ = [
    "FIRST_PAUSE",
    "NOT_PAUSED",
    "PauseStatus",
    "clear_pause",
    "current_pause",
    "describe_pause",
    "is_paused",
    "pause_status",
    "record_fault",
]

log = logging.getLogger(__name__)

FIRST_PAUSE = timedelta(seconds=10)  # the first wait after a relay fault; doubles per fault
NOT_PAUSED = "sending is not paused"
_PAUSES: sa.Table = RelayPause.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class PauseStatus:
    """Whether sending is paused for these settings at a moment, and the one line that says so."""

    paused: bool
    since: datetime | None  # when the pause in force began
    line: str  # since when, why and what to do; or why a recorded pause no longer holds


def pause_status(db: Database, settings: Settings, now: datetime) -> PauseStatus:
    """The pause in force for `settings` at `now`, as every reader shows it."""
    pause = current_pause(db)
    if pause is None:
        return PauseStatus(False, None, NOT_PAUSED)
    if is_paused(pause, settings, now):
        return PauseStatus(True, pause.paused_since, describe_pause(pause, settings.timezone, now))
    pause_of = f"the pause of {_since(pause, settings.timezone, now)} ({pause.reason})"
    if pause.resume_at is None:
        line = f"{NOT_PAUSED}: the [smtp] settings changed since {pause_of}"
    else:
        line = f"{NOT_PAUSED}: {pause_of} is over"
    return PauseStatus(False, None, line + "; the next tick tries the relay")


def current_pause(db: Database) -> RelayPause | None:
    with db.session() as session:
        pause = session.get(RelayPause, RELAY_PAUSE_ID)
        if pause is not None:
            session.expunge(pause)
        return pause


def is_paused(pause: RelayPause | None, settings: Settings, now: datetime) -> bool:
    """True while no worker may hand anything to the relay."""
    if pause is None:
        return False
    if pause.resume_at is None:  # lasting: until the operator, or a changed [smtp] config
        return pause.settings_fingerprint == settings.smtp.fingerprint()
    return now < pause.resume_at


def record_fault(db: Database, fault: RelayFault, settings: Settings, now: datetime) -> RelayPause:
    """Pause (or extend the pause of) every worker after a relay fault; logs one line."""
    with db.session() as session:
        pause = session.get(RelayPause, RELAY_PAUSE_ID, with_for_update=True)
        failures = 1 if pause is None else pause.failures + 1
        if pause is None:
            pause = RelayPause(id=RELAY_PAUSE_ID, paused_since=now)
        wait = min(FIRST_PAUSE * (1 << min(failures - 1, 20)), _max_pause(settings))
        pause.failures = failures
        pause.resume_at = None if fault.lasting else now + wait
        pause.stage, pause.reason, pause.detail = fault.stage, fault.reason, fault.detail[:500]
        pause.settings_fingerprint = settings.smtp.fingerprint()
        session.add(pause)
        _commit_once(session)
        session.refresh(pause)
        session.expunge(pause)
    log.warning("%s", describe_pause(pause, settings.timezone, now), extra={"relay": fault.stage})
    return pause


def clear_pause(db: Database) -> bool:
    """End the pause (the relay took a message, or the operator said so); True if there was one."""
    with db.session() as session:
        result = session.connection().execute(sa.delete(_PAUSES))
        return bool(result.rowcount)


def describe_pause(pause: RelayPause | None, timezone: str, now: datetime) -> str:
    """One line for status, doctor, the log and the web console.

    >>> describe_pause(pause, "UTC", now)  # doctest: +SKIP
    'sending paused since 10:02: relay rejected login (535 5.7.8 bad credentials); ...'
    """
    if pause is None:
        return NOT_PAUSED
    zone = ZoneInfo(timezone)
    line = f"sending paused since {_since(pause, timezone, now)}: {pause.reason} ({pause.detail})"
    if pause.resume_at is None:
        fix = how_to_fix(pause.stage, pause.reason) or "fix the [smtp] settings"
        return line + f"; {fix}, or run `campaign relay resume` once fixed"
    if pause.resume_at <= now:
        return line + "; the next tick tries again"
    return line + f"; next try at {pause.resume_at.astimezone(zone):%H:%M:%S}"


def _since(pause: RelayPause, timezone: str, now: datetime) -> str:
    """When the pause began, local: '10:02' today, '2021-04-27 10:02' another day."""
    zone = ZoneInfo(timezone)
    since = pause.paused_since.astimezone(zone)
    today = since.date() == now.astimezone(zone).date()
    return since.strftime("%H:%M" if today else "%Y-%m-%d %H:%M")


def _max_pause(settings: Settings) -> timedelta:
    return max(timedelta(seconds=settings.max_pause_seconds), FIRST_PAUSE)


def _commit_once(session: Session) -> None:
    """Two workers pausing at the same moment both insert the row: the second one updates."""
    try:
        session.commit()
    except sa.exc.IntegrityError:
        session.rollback()
