"""The one delivery state machine (sending.retry) applied to mail for reps: alerts and digests.

Their rows have fewer states than a campaign message: a retry is `queued` with a later
`next_attempt_at`, and an address that is gone is `failed` (a rep's address is never suppressed).
A drop after the final dot is sent again: a rare duplicate alert beats a lead the rep never hears of.
"""

from __future__ import annotations

from datetime import datetime

from campaign_engine.core.config import Settings
from campaign_engine.sending.outcomes import Outcome, RelayBoard
from campaign_engine.sending.relay_state import pause_status, paused_relays, record_fault
from campaign_engine.sending.retry import AttemptResult, RetryPolicy, next_state
from campaign_engine.store.db import Database

__all__ = ["note_relay_fault", "relay_board", "relay_paused", "released", "rep_mail_fate"]

_STATES = {
    "sent": "sent",
    "retry": "queued",
    "queued": "queued",
    "uncertain": "queued",
    "failed": "failed",
    "bounced": "failed",
}


def rep_mail_fate(
    outcome: Outcome,
    *,
    attempts: int,
    first_attempt_at: datetime | None,
    policy: RetryPolicy,
    now: datetime,
) -> dict[str, object]:
    """Column values of an alert or digest row after `outcome` (`attempts` before this one)."""
    if outcome.result == AttemptResult.NOT_ATTEMPTED:
        return released(now, outcome.detail)
    first = first_attempt_at or now
    move = next_state(
        outcome.result,
        attempts=attempts + 1,
        first_attempt_at=first,
        policy=policy,
        now=now,
        detail=outcome.detail,
    )
    retry_at = move.next_attempt_at
    if move.state == "uncertain":
        retry_at = now + policy.first_retry
    return {
        "state": _STATES[move.state],
        "attempts": attempts + 1,
        "first_attempt_at": first,
        "next_attempt_at": retry_at,
        "error": None if outcome.ok else move.reason,
        "sent_at": now if outcome.ok else None,
        "claimed_until": None,
    }


def released(now: datetime, why: str) -> dict[str, object]:
    """Back to the queue, nothing spent: the relay never saw it."""
    return {"state": "queued", "next_attempt_at": now, "error": why or None, "claimed_until": None}


def relay_paused(db: Database, settings: Settings, now: datetime) -> bool:
    """True while sending is paused for a relay fault (every relay is): rep mail waits like
    everything else."""
    return pause_status(db, settings, now).paused


def relay_board(db: Database, settings: Settings, now: datetime) -> RelayBoard:
    """The relays rep mail may use now: those not in a pause."""
    return RelayBoard(paused_relays(db, settings, now))


def note_relay_fault(
    db: Database,
    settings: Settings,
    outcomes: list[Outcome],
    now: datetime,
    board: RelayBoard | None = None,
) -> None:
    """Pause each relay that failed: those whose mail went to the others (`board`), and the
    one whose fault reached one of `outcomes`."""
    faults = dict(board.faults) if board is not None else {}
    fault = next((o.fault for o in outcomes if o.fault is not None), None)
    if fault is not None:
        faults.setdefault(fault.relay, fault)
    for each in faults.values():
        record_fault(db, each, settings, now)
