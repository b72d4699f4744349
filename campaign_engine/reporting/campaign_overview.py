"""The console's campaigns page: per campaign the `campaign status` table, whether it is paused,
next due, and sends per day, all counted in SQL (indexes `ix_message_campaign_*`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from campaign_engine.reporting.reports import CampaignStatus, campaign_statuses
from campaign_engine.store.models import Campaign, Message

__all__ = ["SEND_DAYS", "CampaignOverview", "DaySends", "campaign_overviews"]

SEND_DAYS = 14  # how many days of sends per day the page shows


@dataclass(frozen=True)
class DaySends:
    day: str  # YYYY-MM-DD (UTC)
    sent: int


@dataclass
class CampaignOverview:
    status: CampaignStatus
    paused: bool
    paused_at: datetime | None
    paused_by: str | None
    sends_per_day: list[DaySends] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.status.name

    @property
    def total_sent(self) -> int:
        return sum(step.states.get("sent", 0) for step in self.status.steps)


def campaign_overviews(
    session: Session, now: datetime, name: str | None = None
) -> list[CampaignOverview]:
    """Every campaign (or the one named), in launch order like `campaign status`."""
    statuses = {s.name: s for s in campaign_statuses(session, name)}
    query = select(Campaign).order_by(col(Campaign.id))
    if name:
        query = query.where(Campaign.name == name)
    since = now - timedelta(days=SEND_DAYS)
    result = []
    for campaign in session.exec(query):
        per_day = _sends_per_day(session, campaign.id or 0, since)
        days = [
            (since.date() + timedelta(days=offset + 1)).isoformat() for offset in range(SEND_DAYS)
        ]
        result.append(
            CampaignOverview(
                status=statuses[campaign.name],
                paused=campaign.paused,
                paused_at=campaign.paused_at,
                paused_by=campaign.paused_by,
                sends_per_day=[DaySends(day, per_day.get(day, 0)) for day in days],
            )
        )
    return result


def _sends_per_day(session: Session, campaign_id: int, since: datetime) -> dict[str, int]:
    day = sa.func.date(col(Message.sent_at))
    rows = session.exec(
        select(day, sa.func.count())
        .where(Message.campaign_id == campaign_id, col(Message.sent_at) >= since)
        .group_by(day)
    ).all()
    return {_day(value): count for value, count in rows}


def _day(value: object) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)
