"""Claims due messages, renders, sends and records them; at most once per (enrollment, step)."""

from __future__ import annotations

import logging
import os
import secrets
import socket
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.utils import format_datetime, parseaddr

import sqlalchemy as sa
from sqlmodel import Session, col, select

from campaign_engine.audience.suppression import add_suppression
from campaign_engine.core.config import Settings
from campaign_engine.core.kinds import Channel, EnrollmentStatus, EventKind, MessageState
from campaign_engine.core.tokens import TokenKind
from campaign_engine.sending.campaigns import renderer_for, schedule_for, sequence_of
from campaign_engine.sending.eligibility import (
    ExclusionRule,
    SendFacts,
    skip_reason,
    stops_enrollment,
)
from campaign_engine.sending.mime import build_mime, format_address, list_headers
from campaign_engine.sending.planner import Candidate, Schedule, plan
from campaign_engine.sending.render import Recipient, Renderer, recipient_of
from campaign_engine.sending.transport import Delivery, Outcome, Transport
from campaign_engine.store.compliance_tables import HashedSuppression, email_hash
from campaign_engine.store.db import Database, is_postgres
from campaign_engine.store.models import (
    Account,
    Campaign,
    Contact,
    Enrollment,
    Event,
    Exclusion,
    Message,
    Rep,
    Suppression,
)

__all__ = ["Dispatcher", "active_exclusions", "suppression_reasons"]

log = logging.getLogger(__name__)

_CLAIMABLE = (MessageState.QUEUED, MessageState.RETRY)
_MESSAGES: sa.Table = Message.__table__  # type: ignore[attr-defined]
_ENROLLMENTS: sa.Table = Enrollment.__table__  # type: ignore[attr-defined]
_SETTLED = ("status", "stop_reason", "stopped_at", "last_step_at", "next_due_at")
_RECORDED = (
    "state",
    "skip_reason",
    "error",
    "recipient",
    "subject",
    "message_id_header",
    "sent_at",
    "next_attempt_at",
)


@dataclass
class _Batch:
    campaign: Campaign
    schedule: Schedule
    renderer: Renderer
    messages: list[Message]


