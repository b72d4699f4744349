"""Writes what became of a claimed batch: message states, enrollments, bounces, the relay pause.

Every claimed message leaves `sending` here, whatever happened: an outcome goes through the one
state machine (retry.next_state); a message the relay never saw (a relay fault, a stop) goes back
to `queued` with no attempt spent, and so does one the frequency cap or the contact's send
window holds back (with `next_attempt_at` when the cap allows it or the window opens, and
skip_reason "frequency cap" or "window"); a message handed
over when the run was cut short is `uncertain`. A contact moves on to the next step only after
this one was sent, bounced or skipped: a failed or uncertain message holds the contact until the
operator decides.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Session

from campaign_engine.audience.suppression import add_suppression
from campaign_engine.core.kinds import EnrollmentStatus, EventKind, MessageState
from campaign_engine.sending.claim import Claimed
from campaign_engine.sending.eligibility import (
    FREQUENCY_CAP,
    PROVIDER_PACING,
    SEND_WINDOW,
    stops_enrollment,
)
from campaign_engine.sending.outcomes import Outcome
from campaign_engine.sending.planner import Schedule
from campaign_engine.sending.retry import AttemptResult, RetryPolicy, next_state
from campaign_engine.sending.smtp_replies import RelayFault, enhanced_code
from campaign_engine.store import message_counts
from campaign_engine.store.bulk import among, update_rows
from campaign_engine.store.models import Enrollment, Event, Message

__all__ = [
    "POLICY_BLOCK_RUN",
    "BatchResult",
    "block_runs",
    "failure_reason",
    "open_block_run",
    "record_batch",
]

POLICY_BLOCK_RUN = 10  # this many recipients in a row refused with one 5.7.x code: a block list

_MESSAGES: sa.Table = Message.__table__  # type: ignore[attr-defined]
_ENROLLMENTS: sa.Table = Enrollment.__table__  # type: ignore[attr-defined]
_RECORDED = (
    "state",
    "skip_reason",
    "error",
    "recipient",
    "subject",
    "message_id_header",
    "sent_at",
    "next_attempt_at",
    "attempts",
    "first_attempt_at",
    "relay",
)
_RELEASED = {"claimed_by": None, "claimed_until": None, "on_wire": False}
_ADVANCING = (MessageState.SENT, MessageState.BOUNCED, MessageState.SKIPPED)
_WAITING = (MessageState.QUEUED, MessageState.RETRY)


@dataclass
class BatchResult:
    """What one batch came to, beyond the per-state counts."""

    fault: RelayFault | None = None  # the relay failed: pause sending
    delivered: int = 0
    released: list[int] = field(default_factory=list)
    relays: set[str] = field(default_factory=set)  # the relays that took a message


def failure_reason(error: str | None) -> str:
    """A failed message's error, grouped for `campaign status`: 'refused 5.7.1', 'gave up (4xx)'.

    >>> failure_reason("550 5.7.1 message refused as spam")
    'refused 5.7.1'
    """
    text = error or ""
    if text.startswith("gave up after"):
        return "gave up after days of 4xx"
    if text.startswith("could not build the message"):
        return "could not be built"
    code = enhanced_code(text.partition(" ")[2])
    if code:
        return f"refused {code}"
    first = text.split(" ", 1)[0]
    return f"refused {first}" if first.isdigit() else (text[:40] or "unknown")


def block_runs(outcomes: list[Outcome], carried: str | None = None) -> list[Outcome]:
    """Outcomes with every run of POLICY_BLOCK_RUN or more recipients refused with the same
    5.7.x code turned into a relay fault: that is the relay (a block list), not the people.

    `carried`: the code of a block run the outcomes before these ended with; refusals with it
    at the start of these continue that run.
    """
    result = list(outcomes)
    start = 0
    while start < len(result):
        code = result[start].policy_code
        end = start + 1
        while code and end < len(result) and result[end].policy_code == code:
            end += 1
        if code and (end - start >= POLICY_BLOCK_RUN or (start == 0 and code == carried)):
            detail = result[start].detail
            reason = f"relay refuses every recipient with {code}"
            fault = RelayFault("rcpt", reason, detail, relay=result[start].relay)
            for i in range(start, end):
                result[i] = Outcome(
                    result[i].key, AttemptResult.NOT_ATTEMPTED, detail, fault, result[i].relay
                )
        start = end
    return result


def open_block_run(outcomes: list[Outcome]) -> int:
    """How many outcomes at the end are one policy refusal repeated, fewer than
    POLICY_BLOCK_RUN times: a run that may still turn out to be a block list."""
    code = outcomes[-1].policy_code if outcomes else None
    if code is None:
        return 0
    length = 0
    for outcome in reversed(outcomes):
        if outcome.policy_code != code:
            break
        length += 1
    return length if length < POLICY_BLOCK_RUN else 0


def record_batch(
    session: Session,
    schedule: Schedule,
    messages: Iterable[Claimed],
    updates: dict[int, dict[str, object]],
    outcomes: list[Outcome],
    cut_short: set[int],
    policy: RetryPolicy,
    now: datetime,
    counts: Counter[str],
    places: dict[int, tuple[str | None, date | None]],
) -> BatchResult:
    """Write the fate of `messages` (all of a batch, or one group of it; see the module
    docstring); `outcomes` are judged already (block_runs), `cut_short` are the messages handed
    to the relay when the run was cancelled; `places` holds each enrollment's (zone, local
    first day), read with the batch's checks."""
    by_id = {m.id: m for m in messages}
    answered = {o.key: o for o in outcomes}
    result = BatchResult()
    rows, settled = [], []
    for mid, message in by_id.items():
        change = _fate(
            message,
            updates.get(mid, {}),
            answered.get(mid),
            mid in cut_short,
            policy,
            now,
            result,
        )
        rows.append({**change, **_RELEASED, "id": mid})
        released = bool(result.released) and result.released[-1] == mid
        counts[_count_key(change, released)] += 1
        if change["state"] in _ADVANCING:
            settled.append(_settle(session, schedule, message, change, now, places))
    # As the rows are now (a claim whose lease ran out may have moved on), for the counters.
    m = _MESSAGES.c
    connection = session.connection()
    before = {
        mid: (state, sent_at)
        for mid, state, sent_at in connection.execute(
            sa.select(m.id, m.state, m.sent_at)
            .where(among(connection, m.id, list(by_id)))
            .with_for_update(key_share=True)  # NO KEY: events keep going in meanwhile
        )
    }
    update_rows(connection, _MESSAGES, rows)
    keys = [
        (
            message.enrollment_id,
            message_counts.key_of(message, state=before[mid][0], sent_at=before[mid][1]),
            message_counts.key_of(message, state=row["state"], sent_at=row["sent_at"]),
        )
        for (mid, message), row in zip(by_id.items(), rows, strict=True)
    ]
    message_counts.moved_messages(session, keys)
    update_rows(connection, _ENROLLMENTS, settled, status=EnrollmentStatus.ACTIVE)
    return result


