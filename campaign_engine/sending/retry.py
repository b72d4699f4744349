"""The one delivery state machine: what an attempt's outcome means for the next attempt.

PURE: given the outcome, how many attempts were made, when the first one was and now, it says
the next state and when to try again. Messages, alerts, digests and webhooks all ask it.
(Minimal version written for the webhooks of issue 22; issue 15 owns the full one.)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

__all__ = ["AttemptResult", "RetryPolicy", "Transition", "next_state"]


class AttemptResult(StrEnum):
    DELIVERED = "delivered"
    TRANSIENT = "transient"  # try again later (4xx, 5xx of a web receiver, timeout, refused)
    PERMANENT = "permanent"  # will never work as it is
    ADDRESS_GONE = "address_gone"  # the recipient does not exist (a hard bounce)
    UNCERTAIN = "uncertain"  # may or may not have arrived; never repeated without an operator
    NOT_ATTEMPTED = "not_attempted"  # nothing was tried (our side was not ready): no attempt used


@dataclass(frozen=True)
class RetryPolicy:
    first_retry: timedelta  # wait after the first failed attempt; doubles per attempt
    max_retry: timedelta  # the wait never grows past this
    give_up_after: timedelta  # no attempt is scheduled later than this after the first one


@dataclass(frozen=True)
class Transition:
    state: str  # "sent" | "retry" | "failed" | "bounced" | "uncertain" | "queued"
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
    """The state after an attempt (`attempts` counts it): sent, retry at a time, or settled.

    >>> p = RetryPolicy(timedelta(minutes=5), timedelta(hours=1), timedelta(days=1))
    >>> t0 = datetime(2021, 4, 27, 9)
    >>> next_state(AttemptResult.TRANSIENT, attempts=2, first_attempt_at=t0, policy=p, now=t0)
    Transition(state='retry', next_attempt_at=datetime.datetime(2021, 4, 27, 9, 10), reason='')
    """
    if result == AttemptResult.DELIVERED:
        return Transition("sent", None, detail)
    if result == AttemptResult.PERMANENT:
        return Transition("failed", None, detail)
    if result == AttemptResult.ADDRESS_GONE:
        return Transition("bounced", None, detail)
    if result == AttemptResult.UNCERTAIN:
        return Transition("uncertain", None, detail)
    if result == AttemptResult.NOT_ATTEMPTED:
        return Transition("queued", now, detail)
    deadline = first_attempt_at + policy.give_up_after
    if now >= deadline:
        return Transition("failed", None, f"gave up after {_span(policy.give_up_after)}: {detail}")
    wait = min(policy.first_retry * 2 ** max(attempts - 1, 0), policy.max_retry)
    return Transition("retry", min(now + wait, deadline), detail)


def _span(span: timedelta) -> str:
    hours = span.total_seconds() / 3600
    return f"{hours:g} hour(s)" if hours < 48 else f"{hours / 24:g} day(s)"