class Dispatcher:
    """Sends every message due at `send_due(now)`; holds no state between calls."""

    def __init__(self, db: Database, settings: Settings, transport: Transport) -> None:
        self.db = db
        self.settings = settings
        self.transport = transport
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.stop_requested = False
        self._renderers: dict[int, Renderer] = {}
        self._sender = parseaddr(settings.from_address)[1]
        self._from_header = format_address(settings.from_address)
        self._domain = self._sender.rsplit("@", 1)[-1] or "localhost"

    async def send_due(self, now: datetime) -> Counter[str]:
        """Recover stale claims, queue every due step, then send what is claimable."""
        counts: Counter[str] = Counter()
        counts["uncertain"] += self._expire_leases(now)
        with self.db.session() as session:
            campaigns = session.exec(select(Campaign).order_by(col(Campaign.id))).all()
        budget = self.settings.max_per_tick
        for campaign in campaigns:
            sequence = sequence_of(campaign)
            schedule = schedule_for(campaign, sequence)  # windows are each contact's own
            # Plan and send in batch-sized slices: several workers then share both the
            # planning and the sending, and a crash strands at most one slice.
            while budget > 0 and not self.stop_requested:
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
        return counts

    # -- planning -------------------------------------------------------------------------

    def _queue_due(self, campaign: Campaign, schedule: Schedule, now: datetime, limit: int) -> int:
        """Write a queued message for each due step before anything touches SMTP.

        Cheap with contacts in hundreds of zones: the index on the precomputed UTC
        `next_due_at` finds the due rows; only those are checked against their local window.
        """
        while True:
            queued, deferred = self._queue_slice(campaign, schedule, now, limit)
            if queued or not deferred:
                return queued

    def _queue_slice(
        self, campaign: Campaign, schedule: Schedule, now: datetime, limit: int
    ) -> tuple[int, int]:
        """(steps queued, overdue steps moved to their next local window) for one slice."""
        with self.db.session() as session:
            query = (
                select(
                    Enrollment.id,
                    Enrollment.next_step,
                    Enrollment.next_due_at,
                    Enrollment.timezone,
                )
                .where(
                    Enrollment.campaign_id == campaign.id,
                    Enrollment.channel == Channel.AUTOMATED,
                    Enrollment.status == EnrollmentStatus.ACTIVE,
                    col(Enrollment.next_due_at) <= now,
                )
                .order_by(col(Enrollment.next_due_at))
                .limit(limit)
            )
            if is_postgres(self.db.engine):
                query = query.with_for_update(skip_locked=True)
            rows = session.exec(query).all()
            candidates = [
                Candidate(eid, step, due, tz or None) for eid, step, due, tz in rows if eid and due
            ]
            planned = plan(candidates, schedule, now, limit)
            if planned.deferred:  # window closed in their zone: wait for its next opening
                session.connection().execute(
                    sa.update(_ENROLLMENTS)
                    .where(
                        _ENROLLMENTS.c.id == sa.bindparam("eid"),
                        _ENROLLMENTS.c.next_due_at <= now,
                    )
                    .values(next_due_at=sa.bindparam("due")),
                    [{"eid": eid, "due": due} for eid, due in planned.deferred.items()],
                )
            due = {d.enrollment_id: d for d in planned.due}
            if not due:
                return 0, len(planned.deferred)
            # Take the step only if no other worker took it meanwhile: the conditions are
            # re-checked at write time, so two workers never queue the same (enrollment, step).
            taken = (
                session.connection()
                .execute(
                    sa.update(_ENROLLMENTS)
                    .where(
                        _ENROLLMENTS.c.id.in_(list(due)),
                        _ENROLLMENTS.c.status == EnrollmentStatus.ACTIVE,
                        _ENROLLMENTS.c.next_due_at <= now,
                    )
                    .values(next_step=_ENROLLMENTS.c.next_step + 1, next_due_at=None)
                    .returning(
                        _ENROLLMENTS.c.id, _ENROLLMENTS.c.contact_id, _ENROLLMENTS.c.next_step
                    )
                )
                .all()
            )
            if not taken:
                return 0, len(planned.deferred)
            session.connection().execute(
                sa.insert(_MESSAGES),
                [
                    {
                        "enrollment_id": eid,
                        "campaign_id": campaign.id,
                        "contact_id": contact_id,
                        "step": next_step - 1,
                        "origin": Channel.AUTOMATED,
                        "state": MessageState.QUEUED,
                        "recipient": "",
                        "subject": "",
                        "message_id_header": "",
                        "attempts": 0,
                        "due_at": due[eid].due_at,
                        "next_attempt_at": now,
                        "created_at": now,
                    }
                    for eid, contact_id, next_step in taken
                ],
            )
            return len(taken), len(planned.deferred)

    # -- claiming -------------------------------------------------------------------------

    def _expire_leases(self, now: datetime) -> int:
        """A claim whose lease ran out belongs to a worker that died mid-send: SMTP may have
        accepted some of it, so it is marked uncertain and reported, never resent on its own."""
        with self.db.session() as session:
            result = session.connection().execute(
                sa.update(_MESSAGES)
                .where(_MESSAGES.c.state == MessageState.SENDING, _MESSAGES.c.claimed_until < now)
                .values(state=MessageState.UNCERTAIN, error="worker lease expired during send")
            )
            return result.rowcount

    def _claim(
        self, campaign: Campaign, schedule: Schedule, now: datetime, size: int
    ) -> _Batch | None:
        with self.db.session() as session:
            query = (
                select(Message.id)
                .where(
                    Message.campaign_id == campaign.id,
                    col(Message.state).in_(_CLAIMABLE),
                    col(Message.next_attempt_at) <= now,
                )
                .order_by(col(Message.next_attempt_at), col(Message.id))
                .limit(size)
            )
            if is_postgres(self.db.engine):
                query = query.with_for_update(skip_locked=True)
            ids = list(session.exec(query).all())
            if not ids:
                return None
            # The state condition makes the claim safe even where SKIP LOCKED does not exist:
            # a row another worker claimed meanwhile no longer matches and is not returned.
            claimed = (
                session.connection()
                .execute(
                    sa.update(_MESSAGES)
                    .where(_MESSAGES.c.id.in_(ids), _MESSAGES.c.state.in_(_CLAIMABLE))
                    .values(
                        state=MessageState.SENDING,
                        claimed_by=self.worker_id,
                        claimed_until=now + timedelta(seconds=self.settings.lease_seconds),
                        attempts=_MESSAGES.c.attempts + 1,
                    )
                    .returning(_MESSAGES.c.id)
                )
                .all()
            )
            messages = list(
                session.exec(select(Message).where(col(Message.id).in_([c[0] for c in claimed])))
            )
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
        to_send = self._check(batch, updates)
        # Rendering is lazy: each SMTP connection renders its next message while the others
        # wait on the relay, so rendering overlaps the network instead of preceding it.
        deliveries = self._render(batch, to_send, updates, now)
        outcomes = await self.transport.deliver(deliveries) if to_send else []
        self._record(batch, now, updates, outcomes, counts)

    def _check(
        self, batch: _Batch, updates: dict[int, dict[str, object]]
    ) -> list[tuple[Message, Recipient]]:
        """Send-time checks; skipped messages get their update, the rest are returned."""
        campaign = batch.campaign
        assert campaign.id is not None
        with self.db.session() as session:
            info = _recipients(session, [m.contact_id for m in batch.messages])
            statuses = _enrollment_statuses(session, [m.enrollment_id for m in batch.messages])
            suppressed = suppression_reasons(session, [r.email for r, _, _ in info.values()])
            exclusions = active_exclusions(session)
        to_send = []
        for message in batch.messages:
            assert message.id is not None
            recipient, mode, unsubscribed = info[message.contact_id]
            facts = SendFacts(
                email=recipient.email,
                campaign_id=campaign.id,
                enrollment_status=statuses[message.enrollment_id],
                outreach_mode=mode,
                segment=recipient.segment,
                automated_segments=batch.renderer.sequence.automated_segments,
                unsubscribed=unsubscribed,
                suppression_reason=suppressed.get(recipient.email),
            )
            reason = skip_reason(facts, exclusions)
            if reason is None:
                to_send.append((message, recipient))
                continue
            updates[message.id] = {
                "state": MessageState.SKIPPED,
                "skip_reason": reason,
                "recipient": recipient.email,
                "subject": "",
                "message_id_header": "",
            }
        return to_send

    def _render(
        self,
        batch: _Batch,
        to_send: list[tuple[Message, Recipient]],
        updates: dict[int, dict[str, object]],
        now: datetime,
    ) -> Iterator[Delivery]:
        sequence = batch.renderer.sequence
        date_header = format_datetime(now)
        for message, recipient in to_send:
            assert message.id is not None
            email = batch.renderer.render(message.step, recipient, message.id)
            header_id = f"<{message.id}.{secrets.token_hex(8)}@{self._domain}>"
            unsubscribe = batch.renderer.tracker.url(TokenKind.UNSUBSCRIBE, message.id)
            raw = build_mime(
                from_header=self._from_header,
                to_header=format_address(recipient.email, recipient.full_name),
                subject=email.subject,
                html=email.html,
                text=email.text,
                message_id=header_id,
                date=date_header,
                extra_headers=list_headers(
                    unsubscribe, sequence.key, self._domain, self.settings.unsubscribe_mailto
                ),
            )
            updates[message.id] = {
                "recipient": recipient.email,
                "subject": email.subject,
                "message_id_header": header_id,
            }
            yield Delivery(message.id, self._sender, recipient.email, raw)

    def _record(
        self,
        batch: _Batch,
        now: datetime,
        updates: dict[int, dict[str, object]],
        outcomes: list[Outcome],
        counts: Counter[str],
    ) -> None:
        by_id = {m.id: m for m in batch.messages}
        for outcome in outcomes:
            message = by_id[outcome.key]
            change = updates[outcome.key]
            if outcome.ok:
                change.update(state=MessageState.SENT, sent_at=now, error=None)
            elif outcome.permanent:
                change.update(state=MessageState.BOUNCED, error=outcome.detail)
            elif message.attempts >= self.settings.max_attempts:
                change.update(state=MessageState.FAILED, error=outcome.detail)
            else:
                backoff = self.settings.retry_base_seconds * 2 ** (message.attempts - 1)
                change.update(
                    state=MessageState.RETRY,
                    error=outcome.detail,
                    next_attempt_at=now + timedelta(seconds=backoff),
                )
        rows = [
            {"mid": mid, **{key: change.get(key) for key in _RECORDED}}
            for mid, change in updates.items()
        ]
        for row in rows:  # keep the retry time for messages that are not retried
            if row["next_attempt_at"] is None:
                row["next_attempt_at"] = by_id[row["mid"]].next_attempt_at
        with self.db.session() as session:
            session.connection().execute(
                sa.update(_MESSAGES)
                .where(_MESSAGES.c.id == sa.bindparam("mid"))
                .values(
                    claimed_by=None, claimed_until=None, **{k: sa.bindparam(k) for k in _RECORDED}
                ),
                rows,
            )
            settled = []
            places = _planning_places(session, [m.enrollment_id for m in batch.messages])
            for message_id, change in updates.items():
                state = change["state"]
                counts[str(state)] += 1
                if state != MessageState.RETRY:
                    settled.append(
                        _settle(session, batch.schedule, by_id[message_id], change, now, places)
                    )
            if settled:
                session.connection().execute(
                    sa.update(_ENROLLMENTS)
                    .where(
                        _ENROLLMENTS.c.id == sa.bindparam("eid"),
                        _ENROLLMENTS.c.status == EnrollmentStatus.ACTIVE,
                    )
                    .values(**{key: sa.bindparam(key) for key in _SETTLED}),
                    settled,
                )


