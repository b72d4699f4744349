"""Queueing due steps: plan which enrollments are due and write their queued messages."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import col, select

from campaign_engine.core.kinds import Channel, EnrollmentStatus, MessageState
from campaign_engine.sending.planner import Candidate, Schedule, plan
from campaign_engine.store.db import Database, is_postgres
from campaign_engine.store.models import Campaign, Enrollment, Message

__all__ = ["queue_due"]

_MESSAGES: sa.Table = Message.__table__  # type: ignore[attr-defined]
_ENROLLMENTS: sa.Table = Enrollment.__table__  # type: ignore[attr-defined]


def queue_due(
    db: Database, campaign: Campaign, schedule: Schedule, now: datetime, limit: int
) -> int:
    """Write a queued message for each due step before anything touches SMTP.

    Cheap with contacts in hundreds of zones: the index on the precomputed UTC
    `next_due_at` finds the due rows; only those are checked against their local window.
    """
    while True:
        queued, deferred = _queue_slice(db, campaign, schedule, now, limit)
        if queued or not deferred:
            return queued


def _queue_slice(
    db: Database, campaign: Campaign, schedule: Schedule, now: datetime, limit: int
) -> tuple[int, int]:
    """(steps queued, overdue steps moved to their next local window) for one slice."""
    with db.session() as session:
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
        if is_postgres(db.engine):
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
                .returning(_ENROLLMENTS.c.id, _ENROLLMENTS.c.contact_id, _ENROLLMENTS.c.next_step)
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
