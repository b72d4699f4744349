"""Several SMTP relays as one transport: mail spread by weight, and a failed relay's mail moved.

Each delivery goes to one of the relays that are not paused and may carry its From domain,
picked by smooth weighted round robin (weights 3 and 1: three in four to the first, evenly
interleaved). A relay that meets a relay fault (smtp_replies: nothing of that message reached
anyone) takes nothing more in this run: the deliveries picked for it and not taken yet go to the
other relays at once; the ones it had taken (on_taken heard them: a mark on the wire, a provider's
connection) are answered with its fault, so they go back to the queue with no attempt spent, and
the caller's next batch sends them through the relays left (the caller pauses the failed one).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import deque
from collections.abc import Iterable, Iterator
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import parseaddr

from campaign_engine.sending.outcomes import Delivery, OnDone, OnTaken, Outcome, RelayBoard
from campaign_engine.sending.retry import AttemptResult
from campaign_engine.sending.smtp_client import SmtpTransport

__all__ = ["RelayRouter", "from_domain", "no_relay_for"]

_HEADERS = BytesHeaderParser(policy=compat32)


def from_domain(raw: bytes) -> str:
    """The domain of a message's From header, lower-cased ("" when it has none)."""
    header = _HEADERS.parsebytes(raw, headersonly=True)["From"] or ""
    return parseaddr(header)[1].rpartition("@")[2].lower()


def no_relay_for(domain: str) -> str:
    """Why a message no relay may carry failed."""
    return (
        f"no relay carries mail from {domain or 'this From address'}; add it to a relay's domains"
    )


class RelayRouter:
    """One SMTP transport per relay behind the Transport interface."""

    def __init__(self, transports: list[SmtpTransport]) -> None:
        self.transports = transports
        self._credit = {t.settings.name: 0.0 for t in transports}  # smooth weighted round robin
        self._restricted = any(t.settings.domains for t in transports)

    async def __aenter__(self) -> RelayRouter:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for transport in self.transports:
            await transport.__aexit__(*exc_info)

    async def deliver(
        self,
        deliveries: Iterable[Delivery],
        on_taken: OnTaken | None = None,
        on_done: OnDone | None = None,
        board: RelayBoard | None = None,
    ) -> list[Outcome]:
        """Outcomes of the deliveries taken, each with its relay's name; `board` says which
        relays to skip and hears which ones failed (a fresh one when None)."""
        run = _Run(self, iter(deliveries), on_done, board or RelayBoard())
        while busy := run.busy():
            await asyncio.gather(*(t.deliver(run.feed(t), on_taken, run.done_by(t)) for t in busy))
        return run.outcomes

    def domain_of(self, delivery: Delivery) -> str:
        """The From domain, when a relay's `domains` makes it matter."""
        return from_domain(delivery.raw) if self._restricted else ""

    def pick(self, domain: str, live: list[SmtpTransport]) -> SmtpTransport | None:
        """The relay next in turn among `live` ones that may carry mail from `domain`."""
        able = [t for t in live if t.settings.carries(domain)]
        if not able:
            return None
        total = sum(t.settings.weight for t in able)
        for transport in able:
            self._credit[transport.settings.name] += transport.settings.weight
        chosen = max(able, key=lambda t: self._credit[t.settings.name])
        self._credit[chosen.settings.name] -= total
        return chosen


class _Run:
    """One `deliver` call: what each relay was given, and which relays are still in it."""

    def __init__(
        self,
        router: RelayRouter,
        source: Iterator[Delivery],
        on_done: OnDone | None,
        board: RelayBoard,
    ) -> None:
        self.router = router
        self.source: Iterator[Delivery] | None = source
        self.on_done = on_done
        self.board = board
        self.outcomes: list[Outcome] = []
        self.live = [t for t in router.transports if t.settings.name not in board.paused]
        self.waiting: dict[str, deque[Delivery]] = {t.settings.name: deque() for t in self.live}

    def busy(self) -> list[SmtpTransport]:
        """The relays with something to send next: every live one while the source lasts,
        then those given a failed relay's mail."""
        if self.source is not None:
            if self.live:
                return self.live
            for delivery in self.source:  # every relay is paused or failed
                self._refuse(delivery)
            self.source = None
        return [t for t in self.live if self.waiting[t.settings.name]]

    def feed(self, relay: SmtpTransport) -> Iterator[Delivery]:
        """What `relay` sends: what was picked for it, else the next delivery picked for it."""
        waiting = self.waiting[relay.settings.name]
        while relay in self.live:
            delivery = waiting.popleft() if waiting else self._next(relay)
            if delivery is None:
                if self.source is None:
                    return
                continue  # the next one went to another relay, or was answered
            yield delivery

    def _next(self, relay: SmtpTransport) -> Delivery | None:
        """The source's next delivery when it is `relay`'s to send (None at the end)."""
        delivery = next(self.source, None) if self.source is not None else None
        if delivery is None:
            self.source = None
            return None
        return delivery if self._route(delivery, relay) else None

    def done_by(self, relay: SmtpTransport) -> OnDone:
        name = relay.settings.name

        def done(outcome: Outcome) -> None:
            fault = outcome.fault
            if fault is not None:
                fault = dataclasses.replace(fault, relay=name)
                self.board.faults.setdefault(name, fault)
            if fault is not None and relay in self.live:
                self.live.remove(relay)  # it takes nothing more: what waited for it goes elsewhere
                for waiting in self.waiting.pop(name):
                    self._route(waiting)
            self._report(dataclasses.replace(outcome, fault=fault, relay=name))

        return done

    def _route(self, delivery: Delivery, sender: SmtpTransport | None = None) -> bool:
        """Pick the relay for `delivery`: True when it is `sender` (which sends it now); else
        it waits for its relay, or is answered at once when no relay may take it."""
        domain = self.router.domain_of(delivery)
        chosen = self.router.pick(domain, self.live)
        if chosen is None:
            self._refuse(delivery, domain)
            return False
        if chosen is sender:
            return True
        self.waiting[chosen.settings.name].append(delivery)
        return False

    def _refuse(self, delivery: Delivery, domain: str | None = None) -> None:
        """No relay may take `delivery` now. It goes back to the queue when the relays that
        could carry it failed (their fault) or are paused; it fails when none carries its
        From domain at all."""
        domain = self.router.domain_of(delivery) if domain is None else domain
        able = [t.settings.name for t in self.router.transports if t.settings.carries(domain)]
        fault = next((self.board.faults[n] for n in able if n in self.board.faults), None)
        if fault is not None:
            outcome = Outcome(delivery.key, AttemptResult.NOT_ATTEMPTED, str(fault), fault)
        elif able:
            outcome = Outcome(delivery.key, AttemptResult.NOT_ATTEMPTED, "every relay is paused")
        else:
            outcome = Outcome(delivery.key, AttemptResult.PERMANENT, no_relay_for(domain))
        self._report(outcome)

    def _report(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)
        if self.on_done is not None:
            self.on_done(outcome)
