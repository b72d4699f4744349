"""Per-campaign, per-step delivery numbers, read from the message and enrollment tables."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from .campaigns import sequence_of
from .models import Campaign, Enrollment, Message, MessageState

__all__ = ["CampaignStatus", "StepStatus", "campaign_statuses", "to_jsonable"]


@dataclass
class StepStatus:
    step: int
    subject: str
    day: int
    states: dict[str, int] = field(default_factory=dict)
    skipped_reasons: dict[str, int] = field(default_factory=dict)


@dataclass
class CampaignStatus:
    name: str
    sequence: str
    start_date: str
    timezone: str
    window: str
    enrolled: dict[str, int] = field(default_factory=dict)  # "automated/active" -> n
    steps: list[StepStatus] = field(default_factory=list)
    next_due_at: str | None = None


def campaign_statuses(session: Session, campaign_name: str | None = None) -> list[CampaignStatus]:
    query = select(Campaign).order_by(col(Campaign.id))
    if campaign_name:
        query = query.where(Campaign.name == campaign_name)
    result = []
    for campaign in session.exec(query):
        sequence = sequence_of(campaign)
        status = CampaignStatus(
            name=campaign.name,
            sequence=campaign.sequence_key,
            start_date=campaign.start_date.isoformat(),
            timezone=campaign.timezone,
            window=f"{campaign.window_start}-{campaign.window_end}",
        )
        enrolled = session.exec(
            select(Enrollment.channel, Enrollment.status, sa.func.count())
            .where(Enrollment.campaign_id == campaign.id)
            .group_by(col(Enrollment.channel), col(Enrollment.status))
        ).all()
        status.enrolled = {f"{channel}/{state}": n for channel, state, n in enrolled}
        states: dict[int, Counter[str]] = {step.number: Counter() for step in sequence.steps}
        reasons: dict[int, Counter[str]] = {step.number: Counter() for step in sequence.steps}
        rows = session.exec(
            select(Message.step, Message.state, Message.skip_reason, sa.func.count())
            .where(Message.campaign_id == campaign.id)
            .group_by(col(Message.step), col(Message.state), col(Message.skip_reason))
        ).all()
        for step, state, reason, count in rows:
            states[step][state] += count
            if state == MessageState.SKIPPED:
                reasons[step][reason or "unknown"] += count
        status.steps = [
            StepStatus(
                step=step.number,
                subject=step.subject,
                day=step.day,
                states={s.value: states[step.number][s.value] for s in MessageState},
                skipped_reasons=dict(reasons[step.number]),
            )
            for step in sequence.steps
        ]
        next_due: datetime | None = session.exec(
            select(sa.func.min(Enrollment.next_due_at)).where(Enrollment.campaign_id == campaign.id)
        ).one()
        status.next_due_at = next_due.isoformat() if next_due else None
        result.append(status)
    return result


def to_jsonable(statuses: list[CampaignStatus]) -> list[dict[str, Any]]:
    return [asdict(status) for status in statuses]
