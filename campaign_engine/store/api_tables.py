"""Tables of the HTTP API and the outgoing webhooks: tokens, receivers, deliveries, the cursor."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from campaign_engine.store.models import UTCDateTime

__all__ = ["ApiToken", "Webhook", "WebhookCursor", "WebhookDelivery"]


def _when(index: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, index=index)


class ApiToken(SQLModel, table=True):
    """A bearer token of the API; only the SHA-256 of the token is stored (it is shown once)."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, index=True)
    role: str  # ops, rep or integration
    rep_email: str | None = None  # role rep: whose contacts the token may see
    token_hash: str = Field(unique=True, index=True, repr=False)
    created_at: datetime | None = _when()
    revoked_at: datetime | None = _when()


class Webhook(SQLModel, table=True):
    """A receiver of event notifications (a CRM endpoint, a chat incoming webhook)."""

    id: int | None = Field(default=None, primary_key=True)
    url: str
    events: str  # comma-separated webhook event types
    secret: str = Field(repr=False)  # signs every delivery (Standard Webhooks: whsec_ + base64)
    format: str = "json"  # json (the event) or slack ({"text": ...})
    after_event_id: int = 0  # events up to this one happened before it existed
    created_at: datetime | None = _when()
    removed_at: datetime | None = _when()


class WebhookDelivery(SQLModel, table=True):
    """One notification to one receiver: a fixed body, retried until delivered or given up."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        sa.UniqueConstraint("webhook_id", "source"),
        sa.Index("ix_webhook_delivery_due", "state", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    webhook_id: int = Field(foreign_key="webhook.id", index=True)
    uid: str = Field(unique=True)  # the Webhook-Id header: the same on every attempt
    source: str  # "event:ID" or "message-failed:ID": one delivery per receiver and source
    event_type: str
    body: str = Field(sa_type=sa.Text)
    state: str = "queued"  # queued, sending, retry, sent, failed, skipped
    attempts: int = 0
    last_status: int | None = None  # the receiver's HTTP status of the latest attempt
    error: str | None = None
    created_at: datetime | None = _when()
    first_attempt_at: datetime | None = _when()
    next_attempt_at: datetime | None = _when()
    claimed_until: datetime | None = _when()
    delivered_at: datetime | None = _when()


class WebhookCursor(SQLModel, table=True):
    """How far the webhook producer has read the event table (one row, id 1)."""

    __tablename__ = "webhook_cursor"

    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    event_id: int = 0