def _settle(
    session: Session,
    schedule: Schedule,
    message: Message,
    change: dict[str, object],
    now: datetime,
    places: dict[int, tuple[str | None, date | None]],
) -> dict[str, object]:
    """The enrollment's next state: next step's due time, completion, or a stop for good."""
    state = change["state"]
    values: dict[str, object] = {
        "eid": message.enrollment_id,
        "status": EnrollmentStatus.ACTIVE,
        "stop_reason": None,
        "stopped_at": None,
        "last_step_at": now,
        "next_due_at": None,
    }
    if state == MessageState.BOUNCED:
        add_suppression(session, str(change["recipient"]), "bounce", str(change["error"]), now)
        session.add(
            Event(
                kind=EventKind.BOUNCE,
                message_id=message.id,
                contact_id=message.contact_id,
                note=str(change["error"]),
                occurred_at=now,
            )
        )
        values.update(status=EnrollmentStatus.STOPPED, stop_reason="bounced", stopped_at=now)
    elif state == MessageState.SKIPPED and stops_enrollment(str(change["skip_reason"])):
        values.update(
            status=EnrollmentStatus.STOPPED, stop_reason=change["skip_reason"], stopped_at=now
        )
    else:
        tz, first_day = places.get(message.enrollment_id, (None, None))
        values["next_due_at"] = schedule.next_due_at(message.step + 1, now, tz, first_day)
        if values["next_due_at"] is None:
            values["status"] = EnrollmentStatus.COMPLETED
    return values


