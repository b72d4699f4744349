"""The one delivery state machine: what an attempt's result means for the thing being delivered.

Pure: no clock, no database, no SMTP. Campaign messages, rep alerts and digests use it, and any
other channel (webhooks over HTTP) can: only the mapping of its own replies to `AttemptResult`
is channel-specific.

Retries follow Postfix's deferred queue: 5 minutes, doubling, capped at an hour, and given up a
fixed time after the first attempt (RFC 5321 §4.5.4.1: days, not a count). A delivery that was
never attempted (the relay itself was at fault, or we were stopping) spends nothing and never
expires: it just goes back to the queue.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import sqlalchemy as sa

from campaign_engine.core.config import Settings

__all__ = [
    "SENDING",
    "AttemptResult",
    "RetryPolicy",
    "Transition",
    "expired_claims",
    "next_state",
]

SENDING = "sending"  # the claimed state, the same word for messages, alerts and digests


class AttemptResult(StrEnum):
    """What one attempt to hand over one delivery came to."""

    DELIVERED = "delivered"  # the receiver took it (SMTP 250, HTTP 2xx)
    TRANSIENT = "transient"  # refused for now (4xx): try again later
    PERMANENT = "permanent"  # refused for good, but not the address's fault (5.7.x policy)
    ADDRESS_GONE = "address_gone"  # the address does not exist (5.1.x, 5.2.x): never again
    UNCERTAIN = "uncertain"  # handed over, then the line dropped before the answer
    NOT_ATTEMPTED = "not_attempted"  # the channel itself failed, or we stopped: nothing spent


@dataclass(frozen=True)
class RetryPolicy:
    """How long to wait between tries, and when to give up."""

    first_retry: timedelta = timedelta(minutes=5)
    max_retry: timedelta = timedelta(hours=1)
    give_up_after: timedelta = timedelta(days=3)

    def __post_init__(self) -> None:
        if self.first_retry <= timedelta(0):
            raise ValueError(f"first_retry must be positive, got {self.first_retry}")
        if self.max_retry < self.first_retry:
            raise ValueError(f"max_retry {self.max_retry} is below first_retry {self.first_retry}")

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(
            first_retry=timedelta(seconds=settings.retry_base_seconds),
            max_retry=timedelta(seconds=settings.retry_max_seconds),
            give_up_after=timedelta(hours=settings.give_up_after_hours),
        )

    def delay(self, attempts: int) -> timedelta:
        """The wait after the `attempts`-th refusal: first_retry, doubling, capped at max_retry.

        >>> RetryPolicy().delay(3)
        datetime.timedelta(seconds=1200)
        """
        doublings = min(max(attempts - 1, 0), 32)  # 2**32 first retries exceed any cap
        return min(self.first_retry * (1 << doublings), self.max_retry)


@dataclass(frozen=True)
class Transition:
    """Where a delivery goes next: state is one of sent, retry, failed, bounced, uncertain, queued."""

    state: str
    next_attempt_at: datetime | None
    reason: str


def next_state(
    result: AttemptResult,
    *,
    attempts: int,
    first_attempt_at: datetime,
    policy: RetryPolicy,
    now: datetime,
    detail: str = "",
) -> Transition:
    """The delivery's next state after `result`; `attempts` counts this attempt too."""
    match result:
        case AttemptResult.DELIVERED:
            return Transition("sent", None, detail)
        case AttemptResult.ADDRESS_GONE:
            return Transition("bounced", None, detail)
        case AttemptResult.PERMANENT:
            return Transition("failed", None, detail)
        case AttemptResult.UNCERTAIN:
            return Transition("uncertain", None, detail)
        case AttemptResult.NOT_ATTEMPTED:
            return Transition("queued", now, detail)
        case AttemptResult.TRANSIENT:
            if now - first_attempt_at >= policy.give_up_after:
                return Transition(
                    "failed", None, f"gave up after {_span(policy.give_up_after)}: {detail}"
                )
            return Transition("retry", now + policy.delay(attempts), detail)
    raise AssertionError(f"unhandled attempt result {result!r}")


def expired_claims(table: sa.Table, now: datetime) -> sa.ColumnElement[bool]:
    """Rows of `table` (messages, alerts, digests) claimed by a sender whose lease ran out.

    What happens to them is the caller's choice: a campaign message becomes `uncertain` (never
    resent without the operator), an alert or digest to a rep goes out again.
    """
    return sa.and_(table.c.state == SENDING, table.c.claimed_until < now)


def _span(span: timedelta) -> str:
    hours = span.total_seconds() / 3600
    if hours >= 24 and hours % 24 == 0:
        days = int(hours // 24)
        return "1 day" if days == 1 else f"{days} days"
    return "1 hour" if hours == 1 else f"{hours:g} hours"
