"""Whether a relay is paused because it (or our set-up) failed, shared through the DB.

A relay fault pauses that relay for every worker: the pause waits 10 s, then doubles up to
`max_pause_seconds` while the relay keeps failing, and ends at the first delivery through it that
works. A fault that will not heal by itself (a wrong password, our sender refused by policy, a
certificate we cannot check) pauses it until its SMTP settings change or the operator runs
`campaign relay resume`. Mail goes through the relays that are not paused (relay_router);
sending as a whole is paused when every relay is.

`is_paused` is the one rule, and `pause_status` the one answer every reader shows: the tick,
`campaign relay status`, `status` and `doctor`, the web console, /healthz and /metrics.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, col, select

from campaign_engine.core.config import DEFAULT_RELAY, Settings, SmtpSettings
from campaign_engine.sending.smtp_replies import RelayFault, how_to_fix
from campaign_engine.store.db import Database
from campaign_engine.store.models import Message
from campaign_engine.store.relay_tables import RelayPause

__all__ = [
    "FIRST_PAUSE",
    "NOT_PAUSED",
    "PauseStatus",
    "RelayStatus",
    "clear_pause",
    "current_pause",
    "current_pauses",
    "describe_pause",
    "is_paused",
    "pause_status",
    "paused_relays",
    "record_fault",
    "relay_statuses",
]

log = logging.getLogger(__name__)

SHARE_WINDOW = timedelta(days=1)  # a relay's share is of the sends of this last span
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
    """Whether sending as a whole is paused for `settings` at `now` (every relay is), as every
    reader shows it. With one relay, its pause."""
    pauses = {p.relay: p for p in current_pauses(db)}
    if len(settings.relays) > 1:
        held = [pauses.get(r.name) for r in settings.relays]
        if not all(p is not None and is_paused(p, settings, now) for p in held):
            return PauseStatus(False, None, NOT_PAUSED)
        down = [p for p in held if p is not None]
        first = min(down, key=lambda p: p.paused_since)
        reasons = ", ".join(f"{p.relay} {p.reason} ({p.detail})" for p in down)
        since = _since(first, settings.timezone, now)
        line = f"sending paused since {since}: every relay is paused: {reasons}"
        return PauseStatus(True, first.paused_since, line + "; see `campaign relay status`")
    pause = pauses.get(settings.relays[0].name)
    if pause is None:
        return PauseStatus(False, None, NOT_PAUSED)
    if is_paused(pause, settings, now):
        return PauseStatus(True, pause.paused_since, describe_pause(pause, settings, now))
    pause_of = f"the pause of {_since(pause, settings.timezone, now)} ({pause.reason})"
    if pause.resume_at is None:
        line = f"{NOT_PAUSED}: the [smtp] settings changed since {pause_of}"
    else:
        line = f"{NOT_PAUSED}: {pause_of} is over"
    return PauseStatus(False, None, line + "; the next tick tries the relay")


@dataclass(frozen=True)
class RelayStatus:
    """One relay at a moment: its pause, and its share of the sends of the last day."""

    name: str
    weight: float
    paused: bool
    state: str  # "sending", or its pause: since when, why and what to do
    sent: int  # messages it took in the SHARE_WINDOW
    share: float  # of all the messages the relays took in that window, 0 to 1

    @property
    def line(self) -> str:
        """'relay ses (weight 3): 75% of the last 24 h's sends (1,200): sending'"""
        return (
            f"relay {self.name} (weight {self.weight:g}): {self.share:.0%} of the last 24 h's"
            f" sends ({self.sent:,}): {self.state}"
        )


def relay_statuses(db: Database, settings: Settings, now: datetime) -> list[RelayStatus]:
    """Every configured relay, in config order."""
    pauses = {p.relay: p for p in current_pauses(db)}
    with db.session() as session:
        sent = dict(
            session.exec(
                select(Message.relay, sa.func.count())
                .where(col(Message.sent_at) >= now - SHARE_WINDOW, col(Message.relay).is_not(None))
                .group_by(col(Message.relay))
            ).all()
        )
    total = sum(sent.values())
    statuses = []
    for relay in settings.relays:
        pause = pauses.get(relay.name)
        paused = is_paused(pause, settings, now)
        state = "sending"
        if paused:
            state = describe_pause(pause, settings, now).replace("sending paused", "paused", 1)
        count = sent.get(relay.name, 0)
        statuses.append(
            RelayStatus(
                relay.name, relay.weight, paused, state, count, count / total if total else 0.0
            )
        )
    return statuses


def current_pauses(db: Database) -> list[RelayPause]:
    """Every relay's pause row, in force or not, by relay name."""
    with db.session() as session:
        pauses = list(session.exec(select(RelayPause).order_by(col(RelayPause.relay))).all())
        for pause in pauses:
            session.expunge(pause)
        return pauses


