"""The rehearsal's relay: it takes every message and keeps the ones of the sampled contacts."""

from __future__ import annotations

from collections.abc import Iterable

from campaign_engine.sending.outcomes import Delivery, OnDone, OnTaken, Outcome, RelayBoard
from campaign_engine.sending.retry import AttemptResult

__all__ = ["RehearsalSink"]


class RehearsalSink:
    """A Transport that accepts everything at once and sends nothing anywhere."""

    def __init__(self, keep_for: set[str]) -> None:
        self.keep_for = keep_for  # envelope recipients (as on the wire) whose mail is kept
        self.kept: dict[int, bytes] = {}  # message id -> the message as the relay would get it

    async def __aenter__(self) -> RehearsalSink:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    async def deliver(
        self,
        deliveries: Iterable[Delivery],
        on_taken: OnTaken | None = None,
        on_done: OnDone | None = None,
        board: RelayBoard | None = None,
    ) -> list[Outcome]:
        outcomes = []
        for delivery in deliveries:
            if on_taken is not None:
                await on_taken(delivery.key)
            if delivery.recipient in self.keep_for:
                self.kept[delivery.key] = delivery.raw
            outcome = Outcome(delivery.key, AttemptResult.DELIVERED, "rehearsal")
            outcomes.append(outcome)
            if on_done is not None:
                on_done(outcome)
        return outcomes
