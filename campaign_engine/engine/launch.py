"""Launching campaigns: validate the sequence, snapshot it, enrol the eligible contacts."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlmodel import select

from campaign_engine.core.config import Settings
from campaign_engine.core.errors import CampaignEngineError
from campaign_engine.core.kinds import Channel, OutreachMode
from campaign_engine.reps.drafts import create_campaign_drafts
from campaign_engine.sending.campaigns import renderer_for, schedule_for
from campaign_engine.sending.sequences import load_sequence
from campaign_engine.store.db import Database
from campaign_engine.store.models import Account, Campaign, Contact, Enrollment

__all__ = ["LaunchResult", "launch"]


@dataclass(frozen=True)
class LaunchResult:
    campaign_id: int
    name: str
    enrolled: Counter[tuple[str, str]] = field(default_factory=Counter)  # (segment, channel)
    not_enrolled: int = 0  # outreach mode A


def launch(
    db: Database,
    settings: Settings,
    sequence_key: str,
    start: date,
    now: datetime,
    name: str | None = None,
    timezone: str | None = None,
) -> LaunchResult:
    """Create the campaign and enrol every contact not in mode A; all or nothing."""
    sequence = load_sequence(settings.sequences_dir, sequence_key)
    renderer = renderer_for(settings, sequence)  # refuses broken templates before any write
    name = name or f"{sequence_key} {start.isoformat()}"
    campaign = Campaign(
        name=name,
        sequence_key=sequence_key,
        sequence_json=sequence.to_json(),
        links_json=json.dumps(renderer.link_registry),
        start_date=start,
        timezone=timezone or settings.timezone,
        window_start=settings.window_start.isoformat(
            "minutes" if not settings.window_start.second else "seconds"
        ),
        window_end=settings.window_end.isoformat(
            "minutes" if not settings.window_end.second else "seconds"
        ),
        created_at=now,
    )
    schedule = schedule_for(campaign, sequence)  # validates the time zone and window
    with db.session() as session:
        if session.exec(select(Campaign.id).where(Campaign.name == name)).first() is not None:
            raise CampaignEngineError(f"a campaign named {name!r} exists already; pick --name")
        session.add(campaign)
        session.flush()
        assert campaign.id is not None
        enrolled: Counter[tuple[str, str]] = Counter()
        skipped = 0
        rows = session.exec(
            select(Contact.id, Contact.outreach_mode, Account.segment).join(Account)
        )
        enrollments = []
        for contact_id, mode, segment in rows:
            if mode == OutreachMode.DO_NOTHING:
                skipped += 1
                continue
            automated = mode == OutreachMode.MARKETING and segment in sequence.automated_segments
            channel = Channel.AUTOMATED if automated else Channel.REP
            enrollments.append(
                {
                    "campaign_id": campaign.id,
                    "contact_id": contact_id,
                    "channel": channel,
                    "status": "active",
                    "next_step": 1,
                    "next_due_at": schedule.scheduled_at(1) if automated else None,
                    "enrolled_at": now,
                }
            )
            enrolled[(segment, channel)] += 1
        if enrollments:
            session.bulk_insert_mappings(Enrollment, enrollments)
        create_campaign_drafts(session, settings, campaign, now)  # the rep channel's drafts
        return LaunchResult(campaign.id, name, enrolled, skipped)
