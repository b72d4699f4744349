"""Mail transports: pooled SMTP (smtp_client) through one or more relays (relay_router), and an
outbox Maildir for local runs."""

from __future__ import annotations

import mailbox
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Protocol

from campaign_engine.core.config import Settings
from campaign_engine.sending.dkim import DkimSigner
from campaign_engine.sending.outcomes import Delivery, OnDone, OnTaken, Outcome, RelayBoard
from campaign_engine.sending.relay_router import RelayRouter
from campaign_engine.sending.retry import AttemptResult
from campaign_engine.sending.signing_pool import SigningPool, signed_stream
from campaign_engine.sending.smtp_client import Limiter, RateLimiter, SmtpTransport
from campaign_engine.sending.smtp_replies import RelayFault

__all__ = [
    "Delivery",
    "Limiter",
    "OutboxTransport",
    "Outcome",
    "RelayBoard",
    "SigningTransport",
    "SmtpTransport",
    "Transport",
    "make_transport",
]


class Transport(Protocol):
    async def __aenter__(self) -> Transport: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def deliver(
        self,
        deliveries: Iterable[Delivery],
        on_taken: OnTaken | None = None,
        on_done: OnDone | None = None,
        board: RelayBoard | None = None,
    ) -> list[Outcome]:
        """Hand every delivery to the relay; never raises for a per-message failure.

        `deliveries` may be a lazy iterator: it is consumed as connections become free.
        `on_taken` is awaited with each delivery's key just before it goes to the wire, `on_done`
        hears each outcome as it comes. `board`: the relays to skip, and those that failed.
        """
        ...


def make_transport(settings: Settings, limiter: Limiter | None = None) -> Transport:
    """The transport every sender uses; `limiter` replaces the per-process rate limit (see
    throttle), which holds for all relays together. DKIM-signs every message when [dkim] is
    configured."""
    inner: Transport
    if settings.transport == "smtp":
        shared = limiter if limiter is not None else RateLimiter(settings.smtp.rate_limit)
        inner = RelayRouter(
            [SmtpTransport(r, shared, settings.from_domain) for r in settings.relays]
        )
    else:
        inner = OutboxTransport(settings.outbox_dir)
    if settings.dkim.enabled:
        return SigningTransport(inner, DkimSigner.from_settings(settings.dkim))
    return inner


class SigningTransport:
    """Signs each delivery just before the inner transport takes it (lazily, like rendering;
    the RSA operations in worker processes, see signing_pool)."""

    def __init__(self, inner: Transport, signer: DkimSigner) -> None:
        self.inner = inner
        self.signer = signer
        self.pool = SigningPool(signer)

    async def __aenter__(self) -> SigningTransport:
        await self.inner.__aenter__()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.pool.close()
        await self.inner.__aexit__(*exc_info)  # type: ignore[arg-type]

    async def deliver(
        self,
        deliveries: Iterable[Delivery],
        on_taken: OnTaken | None = None,
        on_done: OnDone | None = None,
        board: RelayBoard | None = None,
    ) -> list[Outcome]:
        refused: list[Outcome] = []

        def refuse(delivery: Delivery, exc: Exception) -> None:  # that message fails alone
            detail = f"DKIM signing failed: {exc}"
            refused.append(outcome := Outcome(delivery.key, AttemptResult.PERMANENT, detail))
            if on_done is not None:
                on_done(outcome)

        stream = signed_stream(self.pool, deliveries, refuse)  # reads a chunk or two ahead
        outcomes = await self.inner.deliver(stream, on_taken, on_done, board)
        return [*outcomes, *refused]


class OutboxTransport:
    """Writes each message into a Maildir folder (open it with any mail client or `mutt -f`)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def __aenter__(self) -> OutboxTransport:
        self._box = mailbox.Maildir(self.directory, create=True)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._box.close()

    async def deliver(
        self,
        deliveries: Iterable[Delivery],
        on_taken: OnTaken | None = None,
        on_done: OnDone | None = None,
        board: RelayBoard | None = None,
    ) -> list[Outcome]:
        """Writes one message at a time; `deliveries` stops early when the run is stopping."""
        outcomes = []
        for delivery in deliveries:
            if on_taken is not None:
                await on_taken(delivery.key)
            try:
                self._box.add(delivery.raw)
                outcome = Outcome(delivery.key, AttemptResult.DELIVERED, "written to outbox")
            except OSError as exc:  # disk full, permissions: the outbox is the "relay" here
                fault = RelayFault("outbox", f"cannot write to {self.directory}", str(exc))
                outcome = Outcome(delivery.key, AttemptResult.NOT_ATTEMPTED, str(exc), fault)
            outcomes.append(outcome)
            if on_done is not None:
                on_done(outcome)
            if outcome.fault is not None:
                break
        return outcomes
