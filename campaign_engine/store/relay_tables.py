"""Each relay's pause, shared by every worker through the database."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from campaign_engine.store.models import UTCDateTime

__all__ = ["RelayPause"]


class RelayPause(SQLModel, table=True):
    """The relay named `relay` takes no mail while this row holds: it (or our set-up) is at fault.

    `resume_at` is when the next try is allowed; None means "until the relay's SMTP settings
    change or the operator runs `campaign relay resume`" (a permanent-looking fault like a wrong
    password). Sending as a whole pauses when every relay is paused.
    """

    __tablename__ = "relay_pause"

    relay: str = Field(primary_key=True)  # [[smtp.relays]] name; "main" for a plain [smtp]
    paused_since: datetime = Field(sa_type=UTCDateTime)
    resume_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    failures: int = 1  # relay faults in a row; the back-off grows with it
    stage: str = ""  # connect, tls, ehlo, auth, mail, rcpt, data
    reason: str = ""  # "relay rejected login"
    detail: str = ""  # the relay's reply: "535 5.7.8 authentication failed"
    settings_fingerprint: str = ""  # of the relay's settings when paused: a change lifts it
