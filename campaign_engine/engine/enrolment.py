"""Enrolling contacts in a campaign: everyone at launch, late joiners at each tick after it.

Each enrollment is planned in one time zone, chosen once: the contact's own, else the most common
zone among the other contacts of its account, else the campaign's. A late joiner (imported,
switched out of mode A, after launch; or whose exclusion was lifted before it got any email: see
engine/rejoin.py) starts at step 1 in its next local window and keeps the sequence's spacing
from there.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from campaign_engine.audience.segments import automated_channel
from campaign_engine.core.config import Settings
from campaign_engine.core.kinds import Channel, EnrollmentStatus, OutreachMode
from campaign_engine.engine.rejoin import restart_unexcluded
from campaign_engine.reps.drafts import create_campaign_drafts
from campaign_engine.reps.unowned_drafts import alert_unowned
from campaign_engine.sending.campaigns import first_local_day, schedule_for, sequence_of
from campaign_engine.store.db import Database
from campaign_engine.store.models import Account, Campaign, Contact, Enrollment

__all__ = [
    "Enrolled",
    "enrol_contacts",
    "enrol_late_joiners",
    "plan_enrollments",
    "zone_of_contacts",
]

log = logging.getLogger(__name__)
_ENROLLMENTS: sa.Table = Enrollment.__table__  # type: ignore[attr-defined]


@dataclass
class Enrolled:
    """Who was enrolled, by (segment, channel); contacts in mode A are left out."""

    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    not_enrolled: int = 0
    skipped: int = 0  # left out by the caller's rule (active in another running campaign)
    first_sends: dict[str, datetime] = field(default_factory=dict)  # zone -> first step 1 (UTC)
    without_rep: Counter[str] = field(default_factory=Counter)  # rep channel, no rep: by segment

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def zone_of_contacts(session: Session, account_ids: set[int]) -> dict[int, str]:
    """Account id -> the most common zone among its contacts that have one."""
    rows = session.exec(
        select(Contact.account_id, Contact.timezone).where(
            col(Contact.account_id).in_(account_ids), Contact.timezone != ""
        )
    ).all()
    by_account: dict[int, Counter[str]] = {}
    for account_id, tz in rows:
        by_account.setdefault(account_id, Counter())[tz] += 1
    return {a: zones.most_common(1)[0][0] for a, zones in by_account.items()}


def plan_enrollments(
    session: Session,
    campaign: Campaign,
    now: datetime,
    late: bool = False,
    skip: Callable[[int], bool] = lambda contact_id: False,
) -> tuple[list[dict[str, object]], Enrolled]:
    """The enrollment rows for every contact not in this campaign yet (mode A and `skip`
    excepted), each planned in its own zone; nothing is written."""
    sequence = sequence_of(campaign)
    schedule = schedule_for(campaign, sequence)
    enrolled_already = select(Enrollment.contact_id).where(Enrollment.campaign_id == campaign.id)
    rows: list[tuple[int, str, str, int, str, int | None]] = [
        tuple(row)  # type: ignore[misc]
        for row in session.connection().execute(
            sa.select(
                col(Contact.id),
                col(Contact.outreach_mode),
                col(Contact.timezone),
                col(Account.id),
                col(Account.segment),
                col(Account.rep_id),
            )
            .join(Account, col(Account.id) == Contact.account_id)
            .where(col(Contact.id).not_in(enrolled_already))
            .order_by(col(Contact.id))
        )
    ]
    result = Enrolled()
    account_zones = zone_of_contacts(session, {row[3] for row in rows})
    enrollments: list[dict[str, object]] = []
    for contact_id, mode, own_zone, account_id, segment, rep_id in rows:
        if mode == OutreachMode.DO_NOTHING:
            result.not_enrolled += 1
            continue
        if skip(contact_id):
            result.skipped += 1
            continue
        tz = own_zone or account_zones.get(account_id) or campaign.timezone
        first_day, joined_late = first_local_day(schedule, campaign, now, tz, late)
        if first_day is None:
            continue  # past --enroll-until
        automated = automated_channel(mode, segment, sequence.automated_segments)
        channel = Channel.AUTOMATED if automated else Channel.REP
        if channel == Channel.REP and rep_id is None:
            result.without_rep[segment] += 1
        due = schedule.scheduled_at(1, tz, first_day) if automated else None
        if due is not None and (tz not in result.first_sends or due < result.first_sends[tz]):
            result.first_sends[tz] = due
        enrollments.append(
            {
                "campaign_id": campaign.id,
                "contact_id": contact_id,
                "channel": channel,
                "status": EnrollmentStatus.ACTIVE,
                "next_step": 1,
                "next_due_at": due,
                "timezone": tz,
                "first_day": first_day,
                "late_joiner": joined_late,
                "enrolled_at": now,
            }
        )
        result.counts[(segment, channel)] += 1
    return enrollments, result


def enrol_contacts(
    session: Session, settings: Settings, campaign: Campaign, now: datetime, late: bool = False
) -> Enrolled:
    """Enrol every contact of the database not in this campaign yet (mode A excepted)."""
    assert campaign.id is not None
    enrollments, result = plan_enrollments(session, campaign, now, late)
    if enrollments:
        session.connection().execute(sa.insert(_ENROLLMENTS), enrollments)
        if any(e["channel"] == Channel.REP for e in enrollments):
            drafts = create_campaign_drafts(session, settings, campaign, now)
            alert_unowned(session, settings, campaign, drafts, now)
    return result


def enrol_late_joiners(db: Database, settings: Settings, now: datetime) -> int:
    """Enrol, in every campaign that takes late joiners, the contacts that became eligible."""
    total = 0
    with db.session() as session:
        campaigns = session.exec(
            select(Campaign).where(Campaign.late_joiners == True)  # noqa: E712
        ).all()
    for campaign in campaigns:
        # A day of slack: the first local day anywhere on Earth is at most one day past UTC's.
        if campaign.enroll_until and (now - timedelta(days=1)).date() > campaign.enroll_until:
            continue
        try:
            with db.session() as session:
                total += enrol_contacts(session, settings, campaign, now, late=True).total
                total += restart_unexcluded(session, campaign, now)
        except sa.exc.IntegrityError:  # another worker enrolled them first: nothing is lost
            log.info("late joiners of %r were enrolled by another worker", campaign.name)
    return total
