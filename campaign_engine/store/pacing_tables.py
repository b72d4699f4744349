"""Each mailbox provider's pacing state, shared by every worker through the database."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from campaign_engine.store.models import UTCDateTime

__all__ = ["ProviderPace"]


class ProviderPace(SQLModel, table=True):
    """A provider's rate and send clock (sending/pacing.py); a row appears at its first send."""

    __tablename__ = "provider_pace"

    provider: str = Field(primary_key=True)  # google, microsoft, yahoo, apple, other
    rate: float  # messages an hour allowed now
    next_slot: datetime | None = Field(default=None, sa_type=UTCDateTime)
    deferrals: str = Field(default="", sa_type=sa.Text)  # recent 4xx times, ISO, space-separated
    slowed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    slowdowns: int = 0
