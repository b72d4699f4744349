"""Tables of the reply and bounce mailbox: what was read, what it was, and where polling stands."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from campaign_engine.store.models import UTCDateTime

__all__ = ["InboundFailure", "InboundMail", "InboundReview", "InboxCursor"]


class InboundMail(SQLModel, table=True):
    """One message read from the mailbox (or a file), handled once: `mail_key` is unique."""

    id: int | None = Field(default=None, primary_key=True)
    mail_key: str = Field(unique=True, index=True)  # its Message-ID, or a hash of its bytes
    kind: str = Field(index=True)  # InboundKind
    matched_by: str = ""  # in-reply-to, tag, dsn, from (weak); "" when unmatched
    message_id: int | None = Field(default=None, foreign_key="message.id", index=True)
    contact_id: int | None = Field(default=None, foreign_key="contact.id", index=True)
    address: str = Field(default="", index=True)  # the contact address it concerns
    sender: str = ""  # its From
    sender_domain: str = Field(default="", index=True)  # its From's domain (the hourly limit)
    subject: str = ""
    detail: str = Field(default="", sa_type=sa.Text)  # status, return date, replied by...
    source: str = ""  # "imap INBOX uid 7" or the file name
    received_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)


class InboxCursor(SQLModel, table=True):
    """How far a mailbox folder was read: UIDs above `last_uid` are new while UIDVALIDITY holds."""

    id: int | None = Field(default=None, primary_key=True)
    mailbox: str = Field(unique=True)  # user@host/folder
    uidvalidity: int = 0
    last_uid: int = 0
    polled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class InboundFailure(SQLModel, table=True):
    """A message that could not be handled, by a hash of its bytes: tried again at the next poll
    until `attempts` reaches the limit, then filed away (IMAP) or skipped (files)."""

    id: int | None = Field(default=None, primary_key=True)
    mail_hash: str = Field(unique=True)  # sha256 of the raw message
    attempts: int = 0
    error: str = Field(default="", sa_type=sa.Text)  # the last error, one line
    source: str = ""  # where it was last read
    failed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class InboundReview(SQLModel, table=True):
    """An incoming mail held for a person: a report without proof that it is about a message we
    sent to that recipient, one over the per-domain limit, or a reply that names nothing we sent.
    Nothing was changed; a person applies (to `address`) or dismisses it."""

    id: int | None = Field(default=None, primary_key=True)
    mail_key: str = Field(unique=True)  # the InboundMail it is
    kind: str  # InboundKind it was classified as (complaint, bounce, reply...)
    address: str = ""  # the contact it would change, as the mail names it ("" when none)
    message_id: int | None = Field(default=None, foreign_key="message.id")
    sender: str = ""
    subject: str = ""
    reason: str = Field(default="", sa_type=sa.Text)  # why it was held, in words
    status: str = Field(default="open", index=True)  # open, applied, dismissed
    raw: bytes = Field(default=b"", sa_type=sa.LargeBinary)  # the mail, to read and to apply
    received_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    decided_by: str = ""
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    outcome: str = Field(default="", sa_type=sa.Text)  # what applying did
