"""Tables of the engagement digest: who gets it when, what was claimed, what was sent."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from campaign_engine.core.kinds import DigestState
from campaign_engine.store.models import UTCDateTime

__all__ = ["Digest", "DigestItem", "DigestPreference"]


class DigestPreference(SQLModel, table=True):
    """A rep's digest schedule; reps without a row get weekdays 08:00 in their time zone."""

    id: int | None = Field(default=None, primary_key=True)
    rep_id: int = Field(foreign_key="rep.id", unique=True)
    mode: str = "scheduled"
    hour: int = 8
    weekdays: str = "mon,tue,wed,thu,fri"


class Digest(SQLModel, table=True):
    """One digest email to one rep; its events are the DigestItems pointing at it. Without a
    rep, the digest of engagement no rep owns, sent to the unassigned fallback as alerts."""

    id: int | None = Field(default=None, primary_key=True)
    rep_id: int | None = Field(default=None, foreign_key="rep.id", index=True)
    state: str = Field(default=DigestState.QUEUED, index=True)
    subject: str = ""
    attempts: int = 0
    error: str | None = None
    message_id_header: str = ""
    first_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    claimed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class DigestItem(SQLModel, table=True):
    """An event claimed by a digest; event_id is unique, so no event is ever in two digests."""

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="event.id", unique=True)
    rep_id: int | None = Field(default=None, foreign_key="rep.id", index=True)
    digest_id: int = Field(foreign_key="digest.id", index=True)
