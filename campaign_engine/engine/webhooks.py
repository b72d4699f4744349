"""Webhook receivers (add, list, remove, log) and the producer that turns events into deliveries.

The producer reads the event table by a cursor kept in the database (`webhook_cursor`), up to
the committed horizon (`store.event_feed`), and writes one `webhook_delivery` per receiver and
event in the same transaction that moves the cursor: a restart loses and repeats nothing.
Messages given up on (`failed`) have no event; they are found as failed messages that have no
delivery yet for that receiver.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlmodel import Session, col, select

from campaign_engine.core.errors import InvalidInput, NotFound
from campaign_engine.core.kinds import MessageState
from campaign_engine.engine.webhook_payloads import (
    FORMATS,
    EventFacts,
    new_secret,
    parse_event_types,
    render_body,
)
from campaign_engine.store.api_tables import Webhook, WebhookCursor, WebhookDelivery
from campaign_engine.store.db import Database, is_postgres
from campaign_engine.store.event_feed import event_horizon
from campaign_engine.store.models import Account, Campaign, Contact, Event, Message, Rep

__all__ = [
    "PRODUCE_BATCH",
    "DeliveryView",
    "add_webhook",
    "count_deliveries",
    "delivery_log",
    "list_webhooks",
    "produce_deliveries",
    "queue_test",
    "remove_webhook",
]

PRODUCE_BATCH = 1000  # events read per transaction
_SOURCE_FAILED = "message-failed:"
_DELIVERIES: sa.Table = WebhookDelivery.__table__  # type: ignore[attr-defined]
_CONTACT_OF = {Event: Event.contact_id, Message: Message.contact_id}


@dataclass(frozen=True)
class DeliveryView:
    id: int
    webhook_id: int
    url: str
    uid: str
    event_type: str
    state: str
    attempts: int
    last_status: int | None
    error: str | None
    created_at: datetime | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None


def add_webhook(
    db: Database, url: str, events: str, now: datetime, secret: str | None = None, fmt: str = "json"
) -> Webhook:
    """Register a receiver; it is told about events from now on (not the past ones)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInput(f"webhook URL must be http(s)://host/..., not {url!r}")
    if fmt not in FORMATS:
        raise InvalidInput(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    try:
        kinds = parse_event_types(events)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    if secret is not None and len(secret) < 16:
        raise InvalidInput("the secret must be at least 16 characters (or leave it out)")
    with db.session() as session:
        hook = Webhook(
            url=url.strip(),
            events=",".join(kinds),
            secret=secret or new_secret(),
            format=fmt,
            after_event_id=event_horizon(session),
            created_at=now,
        )
        session.add(hook)
        session.flush()
        if "failed" in kinds:  # messages that failed before it existed are not news to it
            _insert_failed(session, hook, now, "skipped")
        return hook


def list_webhooks(db: Database) -> list[Webhook]:
    with db.session() as session:
        query = select(Webhook).where(col(Webhook.removed_at).is_(None)).order_by(col(Webhook.id))
        return list(session.exec(query).all())


def remove_webhook(db: Database, webhook_id: int, now: datetime) -> Webhook:
    """No new deliveries; pending ones are not attempted; the log stays."""
    with db.session() as session:
        hook = session.get(Webhook, webhook_id)
        if hook is None or hook.removed_at is not None:
            raise NotFound(f"no webhook {webhook_id}; see `campaign webhooks list`")
        hook.removed_at = now
        session.add(hook)
        session.connection().execute(
            sa.update(_DELIVERIES)
            .where(
                _DELIVERIES.c.webhook_id == webhook_id,
                _DELIVERIES.c.state.in_(("queued", "retry")),
            )
            .values(state="skipped", error="webhook removed", next_attempt_at=None)
        )
        return hook


def delivery_log(
    db: Database, webhook_id: int | None = None, state: str | None = None, limit: int = 50
) -> list[DeliveryView]:
    """Deliveries, newest first (`limit` 0: all of them)."""
    with db.session() as session:
        query = (
            select(WebhookDelivery, Webhook.url)
            .join(Webhook, col(Webhook.id) == WebhookDelivery.webhook_id)
            .where(*_log_filter(webhook_id, state))
            .order_by(col(WebhookDelivery.id).desc())
            .limit(limit or None)
        )
        return [
            DeliveryView(
                d.id or 0,
                d.webhook_id,
                url,
                d.uid,
                d.event_type,
                d.state,
                d.attempts,
                d.last_status,
                d.error,
                d.created_at,
                d.next_attempt_at,
                d.delivered_at,
            )
            for d, url in session.exec(query).all()
        ]


def count_deliveries(db: Database, webhook_id: int | None = None, state: str | None = None) -> int:
    """How many deliveries `delivery_log` would list without a limit."""
    with db.session() as session:
        query = select(sa.func.count()).select_from(WebhookDelivery)
        return session.exec(query.where(*_log_filter(webhook_id, state))).one()


def _log_filter(webhook_id: int | None, state: str | None) -> list[Any]:
    conditions: list[Any] = []
    if webhook_id is not None:
        conditions.append(WebhookDelivery.webhook_id == webhook_id)
    if state:
        conditions.append(WebhookDelivery.state == state)
    return conditions


def queue_test(db: Database, webhook_id: int, now: datetime) -> int:
    """A `test` delivery to one receiver, due now; returns its id."""
    with db.session() as session:
        hook = session.get(Webhook, webhook_id)
        if hook is None or hook.removed_at is not None:
            raise NotFound(f"no webhook {webhook_id}; see `campaign webhooks list`")
        facts = EventFacts(
            "test", f"test:{secrets.token_hex(8)}", now.isoformat(), "ada@example.com",
            "Ada Lovelace", "Engineer", "Example Co", "SMB", None, "", None, None, None,
            "source: campaign webhooks test",
        )  # fmt: skip
        return _add(session, hook, facts, now)


def produce_deliveries(db: Database, now: datetime) -> int:
    """Turn new events (and new failures) into deliveries; returns how many were queued."""
    queued = 0
    while True:
        with db.session() as session:
            cursor = _cursor(session)
            horizon = event_horizon(session)
            hooks = list(session.exec(select(Webhook).where(col(Webhook.removed_at).is_(None))))
            if not hooks:  # nobody to tell: nothing to read either
                cursor.event_id = max(cursor.event_id, horizon)
                session.add(cursor)
                return queued
            rows = session.exec(
                _people(select(Event, Contact, Account, Rep))
                .where(col(Event.id) > cursor.event_id, col(Event.id) <= horizon)
                .order_by(col(Event.id))
                .limit(PRODUCE_BATCH)
            ).all()
            steps = _steps(session, {r[0].message_id for r in rows if r[0].message_id})
            for event, contact, account, rep in rows:
                step = steps.get(event.message_id or 0, (None, None))
                facts = _facts(event.kind, f"event:{event.id}", event, contact, account, rep, step)
                for hook in hooks:
                    if _wants(hook, event):
                        _add(session, hook, facts, now)
                        queued += 1
            full = len(rows) == PRODUCE_BATCH
            cursor.event_id = (rows[-1][0].id or 0) if full else max(cursor.event_id, horizon)
            session.add(cursor)
            for hook in hooks:
                if "failed" in hook.events.split(","):
                    queued += _insert_failed(session, hook, now, "queued")
        if not full:
            return queued


def _wants(hook: Webhook, event: Event) -> bool:
    assert event.id is not None
    if event.id <= hook.after_event_id or event.kind not in hook.events.split(","):
        return False
    return event.is_human or event.kind != "click"  # scanners' clicks are not news


def _cursor(session: Session) -> WebhookCursor:
    query = select(WebhookCursor).where(WebhookCursor.id == 1)
    if is_postgres(session.get_bind().engine):
        query = query.with_for_update()  # one producer at a time
    cursor = session.exec(query).first()
    if cursor is None:
        cursor = WebhookCursor(id=1, event_id=0)
        session.add(cursor)
        session.flush()
    return cursor


def _people(query: Any) -> Any:
    """Join the contact, account and rep of whatever row `query` selects (an event, a message)."""
    return (
        query.join(
            Contact,
            col(Contact.id) == _CONTACT_OF[query.column_descriptions[0]["type"]],
            isouter=True,
        )
        .join(Account, col(Account.id) == Contact.account_id, isouter=True)
        .join(Rep, col(Rep.id) == Account.rep_id, isouter=True)
    )


def _steps(session: Session, message_ids: set[int]) -> dict[int, tuple[str, int]]:
    """Message id -> (campaign name, step)."""
    rows = session.exec(
        select(Message.id, Campaign.name, Message.step)
        .join(Campaign, col(Campaign.id) == Message.campaign_id)
        .where(col(Message.id).in_(message_ids))
    ).all()
    return {mid: (name, step) for mid, name, step in rows if mid is not None}


def _facts(
    kind: str,
    source: str,
    what: Event | Message,
    contact: Contact | None,
    account: Account | None,
    rep: Rep | None,
    step: tuple[str | None, int | None],
) -> EventFacts:
    if isinstance(what, Event):
        when, url, note = what.occurred_at, what.url, what.note
    else:
        when, url, note = what.next_attempt_at or what.created_at, None, what.error
    return EventFacts(
        type=kind,
        id=source,
        occurred_at=when.isoformat() if when else "",
        contact_email=contact.email if contact else None,
        contact_name=" ".join(f"{contact.first_name} {contact.last_name}".split())
        if contact
        else "",
        contact_title=contact.title if contact else "",
        account=account.name if account else "",
        segment=account.segment if account else "",
        rep_email=rep.email if rep else None,
        rep_name=rep.name if rep else "",
        campaign=step[0],
        step=step[1],
        url=url,
        note=note,
    )


def _add(
    session: Session, hook: Webhook, facts: EventFacts, now: datetime, state: str = "queued"
) -> int:
    assert hook.id is not None
    delivery = WebhookDelivery(
        webhook_id=hook.id,
        uid="msg_" + secrets.token_hex(12),
        source=facts.id,
        event_type=facts.type,
        body=render_body(facts, hook.format, now),
        state=state,
        created_at=now,
        next_attempt_at=now if state == "queued" else None,
    )
    session.add(delivery)
    session.flush()
    return delivery.id or 0


def _insert_failed(session: Session, hook: Webhook, now: datetime, state: str) -> int:
    source_of = sa.literal(_SOURCE_FAILED) + sa.cast(col(Message.id), sa.String)
    known = select(WebhookDelivery.id).where(
        WebhookDelivery.webhook_id == hook.id, col(WebhookDelivery.source) == source_of
    )
    query = _people(select(Message, Contact, Account, Rep)).where(
        Message.state == MessageState.FAILED, ~sa.exists(known)
    )
    rows = session.exec(query).all()
    steps = _steps(session, {m.id for m, *_ in rows if m.id is not None})
    for message, contact, account, rep in rows:
        step = steps.get(message.id or 0, (None, None))
        facts = _facts(
            "failed", f"{_SOURCE_FAILED}{message.id}", message, contact, account, rep, step
        )
        _add(session, hook, facts, now, state)
    return len(rows)
