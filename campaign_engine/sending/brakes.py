"""The automatic brakes at work: the last sends of a campaign and of its sending domain, watched
as outcomes come in, and the pause they lead to (the rule itself: brake_rule, pure).

A send is a message the relay accepted or refused as an unknown address (states `sent` and
`bounced`); it bounced hard when it was refused so (5.1.x/5.2.x at RCPT TO, smtp_replies) or a
proven bounce report named it, and it was complained of when a feedback report did (both are
events on the message, inbound/actions). The sending domain is the domain of `from`: every
campaign sends from it, so its window holds every campaign's sends. A window starts afresh
when a campaign is resumed (`brakes_since`), the domain's at the latest such resume: a resumed
campaign is judged on what it sends from then on, not paused again for what it did before.

The dispatcher loads both windows with each batch and adds every outcome as the transport
reports it: at the outcome that reaches a limit it hands nothing more to the relay (what is on
the wire finishes; what was claimed and not handed over goes back to the queue), and the pause
is written when the batch is. A bounce or complaint report coming in later is checked when it
is recorded (`check_reported`).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

import sqlalchemy as sa
from sqlmodel import Session, col, select

from campaign_engine.core.config import Settings
from campaign_engine.core.kinds import CampaignAction, EventKind, MessageState
from campaign_engine.sending.brake_rule import BrakeLimits, Level, Reading, Tally, judge
from campaign_engine.sending.retry import AttemptResult
from campaign_engine.store.campaign_log import log_campaign_action
from campaign_engine.store.models import Campaign, Event, Message

__all__ = [
    "BRAKED",
    "BRAKES",
    "BrakePause",
    "BrakeState",
    "BrakeWatch",
    "OnPause",
    "brake_states",
    "check_reported",
    "resume_command",
    "sending_domain",
]

log = logging.getLogger(__name__)

BRAKES = "brakes"  # who paused it, in the campaign's log and `paused_by`
BRAKED = "campaigns paused by the brakes"  # the tick's count of them
_MESSAGES: sa.Table = Message.__table__  # type: ignore[attr-defined]
_EVENTS: sa.Table = Event.__table__  # type: ignore[attr-defined]
_SENDS = (MessageState.SENT, MessageState.BOUNCED)


@dataclass(frozen=True)
class BrakePause:
    """A campaign the brakes just paused, for whoever tells ops."""

    campaign: str
    reason: str  # one line, ending with the command that resumes it


# Called in the transaction that pauses the campaign (ops' alert goes with it, or neither).
OnPause = Callable[[Session, BrakePause, datetime], None]


def resume_command(name: str) -> str:
    return f"campaign campaigns resume {name}"


def sending_domain(settings: Settings) -> str:
    return settings.from_domain.lower() or "localhost"


class _Mark(NamedTuple):
    message_id: int
    campaign_id: int
    bounced: bool = False
    complained: bool = False


class _Window:
    """The last `size` sends, oldest first, with running counts."""

    def __init__(self, newest_first: list[_Mark], size: int) -> None:
        self._marks: deque[_Mark] = deque(reversed(newest_first), maxlen=size)
        self._bounces = sum(mark.bounced for mark in self._marks)
        self._complaints = sum(mark.complained for mark in self._marks)

    def add(self, mark: _Mark) -> None:
        if len(self._marks) == self._marks.maxlen:
            gone = self._marks[0]
            self._bounces -= gone.bounced
            self._complaints -= gone.complained
        self._marks.append(mark)
        self._bounces += mark.bounced
        self._complaints += mark.complained

    def tally(self) -> Tally:
        return Tally(len(self._marks), self._bounces, self._complaints)

    def latest(self) -> dict[int, int]:
        """Campaign id -> its newest send in the window (what its pause event names)."""
        return {mark.campaign_id: mark.message_id for mark in self._marks}


def _marks(
    session: Session, size: int, since: datetime | None, campaign_id: int | None
) -> list[_Mark]:
    """The last `size` sends (of one campaign, or of all), newest first."""
    m = _MESSAGES.c

    def reported(kind: EventKind) -> sa.Exists:
        return sa.exists().where(_EVENTS.c.message_id == m.id, _EVENTS.c.kind == kind)

    query = sa.select(
        m.id,
        m.campaign_id,
        sa.or_(m.state == MessageState.BOUNCED, reported(EventKind.BOUNCE)),
        reported(EventKind.COMPLAINT),
    ).where(m.state.in_(_SENDS), m.first_attempt_at.is_not(None))
    if since is not None:
        query = query.where(m.first_attempt_at >= since)
    if campaign_id is not None:
        query = query.where(m.campaign_id == campaign_id)
    query = query.order_by(m.first_attempt_at.desc(), m.id.desc()).limit(size)
    return [_Mark._make(row) for row in session.connection().execute(query).all()]


def _domain_since(session: Session) -> datetime | None:
    """The domain's window starts at the latest resume of any campaign."""
    return session.exec(select(sa.func.max(col(Campaign.brakes_since)))).one()


@dataclass
class _Trip:
    reason: str
    campaigns: dict[int, int]  # campaign id -> the send its pause event names


