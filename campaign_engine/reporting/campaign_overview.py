"""The console's campaigns page: per campaign the `campaign status` table, whether it is paused,
next due, and sends per day, all counted in SQL (indexes `ix_message_campaign_*`). The counts may
be a snapshot; `with_pauses` lays each campaign's pause state, read just now, over them."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from campaign_engine.reporting.reports import CampaignStatus, campaign_statuses
from campaign_engine.store.models import Campaign, Message

__all__ = [
    "SEND_DAYS",
    "CampaignOverview",
    "DaySends",
    "Pause",
    "campaign_overviews",
    "campaign_pauses",
    "with_pauses",
]

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


@dataclass(frozen=True)
class Pause:
    campaign_id: int
    name: str
    paused: bool
    paused_at: datetime | None
    paused_by: str | None


def campaign_pauses(session: Session) -> list[Pause]:
    """Every campaign's pause state, in launch order."""
    rows = session.execute(
        sa.select(
            col(Campaign.id),
            col(Campaign.name),
            col(Campaign.paused),
            col(Campaign.paused_at),
            col(Campaign.paused_by),
        ).order_by(col(Campaign.id))
    )
    return [Pause(*row) for row in rows]


def with_pauses(overviews: list[CampaignOverview], pauses: list[Pause]) -> list[CampaignOverview]:
    """The overviews with these pause states (the counts may be older than the pauses)."""
    by_name = {pause.name: pause for pause in pauses}
    return [
        replace(o, paused=p.paused, paused_at=p.paused_at, paused_by=p.paused_by)
        if (p := by_name.get(o.name))
        else o
        for o in overviews
    ]


def campaign_overviews(
    session: Session, now: datetime, name: str | None = None
) -> list[CampaignOverview]:
    """Every campaign (or the one named), in launch order like `campaign status`."""
    statuses = {s.name: s for s in campaign_statuses(session, name)}
    query = select(Campaign).order_by(col(Campaign.id))
    if name:
        query = query.where(Campaign.name == name)
    since = now - timedelta(days=SEND_DAYS)
    campaigns = list(session.exec(query))
    sends = _sends_per_day(session, [c.id for c in campaigns if c.id is not None], since)
    result = []
    for campaign in campaigns:
        per_day = sends.get(campaign.id or 0, {})
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


def _sends_per_day(
    session: Session, campaign_ids: list[int], since: datetime
) -> dict[int, dict[str, int]]:
    """Campaign id -> UTC day -> messages sent since `since`."""
    day = sa.func.date(col(Message.sent_at))
    rows = session.exec(
        select(Message.campaign_id, day, sa.func.count())
        .where(col(Message.campaign_id).in_(campaign_ids), col(Message.sent_at) >= since)
        .group_by(col(Message.campaign_id), day)
    ).all()
    sends: dict[int, dict[str, int]] = {}
    for campaign_id, value, count in rows:
        sends.setdefault(campaign_id, {})[_day(value)] = count
    return sends


def _day(value: object) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)