def _planning_places(
    session: Session, enrollment_ids: list[int]
) -> dict[int, tuple[str | None, date | None]]:
    """Enrollment id -> (its zone, its local first day): what its next step is planned from."""
    rows = session.exec(
        select(col(Enrollment.id), col(Enrollment.timezone), col(Enrollment.first_day)).where(
            col(Enrollment.id).in_(enrollment_ids)
        )
    ).all()
    return {eid: (tz or None, first) for eid, tz, first in rows if eid is not None}


def suppression_reasons(session: Session, emails: list[str]) -> dict[str, str]:
    """Suppressed addresses among `emails`, with the reason; erased people match by hash."""
    rows = session.exec(
        select(Suppression.email, Suppression.reason).where(col(Suppression.email).in_(emails))
    ).all()
    reasons = dict(rows)
    hashes = {email_hash(email): email for email in emails if email not in reasons}
    if hashes:
        hashed = session.exec(
            select(HashedSuppression.email_hash, HashedSuppression.reason).where(
                col(HashedSuppression.email_hash).in_(list(hashes))
            )
        ).all()
        reasons.update((hashes[digest], reason) for digest, reason in hashed)
    return reasons


def active_exclusions(session: Session) -> list[ExclusionRule]:
    rows = session.exec(select(Exclusion).where(col(Exclusion.removed_at).is_(None))).all()
    return [ExclusionRule(r.email, r.domain, r.campaign_id, r.reason) for r in rows]


def _recipients(session: Session, contact_ids: list[int]) -> dict[int, tuple[Recipient, str, bool]]:
    rows = session.exec(
        select(Contact, Account, Rep)
        .join(Account, col(Account.id) == Contact.account_id)
        .join(Rep, col(Rep.id) == Account.rep_id, isouter=True)
        .where(col(Contact.id).in_(contact_ids))
    ).all()
    result = {}
    for contact, account, rep in rows:
        assert contact.id is not None
        recipient = recipient_of(contact, account, rep)
        result[contact.id] = (recipient, contact.outreach_mode, contact.unsubscribed_at is not None)
    return result


def _enrollment_statuses(session: Session, ids: list[int]) -> dict[int, str]:
    rows = session.exec(
        select(Enrollment.id, Enrollment.status).where(col(Enrollment.id).in_(ids))
    ).all()
    return {eid: status for eid, status in rows if eid is not None}