def current_pause(db: Database, relay: str = DEFAULT_RELAY) -> RelayPause | None:
    """The pause row of `relay` (the one relay of a plain [smtp] by default)."""
    return next((p for p in current_pauses(db) if p.relay == relay), None)


def paused_relays(db: Database, settings: Settings, now: datetime) -> frozenset[str]:
    """The relays no worker may hand anything to at `now`."""
    return frozenset(p.relay for p in current_pauses(db) if is_paused(p, settings, now))


def is_paused(pause: RelayPause | None, settings: Settings, now: datetime) -> bool:
    """True while no worker may hand anything to the pause's relay."""
    relay = _relay(settings, pause.relay) if pause is not None else None
    if pause is None or relay is None:  # no pause, or that relay is no longer configured
        return False
    if pause.resume_at is None:  # lasting: until the operator, or a changed [smtp] config
        return pause.settings_fingerprint == relay.fingerprint()
    return now < pause.resume_at


def record_fault(db: Database, fault: RelayFault, settings: Settings, now: datetime) -> RelayPause:
    """Pause (or extend the pause of) the fault's relay for every worker; logs one line."""
    name = fault.relay or settings.relays[0].name  # the outbox: the one relay there is
    relay = _relay(settings, name) or settings.smtp
    with db.session() as session:
        pause = session.get(RelayPause, name, with_for_update=True)
        failures = 1 if pause is None else pause.failures + 1
        if pause is None:
            pause = RelayPause(relay=name, paused_since=now)
        wait = min(FIRST_PAUSE * (1 << min(failures - 1, 20)), _max_pause(settings))
        pause.failures = failures
        pause.resume_at = None if fault.lasting else now + wait
        pause.stage, pause.reason, pause.detail = fault.stage, fault.reason, fault.detail[:500]
        pause.settings_fingerprint = relay.fingerprint()
        session.add(pause)
        _commit_once(session)
        session.refresh(pause)
        session.expunge(pause)
    line = describe_pause(pause, settings, now)
    if len(settings.relays) > 1:
        line = f"relay {name}: {line.replace('sending paused', 'paused', 1)}"
    log.warning("%s", line, extra={"relay": name, "stage": fault.stage})
    return pause


def clear_pause(db: Database, relay: str | None = None) -> bool:
    """End the pause of `relay`, or of every relay (it took a message, or the operator said
    so); True if there was one."""
    with db.session() as session:
        delete = sa.delete(_PAUSES)
        if relay is not None:
            delete = delete.where(_PAUSES.c.relay == relay)
        return bool(session.connection().execute(delete).rowcount)


def describe_pause(pause: RelayPause | None, settings: Settings, now: datetime) -> str:
    """One line for status, doctor, the log and the web console; the fix names the paused
    relay's own settings table.

    >>> describe_pause(pause, settings, now)  # doctest: +SKIP
    'sending paused since 10:02: relay rejected login (535 5.7.8 bad credentials); ...'
    """
    if pause is None:
        return NOT_PAUSED
    timezone = settings.timezone
    zone = ZoneInfo(timezone)
    line = f"sending paused since {_since(pause, timezone, now)}: {pause.reason} ({pause.detail})"
    if pause.resume_at is None:
        entry = pause.relay if settings.smtp_relays else ""
        fix = how_to_fix(pause.stage, pause.reason, entry) or "fix the relay's settings"
        several = len(settings.relays) > 1
        resume = f"campaign relay resume {pause.relay}" if several else "campaign relay resume"
        return line + f"; {fix}, or run `{resume}` once fixed"
    if pause.resume_at <= now:
        return line + "; the next tick tries again"
    return line + f"; next try at {pause.resume_at.astimezone(zone):%H:%M:%S}"


def _since(pause: RelayPause, timezone: str, now: datetime) -> str:
    """When the pause began, local: '10:02' today, '2021-04-27 10:02' another day."""
    zone = ZoneInfo(timezone)
    since = pause.paused_since.astimezone(zone)
    today = since.date() == now.astimezone(zone).date()
    return since.strftime("%H:%M" if today else "%Y-%m-%d %H:%M")


def _relay(settings: Settings, name: str) -> SmtpSettings | None:
    return next((relay for relay in settings.relays if relay.name == name), None)


def _max_pause(settings: Settings) -> timedelta:
    return max(timedelta(seconds=settings.max_pause_seconds), FIRST_PAUSE)


def _commit_once(session: Session) -> None:
    """Two workers pausing at the same moment both insert the row: the second one updates."""
    try:
        session.commit()
    except sa.exc.IntegrityError:
        session.rollback()
