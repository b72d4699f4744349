"""Claims due messages, renders, sends and records them; at most once per (enrollment, step)."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import secrets
import socket
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email.utils import format_datetime, parseaddr

import sqlalchemy as sa
from sqlmodel import Session, col, select

from campaign_engine.core.config import Settings
from campaign_engine.core.kinds import Channel, MessageState
from campaign_engine.sending.brakes import BRAKED, BrakeWatch, OnPause
from campaign_engine.sending.campaigns import renderer_for, schedule_for, sequence_of
from campaign_engine.sending.claim import Claimed, claim
from campaign_engine.sending.delivery_record import BatchResult, record_batch
from campaign_engine.sending.eligibility import (
    CAP_WINDOW,
    FREQUENCY_CAP,
    PROVIDER_PACING,
    SEND_WINDOW,
    SendFacts,
    frequency_cap_until,
    skip_reason,
)
from campaign_engine.sending.mime import build_mime, format_address, list_headers, wire_address
from campaign_engine.sending.outcomes import Outcome
from campaign_engine.sending.pacer import BatchPace, Pacer
from campaign_engine.sending.planner import Schedule
from campaign_engine.sending.queueing import queue_due
from campaign_engine.sending.relay_state import clear_pause, current_pauses, is_paused, record_fault
from campaign_engine.sending.render import Recipient, Renderer
from campaign_engine.sending.reply_addresses import envelope_sender, reply_to_header
from campaign_engine.sending.retry import RetryPolicy, expired_claims
from campaign_engine.sending.send_facts import (
    active_exclusions,
    enrollment_statuses,
    recent_marketing_sends,
    recipients,
    suppression_reasons,
)
from campaign_engine.sending.transport import Delivery, RelayBoard, Transport
from campaign_engine.sending.warmup import ramp_for
from campaign_engine.sending.wire_ledger import Group, WireLedger
from campaign_engine.store import message_counts
from campaign_engine.store.db import Database
from campaign_engine.store.models import Campaign, Message

__all__ = ["Dispatcher", "active_exclusions", "suppression_reasons"]  # the last two: send_facts

log = logging.getLogger(__name__)

_MESSAGES: sa.Table = Message.__table__  # type: ignore[attr-defined]


@dataclass
class _Batch:
    campaign: Campaign
    schedule: Schedule
    renderer: Renderer
    messages: list[Claimed]
    # enrollment id -> (zone, local first day): what each next step is planned from
    places: dict[int, tuple[str | None, date | None]] = field(default_factory=dict)
    brakes: BrakeWatch | None = None  # the campaign's last sends, as this batch adds to them
    # Set when it is sent, for each Delivery: whether on_taken returns at once for a key (see
    # Delivery.ready), and whether more of the batch may still go (Delivery.wanted).
    ready: Callable[[int], bool] = field(default=lambda key: True)
    wanted: Callable[[], bool] = field(default=lambda: True)


@dataclass(frozen=True)
class _Sendable:
    """A message that passed the checks made for the whole batch."""

    message: Claimed
    recipient: Recipient
    zone: str | None  # the contact's zone (None: the campaign's), for the window at send time


class Dispatcher:
    """Sends every message due at `send_due(now)`; holds no state between calls.

    `stop_requested` (set from a signal handler) stops it between two messages: nothing more is
    claimed or handed to the transport, and every claimed message not handed over is released.
    """

    def __init__(self, db: Database, settings: Settings, transport: Transport) -> None:
        self.db = db
        self.settings = settings
        self.transport = transport
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.stop_requested = False
        self.paused = False  # every relay failed (here or in another worker): no more batches
        self.released_on_stop = 0  # claimed messages put back in the queue because of a stop
        # Run after every batch: people's mail (alerts) waits for one batch at most, not a tick.
        self.between_batches: Callable[[], Awaitable[object]] | None = None
        self.on_brake: OnPause | None = None  # tells ops when the brakes pause a campaign
        self._pause_rows: set[str] = set()  # relays with a pause row: lifted when they deliver
        self._skipped: frozenset[str] = frozenset()  # relays in a pause: not used
        # A batch went back to the queue whole (its relays are paused): claiming it again in
        # this tick would only put it back again.
        self._stalled = False
        self._started = time.monotonic()  # when send_due began: `now` moves on from there
        self._policy = RetryPolicy.from_settings(settings)
        self.pacer = Pacer.for_settings(db, settings)  # per mailbox provider
        self._renderers: dict[int, Renderer] = {}
        self._sender = parseaddr(settings.from_address)[1]
        self._from_header = format_address(settings.from_address)
        self._domain = self._sender.rsplit("@", 1)[-1] or "localhost"

    async def send_due(self, now: datetime) -> Counter[str]:
        """Recover stale claims, queue every due step, then send what is claimable."""
        counts: Counter[str] = Counter()
        self._started = time.monotonic()
        uncertain, requeued = self._expire_leases(now)
        counts["uncertain"] += uncertain
        counts["released"] += requeued
        pauses = current_pauses(self.db)
        self._pause_rows = {pause.relay for pause in pauses}
        self._skipped = frozenset(p.relay for p in pauses if is_paused(p, self.settings, now))
        self.paused = self._every_relay_paused()
        self._stalled = False
        if self.paused:
            return counts
        with self.db.session() as session:
            campaigns = session.exec(select(Campaign).order_by(col(Campaign.id))).all()
        budget = self.settings.max_per_tick
        for campaign in campaigns:
            if campaign.paused:
                continue  # paused by ops: nothing of it is queued or sent until resumed
            sequence = sequence_of(campaign)
            schedule = schedule_for(campaign, sequence)  # windows are each contact's own
            # Plan and send in batch-sized slices: several workers then share both the
            # planning and the sending, and a crash strands at most one slice.
            while budget > 0 and not (self.stop_requested or self.paused or self._stalled):
                size = min(budget, self.settings.batch_size)
                queued = self._queue_due(campaign, schedule, now, size)
                counts["queued"] += queued
                batch = self._claim(campaign, schedule, now, size)
                if batch is None:
                    if queued:
                        continue  # another worker claimed what we queued
                    break
                budget -= len(batch.messages)
                await self._send(batch, now, counts)
                if self.between_batches is not None:
                    await self.between_batches()
                if batch.brakes is not None and batch.brakes.stopped:
                    break  # paused (by the brakes, or meanwhile by ops): nothing more of it
        return counts

    # -- planning -------------------------------------------------------------------------

    def _queue_due(self, campaign: Campaign, schedule: Schedule, now: datetime, limit: int) -> int:
        """Write a queued message for each due step before anything touches SMTP (queueing)."""
        return queue_due(self.db, campaign, schedule, now, limit, ramp_for(self.settings))

    # -- claiming -------------------------------------------------------------------------

    def _expire_leases(self, now: datetime) -> tuple[int, int]:
        """A claim whose lease ran out belongs to a worker that died mid-send: the messages it
        had cleared for the relay (`on_wire`, see wire_ledger) may have been accepted, so they
        are marked uncertain and reported, never resent on their own; the rest were never
        handed over and go back to the queue. Returns (uncertain, requeued)."""
        with self.db.session() as session:
            connection = session.connection()
            uncertain = connection.execute(
                sa.update(_MESSAGES)
                .where(expired_claims(_MESSAGES, now), _MESSAGES.c.on_wire)
                .values(
                    state=MessageState.UNCERTAIN,
                    error="worker lease expired during send",
                    on_wire=False,
                )
                .returning(*message_counts.KEY_COLUMNS)
            ).all()
            requeued = connection.execute(
                sa.update(_MESSAGES)
                .where(expired_claims(_MESSAGES, now))
                .values(state=MessageState.QUEUED, claimed_by=None, claimed_until=None)
                .returning(*message_counts.KEY_COLUMNS)
            ).all()
            sending = MessageState.SENDING
            message_counts.moved(
                session,
                (
                    (message_counts.key_of(row, state=sending), message_counts.key_of(row))
                    for row in (*uncertain, *requeued)
                ),
            )
            return len(uncertain), len(requeued)

    def _claim(
        self, campaign: Campaign, schedule: Schedule, now: datetime, size: int
    ) -> _Batch | None:
        assert campaign.id is not None
        until = now + timedelta(seconds=self.settings.lease_seconds)
        with self.db.session() as session:
            messages = claim(session, campaign.id, self.worker_id, now, until, size)
        if not messages:
            return None
        renderer = self._renderer(campaign)
        return _Batch(campaign, schedule, renderer, messages)

    def _renderer(self, campaign: Campaign) -> Renderer:
        assert campaign.id is not None
        if campaign.id not in self._renderers:
            self._renderers[campaign.id] = renderer_for(
                self.settings, sequence_of(campaign), campaign.link_registry()
            )
        return self._renderers[campaign.id]

    # -- sending --------------------------------------------------------------------------

    async def _send(self, batch: _Batch, now: datetime, counts: Counter[str]) -> None:
        updates: dict[int, dict[str, object]] = {}
        to_send = self._check(batch, updates, now)
        to_send, pace = await self._pace(to_send, updates, now)
        with self.db.session() as session:
            brakes = batch.brakes = BrakeWatch.load(session, self.settings, batch.campaign)
        ledger = WireLedger(
            [s.message.id for s in to_send],
            self.settings.connections,
            functools.partial(self._write, batch, now, updates),
        )
        for key in updates:  # skipped or deferred by the checks: written with the first group
            ledger.held_back(key)
        batch.ready = functools.partial(_at_once, pace, ledger)
        batch.wanted = functools.partial(self._going, batch)
        # Rendering is lazy: each SMTP connection renders its next message while the others
        # wait on the relay, so rendering overlaps the network instead of preceding it. Only
        # what the transport took may have reached the relay: messages rendered (and signed)
        # ahead of the connections are not handed over, and go back to the queue.
        deliveries = self._render(batch, to_send, updates, now, ledger)
        board = RelayBoard(self._skipped)

        def answered(outcome: Outcome) -> None:  # the brakes see each outcome as it comes
            ledger.answered(outcome)
            brakes.note(outcome.key, outcome.result)

        try:
            if to_send:
                await self.transport.deliver(
                    deliveries, pace.taken(ledger.admit), pace.answered(answered), board
                )
        except asyncio.CancelledError:
            # The stop's grace ran out mid-send: what the relay answered is recorded, what it
            # had in flight is unknown.
            ledger.close_now()
            self._settle_batch(batch, ledger, counts, now, board)
            raise
        except Exception as exc:  # a transport bug must not strand the batch in `sending`
            log.exception("transport failed; the batch goes back to the queue")
            counts["transport errors"] += 1
            ledger.close_now()
            self._settle_batch(batch, ledger, counts, now, board)
            raise exc
        await ledger.close()
        pace.learn()
        self._settle_batch(batch, ledger, counts, now, board)

    def _check(
        self, batch: _Batch, updates: dict[int, dict[str, object]], now: datetime
    ) -> list[_Sendable]:
        """Send-time checks; skipped and deferred messages get their update, the rest are
        returned."""
        campaign = batch.campaign
        assert campaign.id is not None
        contact_ids = [m.contact_id for m in batch.messages]
        cap = self.settings.max_marketing_per_week
        with self.db.session() as session:
            info = recipients(session, contact_ids)
            sends = (
                recent_marketing_sends(session, batch.messages, now - CAP_WINDOW, now)
                if cap
                else {}
            )
            statuses = enrollment_statuses(session, [m.enrollment_id for m in batch.messages])
            suppressed = suppression_reasons(session, [r.email for r, _, _ in info.values()])
            exclusions = active_exclusions(session)
        to_send = []
        for message in batch.messages:
            recipient, mode, unsubscribed = info[message.contact_id]
            status, zone, first_day = statuses[message.enrollment_id]
            batch.places[message.enrollment_id] = (zone, first_day)
            facts = SendFacts(
                email=recipient.email,
                campaign_id=campaign.id,
                enrollment_status=status,
                outreach_mode=mode,
                segment=recipient.segment,
                automated_segments=batch.renderer.sequence.automated_segments,
                unsubscribed=unsubscribed,
                suppression_reason=suppressed.get(recipient.email),
            )
            reason = skip_reason(facts, exclusions)
            if reason is None and message.origin == Channel.AUTOMATED:
                recent = sends.setdefault(message.contact_id, [])
                until = frequency_cap_until(recent, now, cap)
                if until is not None:
                    updates[message.id] = _deferral(message, recipient, until, FREQUENCY_CAP)
                    continue
                recent.append(now)  # a second message to them in this batch counts this one
            if reason is None:
                to_send.append(_Sendable(message, recipient, zone))
                continue
            updates[message.id] = {
                "state": MessageState.SKIPPED,
                "skip_reason": reason,
                "recipient": recipient.email,
                "subject": "",
                "message_id_header": "",
            }
        return to_send

    async def _pace(
        self, to_send: list[_Sendable], updates: dict[int, dict[str, object]], now: datetime
    ) -> tuple[list[_Sendable], BatchPace]:
        """Hold back what the recipients' mailbox providers have no room for yet (pacer)."""
        addresses = {s.message.id: s.recipient.email for s in to_send}
        pace = await self.pacer.admit(addresses, lambda: self._at(now))
        for message, recipient in ((s.message, s.recipient) for s in to_send):
            if message.id in pace.held:
                until = pace.held[message.id]
                updates[message.id] = _deferral(message, recipient, until, PROVIDER_PACING)
        return [s for s in to_send if s.message.id not in pace.held], pace

    def _render(
        self,
        batch: _Batch,
        to_send: list[_Sendable],
        updates: dict[int, dict[str, object]],
        now: datetime,
        ledger: WireLedger,
    ) -> Iterator[Delivery]:
        """Each message built only when the transport asks for it; one that cannot be built
        fails alone, and nothing more is built once a stop was requested.

        The contact's window is checked again here, just before the wire: a message queued
        inside it may reach this point hours later (a relay outage, a slow rate limit).
        """
        date_header = format_datetime(now)
        for message, recipient, zone in ((s.message, s.recipient, s.zone) for s in to_send):
            if not self._going(batch):
                return
            if message.origin == Channel.AUTOMATED:
                at = self._at(now)
                if not batch.schedule.is_open(at, zone):
                    opening = batch.schedule.next_opening(at, zone)
                    updates[message.id] = _deferral(message, recipient, opening, SEND_WINDOW)
                    ledger.held_back(message.id)
                    continue
            try:
                delivery = self._build(batch, message, recipient, updates, date_header)
            except Exception as exc:  # template, encoding, header: this message only
                log.warning("message %s to %s not built: %s", message.id, recipient.email, exc)
                updates[message.id] = {
                    "state": MessageState.FAILED,
                    "recipient": recipient.email,
                    "error": f"could not build the message: {exc}",
                }
                ledger.held_back(message.id)
                continue
            yield delivery

    def _build(
        self,
        batch: _Batch,
        message: Claimed,
        recipient: Recipient,
        updates: dict[int, dict[str, object]],
        date_header: str,
    ) -> Delivery:
        email = batch.renderer.render(message.step, recipient, message.id)
        header_id = f"<{message.id}.{secrets.token_hex(8)}@{self._domain}>"
        signer = batch.renderer.tracker.signer
        reply_to = reply_to_header(
            self.settings, signer, message.id, recipient.rep_name, recipient.rep_email
        )
        wire = wire_address(recipient.email)
        raw = build_mime(
            from_header=self._from_header,
            to_header=format_address(recipient.email, recipient.full_name),
            subject=email.subject,
            html=email.html,
            text=email.text,
            message_id=header_id,
            date=date_header,
            extra_headers=[
                *([("Reply-To", reply_to)] if reply_to else []),
                *list_headers(
                    email.unsubscribe_url,
                    batch.renderer.sequence.key,
                    self._domain,
                    self.settings.unsubscribe_mailto,
                ),
            ],
        )
        updates[message.id] = {
            "recipient": recipient.email,
            "subject": email.subject,
            "message_id_header": header_id,
        }
        sender = envelope_sender(self.settings, signer, message.id)
        return Delivery(
            message.id, sender, wire.address, raw, wire.smtputf8, batch.ready, batch.wanted
        )

    def _going(self, batch: _Batch) -> bool:
        """More of `batch` may go to the relay: no stop was asked, the brakes did not trip."""
        return not (self.stop_requested or (batch.brakes is not None and batch.brakes.stopped))

    def _at(self, now: datetime) -> datetime:
        """`now` moved on by the time send_due has taken so far."""
        return now + timedelta(seconds=time.monotonic() - self._started)

    def _write(
        self,
        batch: _Batch,
        now: datetime,
        updates: dict[int, dict[str, object]],
        group: Group,
        counts: Counter[str],
    ) -> BatchResult:
        """One group commit of the ledger (in its thread): new marks, then known fates."""
        with self.db.session() as session:
            if group.marks:
                session.connection().execute(
                    sa.update(_MESSAGES).where(_MESSAGES.c.id.in_(group.marks)).values(on_wire=True)
                )
            if not group.settled:
                return BatchResult()
            if batch.brakes is not None and _paused(session, batch.campaign):
                batch.brakes.halted = True  # ops (or another worker's brakes) paused it
            settled = set(group.settled)
            return record_batch(
                session,
                batch.schedule,
                [m for m in batch.messages if m.id in settled],
                {key: updates[key] for key in group.settled if key in updates},
                group.outcomes,
                group.cut_short,
                self._policy,
                now,
                counts,
                batch.places,
            )

    def _settle_batch(
        self,
        batch: _Batch,
        ledger: WireLedger,
        counts: Counter[str],
        now: datetime,
        board: RelayBoard,
    ) -> None:
        """The batch is written: its counts, each relay's pause set or lifted, and the
        campaigns the brakes stopped paused."""
        counts.update(ledger.counts)
        if batch.brakes is not None and batch.brakes.trip is not None:
            with self.db.session() as session:
                counts[BRAKED] += len(batch.brakes.pause(session, now, self.on_brake))
        result = ledger.result
        if self.stop_requested:
            self.released_on_stop += len(result.released)
        faults = dict(board.faults)  # the relays whose mail went to the others
        if result.fault is not None:  # no relay was left for some message, or a block list
            faults.setdefault(self._relay_name(result.fault.relay), result.fault)
        for name, fault in faults.items():
            record_fault(self.db, fault, self.settings, now)
            self._skipped |= {name}
        self.paused = self._every_relay_paused()
        # Nothing went and nothing changed: claiming the same messages again would only put
        # them back (a new relay fault: the next batch goes to the relays left).
        self._stalled = bool(result.released) and not result.delivered and not faults
        for name in {self._relay_name(relay) for relay in result.relays} & self._pause_rows:
            self._pause_rows.discard(name)
            if clear_pause(self.db, name):
                who = f"relay {name}" if len(self.settings.relays) > 1 else "relay"
                log.warning("%s accepts mail again: sending resumed", who)

    def _relay_name(self, relay: str) -> str:
        """A relay's name; the outbox's faults and deliveries are the one relay's."""
        return relay or self.settings.relays[0].name

    def _every_relay_paused(self) -> bool:
        return {relay.name for relay in self.settings.relays} <= self._skipped


def _at_once(pace: BatchPace, ledger: WireLedger, key: int) -> bool:
    """The on_taken the dispatcher gives the transport (the provider's connection, then the
    mark on the wire) returns at once for `key`."""
    return pace.free(key) and ledger.marked(key)


def _paused(session: Session, campaign: Campaign) -> bool:
    return bool(session.exec(select(Campaign.paused).where(Campaign.id == campaign.id)).one())


def _deferral(
    message: Claimed, recipient: Recipient, until: datetime, reason: str
) -> dict[str, object]:
    """The frequency cap, the send window or the provider's pacing holds this message back (not
    sent, nothing spent) until `until`; the enrollment keeps its step."""
    return {
        "state": MessageState.RETRY if message.attempts else MessageState.QUEUED,
        "skip_reason": reason,
        "next_attempt_at": until,
        "recipient": recipient.email,
    }
