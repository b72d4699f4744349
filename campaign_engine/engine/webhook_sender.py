"""Webhook deliveries go out from a background task, so a slow receiver never holds up a tick.

Each due delivery is claimed (state `sending`, with a lease), POSTed with its fixed body and
fresh signature headers, and settled by the engine's one delivery state machine
(`sending.retry.next_state`): 2xx delivered; a timeout, a refused connection or any other status
retried with back-off (5 minutes, doubling, at most an hour); 410 Gone stops at once; given up a
day after the first attempt. A worker that dies mid-POST leaves a lease that expires: the
delivery is retried with the same `webhook-id`, so the receiver can drop the duplicate.

A one-shot `campaign tick` waits at most `EXIT_WAIT_SECONDS` for the round in flight, then cuts
it: a POST cut short counts as an attempt without an answer (retried with back-off, same
`webhook-id`), a delivery claimed but not yet posted goes back as it was.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from datetime import datetime, timedelta

import httpx
import sqlalchemy as sa
from sqlmodel import col, select

from campaign_engine.engine.webhook_payloads import signed_headers
from campaign_engine.engine.webhooks import produce_deliveries
from campaign_engine.sending.retry import AttemptResult, RetryPolicy, next_state
from campaign_engine.store.api_tables import Webhook, WebhookDelivery
from campaign_engine.store.db import Database

__all__ = [
    "CUT_SHORT",
    "EXIT_WAIT_SECONDS",
    "POLICY",
    "TIMEOUT_SECONDS",
    "WebhookPump",
    "deliver_due",
]

log = logging.getLogger(__name__)

POLICY = RetryPolicy(timedelta(minutes=5), timedelta(hours=1), timedelta(days=1))
TIMEOUT_SECONDS = 10.0  # per attempt: connect, send and the receiver's answer
EXIT_WAIT_SECONDS = 0.5  # a one-shot tick's exit is never held up a second by a receiver
CUT_SHORT = "no answer before the tick ended"
LEASE = timedelta(minutes=5)
BATCH = 50  # deliveries claimed at a time
PARALLEL = 8  # POSTs in flight at once
_DELIVERIES: sa.Table = WebhookDelivery.__table__  # type: ignore[attr-defined]


async def deliver_due(
    db: Database, now: datetime, timeout: float = TIMEOUT_SECONDS, only: int | None = None
) -> Counter[str]:
    """Attempt every delivery due at `now` (or just delivery `only`); counts by new state."""
    counts: Counter[str] = Counter()
    limits = asyncio.Semaphore(PARALLEL)
    async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
        while True:
            claimed = await _claim_or_give_back(db, now, only)
            if not claimed:
                return counts

            async def attempt(item: tuple[WebhookDelivery, Webhook]) -> None:
                posting = False
                try:
                    async with limits:
                        posting = True
                        result, status, detail = await _post(client, *item, now)
                except asyncio.CancelledError:  # the round was cut: settle it before stopping
                    if posting:
                        _record(db, item[0], AttemptResult.TRANSIENT, None, CUT_SHORT, now)
                    else:
                        _unclaim(db, item[0])
                    raise
                await asyncio.to_thread(
                    lambda: counts.update([_record(db, item[0], result, status, detail, now)])
                )

            await asyncio.gather(*(attempt(item) for item in claimed))
            if only is not None:
                return counts


async def _claim_or_give_back(
    db: Database, now: datetime, only: int | None
) -> list[tuple[WebhookDelivery, Webhook]]:
    """Claim in a thread; a round cut meanwhile waits for the claim and puts back what it took
    (the thread cannot be stopped, and its claims would otherwise wait out their lease)."""
    claiming = asyncio.ensure_future(asyncio.to_thread(_claim, db, now, only))
    try:
        return await asyncio.shield(claiming)
    except asyncio.CancelledError:
        for delivery, _ in await claiming:
            _unclaim(db, delivery)
        raise


def _claim(db: Database, now: datetime, only: int | None) -> list[tuple[WebhookDelivery, Webhook]]:
    with db.session() as session:
        connection = session.connection()
        connection.execute(  # a worker died mid-POST: try again, same webhook-id
            sa.update(_DELIVERIES)
            .where(_DELIVERIES.c.state == "sending", _DELIVERIES.c.claimed_until < now)
            .values(state="retry", next_attempt_at=now, error="the sender stopped mid-attempt")
        )
        query = (
            select(WebhookDelivery.id)
            .where(
                col(WebhookDelivery.state).in_(("queued", "retry")),
                col(WebhookDelivery.next_attempt_at) <= now,
            )
            .order_by(col(WebhookDelivery.next_attempt_at), col(WebhookDelivery.id))
            .limit(BATCH)
        )
        if only is not None:
            query = query.where(WebhookDelivery.id == only)
        ids = list(session.exec(query).all())
        if not ids:
            return []
        won = connection.execute(
            sa.update(_DELIVERIES)
            .where(_DELIVERIES.c.id.in_(ids), _DELIVERIES.c.state.in_(("queued", "retry")))
            .values(
                state="sending",
                attempts=_DELIVERIES.c.attempts + 1,
                claimed_until=now + LEASE,
                first_attempt_at=sa.func.coalesce(_DELIVERIES.c.first_attempt_at, now),
            )
            .returning(_DELIVERIES.c.id)
        ).all()
        rows = session.exec(
            select(WebhookDelivery, Webhook)
            .join(Webhook, col(Webhook.id) == WebhookDelivery.webhook_id)
            .where(col(WebhookDelivery.id).in_([w[0] for w in won]))
        ).all()
        return [(d, w) for d, w in rows]


async def _post(
    client: httpx.AsyncClient, delivery: WebhookDelivery, hook: Webhook, now: datetime
) -> tuple[AttemptResult, int | None, str]:
    headers = signed_headers(hook.secret, delivery.uid, int(now.timestamp()), delivery.body)
    try:
        async with client.stream(
            "POST", hook.url, content=delivery.body.encode(), headers=headers
        ) as response:
            status = response.status_code  # the body is never read: only the status counts
    except httpx.TimeoutException:
        return AttemptResult.TRANSIENT, None, "no answer in time"
    except httpx.HTTPError as exc:
        return AttemptResult.TRANSIENT, None, f"{type(exc).__name__}: {exc}"[:300]
    if 200 <= status < 300:
        return AttemptResult.DELIVERED, status, ""
    if status == 410:
        return AttemptResult.PERMANENT, status, "410 Gone: the receiver asked to stop"
    return AttemptResult.TRANSIENT, status, f"HTTP {status}"


def _unclaim(db: Database, delivery: WebhookDelivery) -> None:
    """A delivery claimed but never posted goes back as it was before the claim."""
    first = delivery.attempts <= 1  # the claim counted this attempt
    with db.session() as session:
        session.connection().execute(
            sa.update(_DELIVERIES)
            .where(_DELIVERIES.c.id == delivery.id, _DELIVERIES.c.state == "sending")
            .values(
                state="queued" if first else "retry",
                attempts=_DELIVERIES.c.attempts - 1,
                claimed_until=None,
                first_attempt_at=None if first else _DELIVERIES.c.first_attempt_at,
            )
        )


def _record(
    db: Database,
    delivery: WebhookDelivery,
    result: AttemptResult,
    status: int | None,
    detail: str,
    now: datetime,
) -> str:
    transition = next_state(
        result,
        attempts=delivery.attempts,  # the claim counted this attempt
        first_attempt_at=delivery.first_attempt_at or now,
        policy=POLICY,
        now=now,
        detail=detail,
    )
    with db.session() as session:
        session.connection().execute(
            sa.update(_DELIVERIES)
            .where(_DELIVERIES.c.id == delivery.id, _DELIVERIES.c.state == "sending")
            .values(
                state=transition.state,
                next_attempt_at=transition.next_attempt_at,
                claimed_until=None,
                last_status=status,
                error=transition.reason or None,
                delivered_at=now if transition.state == "sent" else None,
            )
        )
    if transition.state != "sent":
        log.warning("webhook %s to %s: %s (%s)", delivery.uid, delivery.webhook_id,
                    transition.reason, transition.state)  # fmt: skip
    return transition.state


class WebhookPump:
    """Runs produce + deliver in one background task at a time; `kick` never waits for it."""

    def __init__(self, db: Database, timeout: float = TIMEOUT_SECONDS) -> None:
        self.db = db
        self.timeout = timeout
        self.task: asyncio.Task[None] | None = None

    def kick(self, now: datetime) -> bool:
        """Start a round unless one is still running (a slow receiver): True when started."""
        if self.task is not None and not self.task.done():
            return False
        self.task = asyncio.create_task(self._round(now), name="webhooks")
        return True

    async def drain(self, wait: float | None = None) -> None:
        """Wait for the round in flight (a one-shot `campaign tick`, or shutting down); with
        `wait`, at most that many seconds, then the round is cut (see the module docstring)."""
        if self.task is None:
            return
        done, _ = await asyncio.wait({self.task}, timeout=wait)
        if not done:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

    def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()

    async def _round(self, now: datetime) -> None:
        try:
            await asyncio.to_thread(lambda: produce_deliveries(self.db, now))
            counts = await deliver_due(self.db, now, self.timeout)
            if counts:
                log.info("webhooks: %s", dict(counts))
        except Exception:
            log.exception("webhook round failed; the next tick tries again")