def _fate(
    message: Claimed,
    change: dict[str, object],
    outcome: Outcome | None,
    cut_short: bool,
    policy: RetryPolicy,
    now: datetime,
    result: BatchResult,
) -> dict[str, object]:
    row: dict[str, object] = {key: getattr(message, key) for key in _RECORDED}
    row.update(change)
    if outcome is None and "state" in change:  # skipped, deferred, or could not be built
        return row
    row["skip_reason"] = None  # it passed the checks: a deferral's note no longer applies
    if outcome is None and cut_short:
        row.update(state=MessageState.UNCERTAIN, error="run stopped while the relay had it")
        return row
    if outcome is None or outcome.result == AttemptResult.NOT_ATTEMPTED:
        result.released.append(message.id)
        if outcome is not None and outcome.fault is not None and result.fault is None:
            result.fault = outcome.fault
        # Back to the queue as it was claimed: nothing spent, and nothing to expire.
        row.update({k: getattr(message, k) for k in ("recipient", "subject", "message_id_header")})
        row.update(state=MessageState.QUEUED)
        return row
    first = message.first_attempt_at or now
    move = next_state(
        outcome.result,
        attempts=message.attempts + 1,
        first_attempt_at=first,
        policy=policy,
        now=now,
        detail=outcome.detail,
    )
    result.delivered += outcome.ok
    if outcome.ok:
        result.relays.add(outcome.relay)
        row["relay"] = outcome.relay or None
    row.update(
        state=move.state,
        error=None if outcome.ok else move.reason,
        attempts=message.attempts + 1,
        first_attempt_at=first,
        next_attempt_at=move.next_attempt_at or message.next_attempt_at,
        sent_at=now if outcome.ok else None,
    )
    return row


def _count_key(change: dict[str, object], released: bool) -> str:
    """The tick's count this message adds to: its state, `released`, `deferred` (the frequency
    cap), `deferred (window)` or `deferred (pacing)`."""
    if released:
        return "released"
    if change["state"] in _WAITING and change.get("skip_reason") == FREQUENCY_CAP:
        return "deferred"
    if change["state"] in _WAITING and change.get("skip_reason") == SEND_WINDOW:
        return "deferred (window)"
    if change["state"] in _WAITING and change.get("skip_reason") == PROVIDER_PACING:
        return "deferred (pacing)"
    return str(change["state"])


def _settle(
    session: Session,
    schedule: Schedule,
    message: Claimed,
    change: dict[str, object],
    now: datetime,
    places: dict[int, tuple[str | None, date | None]],
) -> dict[str, object]:
    """The enrollment's next state: next step's due time, completion, or a stop for good."""
    state = change["state"]
    values: dict[str, object] = {
        "id": message.enrollment_id,
        "status": EnrollmentStatus.ACTIVE,
        "stop_reason": None,
        "stopped_at": None,
        "last_step_at": now,
        "next_due_at": None,
    }
    if state == MessageState.BOUNCED:
        add_suppression(session, str(change["recipient"]), "bounce", str(change["error"]), now)
        session.add(
            Event(
                kind=EventKind.BOUNCE,
                message_id=message.id,
                contact_id=message.contact_id,
                note=str(change["error"]),
                occurred_at=now,
            )
        )
        values.update(status=EnrollmentStatus.STOPPED, stop_reason="bounced", stopped_at=now)
    elif state == MessageState.SKIPPED and stops_enrollment(str(change["skip_reason"])):
        values.update(
            status=EnrollmentStatus.STOPPED, stop_reason=change["skip_reason"], stopped_at=now
        )
    else:
        tz, first_day = places.get(message.enrollment_id, (None, None))
        values["next_due_at"] = schedule.next_due_at(message.step + 1, now, tz, first_day)
        if values["next_due_at"] is None:
            values["status"] = EnrollmentStatus.COMPLETED
    return values
