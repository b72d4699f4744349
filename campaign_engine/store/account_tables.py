"""Who owns an account, over time: every change of an account's rep, by whom and why."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from campaign_engine.store.models import UTCDateTime

__all__ = ["AccountAssignment"]


class AccountAssignment(SQLModel, table=True):
    """An account got a rep (or another one): append-only, never updated."""

    __tablename__ = "account_assignment"

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    rep_id: int = Field(foreign_key="rep.id")
    previous_rep_id: int | None = Field(default=None, foreign_key="rep.id")
    actor: str = (
        ""  # "cli", "web:ops@x", "api:crm", "import contacts.csv:12", "import reps reps.csv"
    )
    at: datetime = Field(sa_type=UTCDateTime)
