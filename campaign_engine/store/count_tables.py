"""Counters kept as rows change, so the reports need not count millions of rows."""

from __future__ import annotations

from sqlmodel import Field, SQLModel

__all__ = ["MessageCount"]


class MessageCount(SQLModel, table=True):
    """How many messages of a campaign's step are in a state, per slice of the report: origin,
    the contact's segment, title and rep when queued (rep 0: none), and the local day of the
    send ("" until sent). `message_counts` keeps it."""

    __tablename__ = "message_count"

    campaign_id: int = Field(foreign_key="campaign.id", primary_key=True)
    step: int = Field(primary_key=True)
    state: str = Field(primary_key=True)
    origin: str = Field(primary_key=True)
    segment: str = Field(primary_key=True)
    title: str = Field(primary_key=True)
    rep_id: int = Field(primary_key=True)
    day: str = Field(primary_key=True)
    n: int = 0