@dataclass
class BrakeWatch:
    """One campaign's window and its domain's, as one batch of it is sent."""

    campaign_id: int
    limits: BrakeLimits
    domain: str
    own: _Window
    shared: _Window
    trip: _Trip | None = None
    halted: bool = False  # paused meanwhile by someone else (ops, another worker's brakes)
    judged: bool = False  # checked since it was loaded

    @classmethod
    def load(cls, session: Session, settings: Settings, campaign: Campaign) -> BrakeWatch:
        assert campaign.id is not None
        limits = BrakeLimits.from_settings(settings)
        own = _marks(session, limits.window, campaign.brakes_since, campaign.id)
        shared = _marks(session, limits.window, _domain_since(session), None)
        return cls(
            campaign.id,
            limits,
            sending_domain(settings),
            _Window(own, limits.window),
            _Window(shared, limits.window),
        )

    @property
    def stopped(self) -> bool:
        """Nothing more of this campaign may be handed to the relay."""
        return self.trip is not None or self.halted

    def note(self, key: int, result: AttemptResult) -> None:
        """One outcome of the batch, as the transport reports it."""
        if result not in (AttemptResult.DELIVERED, AttemptResult.ADDRESS_GONE):
            return
        mark = _Mark(key, self.campaign_id, bounced=result == AttemptResult.ADDRESS_GONE)
        self.own.add(mark)
        self.shared.add(mark)
        # A send that did not bounce never raises a rate (one more send, or an old one
        # leaving a full window): after the first check, only a bounce can reach a limit.
        if self.trip is None and (mark.bounced or not self.judged):
            self.check()

    def check(self) -> None:
        """Trip when a window reached a limit: the campaign's pauses it, the domain's pauses
        every campaign with a send in it."""
        self.judged = True
        own = judge(self.own.tally(), self.limits)
        if own.level == Level.PAUSE:
            self.trip = _Trip(own.reason, {self.campaign_id: self.own.latest()[self.campaign_id]})
            return
        shared = judge(self.shared.tally(), self.limits, f" from {self.domain}")
        if shared.level == Level.PAUSE:
            self.trip = _Trip(shared.reason, self.shared.latest())

    def pause(self, session: Session, now: datetime, on_pause: OnPause | None) -> list[str]:
        """Write the trip: each campaign paused with its reason, a `campaign_paused` event (the
        webhooks), and ops told (`on_pause`); returns the campaigns paused now."""
        if self.trip is None:
            return []
        paused = []
        for campaign_id, message_id in self.trip.campaigns.items():
            campaign = session.get(Campaign, campaign_id)
            if campaign is None or campaign.paused:
                continue
            reason = f"{self.trip.reason}, then `{resume_command(campaign.name)}`"
            campaign.paused, campaign.paused_at, campaign.paused_by = True, now, BRAKES
            campaign.pause_reason = reason
            session.add(campaign)
            log_campaign_action(session, campaign_id, CampaignAction.PAUSED, BRAKES, now)
            session.add(
                Event(
                    kind=EventKind.CAMPAIGN_PAUSED,
                    message_id=message_id,
                    note=reason,
                    occurred_at=now,
                )
            )
            log.warning("campaign %s paused: %s", campaign.name, reason)
            if on_pause is not None:
                on_pause(session, BrakePause(campaign.name, reason), now)
            paused.append(campaign.name)
        return paused


def check_reported(
    session: Session, settings: Settings, message_id: int, now: datetime, on_pause: OnPause | None
) -> list[str]:
    """A bounce or complaint report about `message_id` was just recorded (in `session`): pause
    its campaign when a window now reaches a limit. Returns the campaigns paused."""
    session.flush()
    campaign = session.exec(
        select(Campaign)
        .join(Message, col(Message.campaign_id) == Campaign.id)
        .where(Message.id == message_id)
    ).first()
    if campaign is None or campaign.paused:
        return []
    watch = BrakeWatch.load(session, settings, campaign)
    watch.check()
    return watch.pause(session, now, on_pause)


@dataclass(frozen=True)
class BrakeState:
    """How one window stands, for `status`, the console and /metrics."""

    scope: str  # "campaign" or "domain"
    name: str  # the campaign's name, or the sending domain
    reading: Reading
    pause_reason: str | None = None  # the brakes paused the campaign (and still hold it)

    @property
    def level(self) -> Level:
        """PAUSE while the brakes hold the campaign, else how its window stands."""
        return Level.PAUSE if self.pause_reason else self.reading.level

    @property
    def line(self) -> str:
        """'campaign spring paused: ...', 'sending domain example.com warning: ...'; '' if OK."""
        what = (
            f"campaign {self.name}" if self.scope == "campaign" else f"sending domain {self.name}"
        )
        if self.pause_reason:
            return f"{what} paused by the brakes: {self.pause_reason}"
        if self.reading.level == Level.OK:
            return ""
        word = "brakes warning" if self.reading.level == Level.WARNING else "at the brakes' limit"
        return f"{what} {word}: {self.reading.reason}"


def brake_states(session: Session, settings: Settings) -> list[BrakeState]:
    """Every campaign's window and the sending domain's, judged now."""
    limits = BrakeLimits.from_settings(settings)
    states = []
    for campaign in session.exec(select(Campaign).order_by(col(Campaign.id))):
        marks = _marks(session, limits.window, campaign.brakes_since, campaign.id)
        reading = judge(_Window(marks, limits.window).tally(), limits)
        held = campaign.pause_reason if campaign.paused else None
        states.append(BrakeState("campaign", campaign.name, reading, held))
    domain = sending_domain(settings)
    marks = _marks(session, limits.window, _domain_since(session), None)
    reading = judge(_Window(marks, limits.window).tally(), limits, f" from {domain}")
    states.append(BrakeState("domain", domain, reading))
    return states
