"""Compliance records: the lawful basis each contact was imported under, and hashed suppressions
that outlive an erased person (so an erased address is never mailed again)."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlmodel import Field, SQLModel

from campaign_engine.store.models import UTCDateTime

__all__ = ["ConsentRecord", "HashedSuppression", "email_hash"]


def email_hash(email: str) -> str:
    """sha256 hex of the trimmed, lower-cased address: how an erased address is remembered."""
    return hashlib.sha256(email.strip().lower().encode("utf-8")).hexdigest()


class ConsentRecord(SQLModel, table=True):
    """Lawful basis / consent source of a contact, as given by an import (history: one row per
    change)."""

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(index=True)
    basis: str  # e.g. customer, opt-in, legitimate-interest
    source_file: str = ""
    recorded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class HashedSuppression(SQLModel, table=True):
    """A suppression kept as a hash after `contacts forget`: no address, still never mailed."""

    id: int | None = Field(default=None, primary_key=True)
    email_hash: str = Field(unique=True, index=True)
    reason: str
    created_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
