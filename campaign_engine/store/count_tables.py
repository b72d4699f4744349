"""Counters kept as rows change, so the reports need not count millions of rows."""

from __future__ import annotations

from sqlmodel import Field, SQLModel

__all__ = ["EngagementCount", "MessageCount", "MessageEngagement"]


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


class EngagementCount(SQLModel, table=True):
    """A measure of the events on a campaign's messages of one step and report slice (segment,
    title and rep as the message was written; rep 0: none), per local day of the campaign's zone
    ("" when the measure has none) and link(s) ("" likewise). `engagement_counts` keeps it."""

    __tablename__ = "engagement_count"

    campaign_id: int = Field(foreign_key="campaign.id", primary_key=True)
    step: int = Field(primary_key=True)
    segment: str = Field(primary_key=True)
    title: str = Field(primary_key=True)
    rep_id: int = Field(primary_key=True)
    day: str = Field(primary_key=True)
    link: str = Field(primary_key=True)
    measure: str = Field(primary_key=True)
    n: int = 0


class MessageEngagement(SQLModel, table=True):
    """What a message's events add up to beyond their totals: the marks they give it (`marks`,
    one bit per `engagement_counts.MARKS`) and the links its recipient clicked (JSON, "" for
    none). Kept with the engagement counters, so a new event is counted from these and not
    from every event its contact has had. Only messages with a mark have a row."""

    __tablename__ = "message_engagement"

    message_id: int = Field(foreign_key="message.id", primary_key=True)
    marks: int = 0
    links: str = ""
