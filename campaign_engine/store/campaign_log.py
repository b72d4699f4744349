"""A campaign's audit log: who launched, paused and resumed it, and when (append-only)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, Session, SQLModel, col, select

from campaign_engine.core.kinds import CampaignAction
from campaign_engine.store.models import Campaign, UTCDateTime

__all__ = ["CampaignLogEntry", "campaign_log", "log_campaign_action"]


class CampaignLogEntry(SQLModel, table=True):
    __tablename__ = "campaign_log"

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    action: str  # CampaignAction
    actor: str = ""  # the console user's email, or "cli (os-user)"
    at: datetime = Field(sa_type=UTCDateTime)


def log_campaign_action(
    session: Session, campaign_id: int, action: CampaignAction, actor: str, at: datetime
) -> None:
    session.add(CampaignLogEntry(campaign_id=campaign_id, action=action, actor=actor, at=at))


def campaign_log(session: Session) -> dict[str, list[CampaignLogEntry]]:
    """Campaign name -> its log, oldest first."""
    query = (
        select(Campaign.name, CampaignLogEntry)
        .join(Campaign, col(Campaign.id) == CampaignLogEntry.campaign_id)
        .order_by(col(CampaignLogEntry.at), col(CampaignLogEntry.id))
    )
    found: dict[str, list[CampaignLogEntry]] = {}
    for name, entry in session.exec(query):
        found.setdefault(name, []).append(entry)
    return found
