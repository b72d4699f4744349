"""Counters kept as rows change, so the reports need not count millions of rows."""

from __future__ import annotations

from sqlmodel import Field, SQLModel

__all__ = ["MessageCount"]


class MessageCount(SQLModel, table=True):
    """How many messages of a campaign's step are in a state (`message_counts` keeps it)."""

    __tablename__ = "message_count"

    campaign_id: int = Field(foreign_key="campaign.id", primary_key=True)
    step: int = Field(primary_key=True)
    state: str = Field(primary_key=True)
    n: int = 0
