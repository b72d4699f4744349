"""The relay's pause, shared by every worker through the database."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from campaign_engine.store.models import UTCDateTime

__all__ = ["RELAY_PAUSE_ID", "RelayPause"]

RELAY_PAUSE_ID = 1  # there is one relay, so one row


class RelayPause(SQLModel, table=True):
    """Sending is paused while this row exists: the relay (or our set-up) is at fault.

    `resume_at` is when the next try is allowed; None means "until the SMTP settings change or
    the operator runs `campaign relay resume`" (a permanent-looking fault like a wrong password).
    """

    __tablename__ = "relay_pause"

    id: int = Field(
        default=RELAY_PAUSE_ID, primary_key=True, sa_column_kwargs={"autoincrement": False}
    )
    paused_since: datetime = Field(sa_type=UTCDateTime)
    resume_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    failures: int = 1  # relay faults in a row; the back-off grows with it
    stage: str = ""  # connect, tls, ehlo, auth, mail, rcpt, data
    reason: str = ""  # "relay rejected login"
    detail: str = ""  # the relay's reply: "535 5.7.8 authentication failed"
    settings_fingerprint: str = ""  # of [smtp] when paused: a changed config lifts the pause
