"""What a webhook delivery says and how it is signed (PURE: no I/O).

Bodies follow the Standard Webhooks shape, `{"type", "timestamp", "data"}`; the `slack` format
is an incoming-webhook body, `{"text": ...}`. Signatures follow the Standard Webhooks header
scheme: `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, keyed by the
secret (`whsec_<base64>` decodes to the key; any other secret is used as its UTF-8 bytes).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import asdict, dataclass
from datetime import datetime

__all__ = [
    "EVENT_TYPES",
    "FORMATS",
    "EventFacts",
    "new_secret",
    "parse_event_types",
    "render_body",
    "sign",
    "signed_headers",
]

# Webhook event types; all but `failed` (a message given up on) are event-table kinds.
# `campaign_paused`: the automatic brakes paused `campaign` (`note`: why); no contact.
EVENT_TYPES = (
    "contact_request",
    "reply",
    "bounce",
    "complaint",
    "unsubscribe",
    "click",
    "failed",
    "campaign_paused",
)
FORMATS = ("json", "slack")
_PREFIX = "whsec_"


@dataclass(frozen=True)
class EventFacts:
    """Everything a receiver is told about one event."""

    type: str
    id: str  # "event:123" or "message-failed:45": stable, unique per source
    occurred_at: str  # ISO 8601, UTC
    contact_email: str | None
    contact_name: str
    contact_title: str
    account: str
    segment: str
    rep_email: str | None
    rep_name: str
    campaign: str | None
    step: int | None
    url: str | None
    note: str | None


def parse_event_types(value: str) -> list[str]:
    """'click, Bounce' -> ['click', 'bounce']; ValueError names the known types."""
    wanted = [part.strip().lower() for part in value.split(",") if part.strip()]
    unknown = [name for name in wanted if name not in EVENT_TYPES]
    if unknown or not wanted:
        raise ValueError(
            f"unknown event type(s) {', '.join(unknown) or '(none given)'};"
            f" choose from {','.join(EVENT_TYPES)}"
        )
    return list(dict.fromkeys(wanted))


def new_secret() -> str:
    return _PREFIX + base64.b64encode(secrets.token_bytes(24)).decode("ascii")


def _key(secret: str) -> bytes:
    if secret.startswith(_PREFIX):
        return base64.b64decode(secret[len(_PREFIX) :])
    return secret.encode("utf-8")


def sign(secret: str, webhook_id: str, timestamp: int, body: str) -> str:
    """'v1,<base64>': HMAC-SHA256 over 'id.timestamp.body'."""
    message = f"{webhook_id}.{timestamp}.{body}".encode()
    digest = hmac.new(_key(secret), message, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signed_headers(secret: str, webhook_id: str, timestamp: int, body: str) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "user-agent": "campaign-engine-webhooks/1",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, webhook_id, timestamp, body),
    }


def render_body(facts: EventFacts, fmt: str, now: datetime) -> str:
    """The JSON body of a delivery, fixed when it is created (every retry sends the same)."""
    if fmt == "slack":
        return json.dumps({"text": slack_text(facts)}, ensure_ascii=False)
    data = {k: v for k, v in asdict(facts).items() if k != "type"}
    payload = {"type": facts.type, "timestamp": now.isoformat(), "data": data}
    return json.dumps(payload, ensure_ascii=False, sort_keys=True)


def slack_text(facts: EventFacts) -> str:
    """One readable message; for a contact request, what the rep's alert says."""
    if facts.type == "campaign_paused":
        return f"*Campaign {facts.campaign} paused by the brakes*: {facts.note}"
    who = facts.contact_name or facts.contact_email or "someone"
    details = ", ".join(x for x in (facts.contact_title, facts.account, facts.segment) if x)
    person = f"{who} ({details}) <{facts.contact_email}>" if details else who
    email = f" after email {facts.step} of {facts.campaign}" if facts.step else ""
    if facts.type == "contact_request":
        lines = [f"*Contact request*: {person} asked to talk to sales{email}."]
        if facts.rep_email:
            lines.append(f"Rep: {facts.rep_name or facts.rep_email} <{facts.rep_email}>")
        for line in (facts.note or "").splitlines():
            if not line.startswith("source:"):
                lines.append(line[:1].upper() + line[1:])
        return "\n".join(lines)
    what = {
        "click": f"clicked {facts.url}",
        "reply": "replied",
        "bounce": "bounced",
        "complaint": "complained (spam report)",
        "unsubscribe": "unsubscribed",
        "failed": "could not be emailed (delivery given up)",
    }.get(facts.type, facts.type)
    return f"{facts.type}: {person} {what}{email}."
