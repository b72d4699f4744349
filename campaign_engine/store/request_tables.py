"""Contact requests as the rep's work: who was told, and how the rep handled it."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from campaign_engine.store.models import UTCDateTime

__all__ = ["ContactRequest"]


class ContactRequest(SQLModel, table=True):
    """One contact request (its event), open until the rep marks it handled.

    `alerted_rep_id` is the rep the latest alert went to; None while no rep owns the account
    (the unassigned fallback was alerted). When the account's rep is someone else, the request
    moves to them and they are alerted.
    """

    __tablename__ = "contact_request"

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="event.id", unique=True)
    contact_id: int = Field(foreign_key="contact.id", index=True)
    received_at: datetime = Field(sa_type=UTCDateTime)
    source: str = ""  # "web" (the contact page), "reply", "manual", "api:NAME"
    message: str = Field(default="", sa_type=sa.Text)  # the contact's own words
    preferred_time: str = ""
    replied_by: str = ""  # a colleague of the contact who answered on the thread
    may_be_automatic: str = ""  # a reply with a weak sign of an auto-reply: the sign, in words
    alerted_rep_id: int | None = Field(default=None, foreign_key="rep.id")
    outcome: str | None = Field(default=None, index=True)  # RequestOutcome; None = open
    handled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    handled_by: str | None = None
    note: str = ""
