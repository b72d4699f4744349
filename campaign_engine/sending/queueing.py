"""Queueing due steps: plan which enrollments are due and write their queued messages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from campaign_engine.core.kinds import Channel, EnrollmentStatus, MessageState
from campaign_engine.sending.planner import Candidate, Schedule, plan
from campaign_engine.sending.warmup import Ramp, share_day
from campaign_engine.sending.warmup_facts import engagement, room_today
from campaign_engine.store import message_counts
from campaign_engine.store.bulk import among, insert_rows
from campaign_engine.store.db import Database, is_postgres
from campaign_engine.store.models import Campaign, Enrollment, Message

__all__ = ["queue_due"]

_MESSAGES: sa.Table = Message.__table__  # type: ignore[attr-defined]
_ENROLLMENTS: sa.Table = Enrollment.__table__  # type: ignore[attr-defined]


def queue_due(
    db: Database,
    campaign: Campaign,
    schedule: Schedule,
    now: datetime,
    limit: int,
    ramp: Ramp | None = None,
) -> int:
    """Write a queued message for each due step before anything touches SMTP.

    Cheap with contacts in hundreds of zones: the index on the precomputed UTC
    `next_due_at` finds the due rows; only those are checked against their local window.
    With a warm-up `ramp`, only the steps that take one of today's places go (see warmup).
    """
    while True:
        queued, deferred = _queue_slice(db, campaign, schedule, now, limit, ramp)
        if queued or not deferred:
            return queued


def _queue_slice(
    db: Database,
    campaign: Campaign,
    schedule: Schedule,
    now: datetime,
    limit: int,
    ramp: Ramp | None,
) -> tuple[int, int]:
    """(steps queued, steps moved to a later moment: their next local window, or the next
    ramp day) for one slice."""
    with db.session() as session:
        room, day_end = room_today(session, ramp, now) if ramp else (0, now)
        # warm-up: every step due today competes for today's places
        due_by = (
            col(Enrollment.next_due_at) < day_end if ramp else col(Enrollment.next_due_at) <= now
        )
        query: Any = (  # five columns: more than the typed overloads of select() spell out
            sa.select(
                col(Enrollment.id),
                col(Enrollment.next_step),
                col(Enrollment.next_due_at),
                col(Enrollment.timezone),
                col(Enrollment.contact_id),
            )
            .where(
                col(Enrollment.campaign_id) == campaign.id,
                col(Enrollment.channel) == Channel.AUTOMATED,
                col(Enrollment.status) == EnrollmentStatus.ACTIVE,
                due_by,
            )
            .order_by(col(Enrollment.next_due_at))
        )
        if ramp is None:
            query = query.limit(limit)
        if is_postgres(db.engine):
            query = query.with_for_update(skip_locked=True)
        rows = session.execute(query).all()
        candidates = [
            Candidate(eid, step, due, tz or None) for eid, step, due, tz, _ in rows if eid and due
        ]
        later: dict[int, datetime] = {}  # enrollment id -> its window on the next ramp day
        if ramp is not None:
            contacts = {eid: contact_id for eid, _, _, _, contact_id in rows if eid}
            candidates, later = _take_places(
                session, campaign, schedule, candidates, contacts, room, day_end
            )
        planned = plan(candidates, schedule, now, limit)
        moves = [{"eid": eid, "due": due, "upto": now} for eid, due in planned.deferred.items()]
        moves += [{"eid": eid, "due": due, "upto": day_end} for eid, due in later.items()]
        if moves:  # window closed in their zone, or no place left today: wait for later
            session.connection().execute(
                sa.update(_ENROLLMENTS)
                .where(
                    _ENROLLMENTS.c.id == sa.bindparam("eid"),
                    _ENROLLMENTS.c.next_due_at <= sa.bindparam("upto"),
                )
                .values(next_due_at=sa.bindparam("due")),
                moves,
            )
        due = {d.enrollment_id: d for d in planned.due}
        if not due:
            return 0, len(moves)
        # Take the step only if no other worker took it meanwhile: the conditions are
        # re-checked at write time, so two workers never queue the same (enrollment, step).
        taken = (
            session.connection()
            .execute(
                sa.update(_ENROLLMENTS)
                .where(
                    among(session.connection(), _ENROLLMENTS.c.id, list(due)),
                    _ENROLLMENTS.c.status == EnrollmentStatus.ACTIVE,
                    _ENROLLMENTS.c.next_due_at <= now,
                )
                .values(next_step=_ENROLLMENTS.c.next_step + 1, next_due_at=None)
                .returning(_ENROLLMENTS.c.id, _ENROLLMENTS.c.contact_id, _ENROLLMENTS.c.next_step)
            )
            .all()
        )
        if not taken:
            return 0, len(moves)
        sliced = message_counts.slices(session.connection(), (eid for eid, _, _ in taken))
        inserted = [
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
                **sliced[eid],
            }
            for eid, contact_id, next_step in taken
        ]
        insert_rows(session.connection(), _MESSAGES, inserted)
        message_counts.moved(session, ((None, message_counts.key_of(row)) for row in inserted))
        return len(taken), len(moves)


def _take_places(
    session: Session,
    campaign: Campaign,
    schedule: Schedule,
    candidates: list[Candidate],
    contacts: dict[int, int],
    room: int,
    day_end: datetime,
) -> tuple[list[Candidate], dict[int, datetime]]:
    """(the steps due today that take today's places, enrollment id -> the window on the next
    ramp day of each that does not)."""
    seen = engagement(session, campaign.id)
    by_enrollment = {eid: seen[contact] for eid, contact in contacts.items() if contact in seen}
    share = share_day(candidates, by_enrollment, room, day_end)
    chosen = [c for c in candidates if c.enrollment_id in share.chosen]
    later = {
        c.enrollment_id: schedule.next_opening(share.waiting[c.enrollment_id], c.timezone)
        for c in candidates
        if c.enrollment_id in share.waiting
    }
    return chosen, later
