"""Contacts whose exclusion was lifted before they got any email start the sequence at step 1.

A contact excluded at launch is enrolled like everyone (exclusions are checked at send time), so
each due step is skipped as `excluded`. When ops lift the exclusion, a contact who got nothing
at all from the campaign starts over as a late joiner: step 1 in its next local window, the
sequence's spacing from there (and within `--enroll-until`). A contact who already got an email
keeps its place: it gets the next step due, never an email twice. The skipped rows of a restarted
enrollment are removed (they recorded emails that never went out), so its steps can be written
again; the exclusion's audit log keeps who lifted it and when.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from campaign_engine.core.kinds import Channel, EnrollmentStatus, MessageState
from campaign_engine.sending.campaigns import first_local_day, schedule_for, sequence_of
from campaign_engine.sending.send_facts import active_exclusions
from campaign_engine.store import message_counts
from campaign_engine.store.models import Campaign, Contact, Enrollment, Exclusion, Message

__all__ = ["restart_unexcluded"]

_MESSAGES: sa.Table = Message.__table__  # type: ignore[attr-defined]
_ENROLLMENTS: sa.Table = Enrollment.__table__  # type: ignore[attr-defined]


def restart_unexcluded(session: Session, campaign: Campaign, now: datetime) -> int:
    """Restart at step 1 the automated enrollments of `campaign` whose every email so far was
    skipped for an exclusion since lifted; returns how many. Cheap: it looks only at contacts
    an exclusion removed since the launch names."""
    assert campaign.id is not None
    query = select(Exclusion.email, Exclusion.domain).where(
        col(Exclusion.removed_at).is_not(None),
        sa.or_(col(Exclusion.campaign_id).is_(None), col(Exclusion.campaign_id) == campaign.id),
    )
    if campaign.created_at is not None:
        query = query.where(col(Exclusion.removed_at) >= campaign.created_at)
    lifted = session.exec(query).all()
    if not lifted:
        return 0
    named = [col(Contact.email) == email for email, _ in lifted if email]
    named += [col(Contact.email).endswith(f"@{domain}") for _, domain in lifted if domain]
    not_excluded_skip = sa.and_(
        _MESSAGES.c.enrollment_id == Enrollment.id,
        sa.not_(
            sa.and_(
                _MESSAGES.c.state == MessageState.SKIPPED,
                _MESSAGES.c.skip_reason.like("excluded%"),
            )
        ),
    )
    rows = session.exec(
        select(Enrollment.id, Contact.email, Enrollment.timezone)
        .join(Contact, col(Contact.id) == Enrollment.contact_id)
        .where(
            Enrollment.campaign_id == campaign.id,
            Enrollment.channel == Channel.AUTOMATED,
            col(Enrollment.status).in_([EnrollmentStatus.ACTIVE, EnrollmentStatus.COMPLETED]),
            sa.or_(*named),
            sa.exists().where(_MESSAGES.c.enrollment_id == Enrollment.id),
            ~sa.exists().where(not_excluded_skip),
        )
    ).all()
    if not rows:  # the usual tick once they restarted: no exclusion rules or sequence to load
        return 0
    rules = active_exclusions(session)
    schedule = schedule_for(campaign, sequence_of(campaign))
    restarted = 0
    for enrollment_id, email, tz in rows:
        if rules.match(email, campaign.id) is not None:
            continue  # still excluded (another rule)
        zone = tz or campaign.timezone
        day, _ = first_local_day(schedule, campaign, now, zone, late=True)
        if day is None:
            continue  # past --enroll-until: the campaign takes nobody new
        message_counts.deleted(session, _MESSAGES.c.enrollment_id == enrollment_id)
        session.connection().execute(
            sa.update(_ENROLLMENTS)
            .where(_ENROLLMENTS.c.id == enrollment_id)
            .values(
                status=EnrollmentStatus.ACTIVE,
                next_step=1,
                first_day=day,
                next_due_at=schedule.scheduled_at(1, zone, day),
                late_joiner=True,
            )
        )
        restarted += 1
    return restarted
