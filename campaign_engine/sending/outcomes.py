"""What goes to a transport (Delivery) and what comes back (Outcome)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from campaign_engine.sending.retry import AttemptResult
from campaign_engine.sending.smtp_replies import RelayFault, enhanced_code

__all__ = ["Delivery", "OnDone", "OnTaken", "Outcome", "RelayBoard"]

# Awaited with a delivery's key when a transport takes it for the wire (never before), and the
# delivery goes out only once it returns: the caller records that the relay may get it first.
# What a run cut short may have handed to the relay, as opposed to what was only rendered ahead.
OnTaken = Callable[[int], Awaitable[None]]


def _always() -> bool:
    return True


def _any(key: int) -> bool:
    return True


@dataclass(frozen=True)
class Delivery:
    """One message ready for the wire."""

    key: int
    sender: str  # envelope sender (bare address)
    recipient: str  # envelope recipient (bare address, A-label domain)
    raw: bytes
    smtputf8: bool = False  # the addresses or headers need SMTPUTF8 (RFC 6531)
    # A pipelining relay gets a message's envelope behind the previous message's final dot,
    # before that one's outcome is known. `ready(key)`: on_taken would return at once for it (it
    # does not wait for another delivery's answer), so it may go so. `wanted`: asked of one
    # taken so, once that outcome is in; False (a stop, the brakes): nothing more of it goes
    # out, and it goes back to the queue.
    ready: Callable[[int], bool] = field(default=_any, compare=False, repr=False)
    wanted: Callable[[], bool] = field(default=_always, compare=False, repr=False)


# Called with each outcome as soon as the transport has it: a run cut short mid-batch still
# records what the relay answered before the cut.
OnDone = Callable[["Outcome"], None]


@dataclass(frozen=True)
class Outcome:
    """What became of one delivery. A relay fault (`fault`) means it was never attempted."""

    key: int
    result: AttemptResult
    detail: str = ""
    fault: RelayFault | None = None
    relay: str = ""  # the relay that answered ("" for the outbox)

    @property
    def ok(self) -> bool:
        return self.result == AttemptResult.DELIVERED

    @property
    def permanent(self) -> bool:
        """Refused for good (the address is gone, or a policy rejection)."""
        return self.result in (AttemptResult.PERMANENT, AttemptResult.ADDRESS_GONE)

    @property
    def policy_code(self) -> str | None:
        """The 5.7.x code of a per-recipient policy rejection (a block list...), else None."""
        if self.result != AttemptResult.PERMANENT:
            return None
        code = enhanced_code(self.detail.partition(" ")[2])
        return code if code and code.startswith("5.7.") else None


@dataclass
class RelayBoard:
    """What one delivery run knows of the relays: the ones to skip (in a fault pause), and the
    ones that failed during the run (their mail went to the others), by name."""

    paused: frozenset[str] = frozenset()
    faults: dict[str, RelayFault] = field(default_factory=dict)
