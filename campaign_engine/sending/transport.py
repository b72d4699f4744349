"""Mail transports: pooled SMTP via aiosmtplib, and an outbox Maildir for local runs."""

from __future__ import annotations

import asyncio
import mailbox
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Protocol

import aiosmtplib

from campaign_engine.core.config import Settings, SmtpSettings
from campaign_engine.sending.dkim import DkimSigner
from campaign_engine.sending.signing_pool import SigningPool, deliver_signed

__all__ = [
    "Delivery",
    "Limiter",
    "OutboxTransport",
    "Outcome",
    "SigningTransport",
    "SmtpTransport",
    "Transport",
    "make_transport",
]


@dataclass(frozen=True)
class Delivery:
    """One message ready for the wire."""

    key: int
    sender: str  # envelope sender (bare address)
    recipient: str  # envelope recipient (bare address)
    raw: bytes


@dataclass(frozen=True)
class Outcome:
    """What the relay said about one delivery."""

    key: int
    ok: bool
    permanent: bool = False
    detail: str = ""


class Transport(Protocol):
    async def __aenter__(self) -> Transport: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def deliver(self, deliveries: Iterable[Delivery]) -> list[Outcome]:
        """Hand every delivery to the relay; never raises for a per-message failure.

        `deliveries` may be a lazy iterator: it is consumed as connections become free.
        """
        ...


class Limiter(Protocol):
    async def wait(self) -> None:
        """Return when one more message may be sent."""
        ...


def make_transport(settings: Settings, limiter: Limiter | None = None) -> Transport:
    """The transport every sender uses; `limiter` replaces the per-process rate limit (see
    throttle). DKIM-signs every message when [dkim] is configured."""
    inner: Transport
    if settings.transport == "smtp":
        inner = SmtpTransport(settings.smtp, limiter)
    else:
        inner = OutboxTransport(settings.outbox_dir)
    if settings.dkim.enabled:
        return SigningTransport(inner, DkimSigner.from_settings(settings.dkim))
    return inner


class SigningTransport:
    """Signs deliveries chunk by chunk (in worker processes, see signing_pool) just before the
    inner transport takes them."""

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

    async def deliver(self, deliveries: Iterable[Delivery]) -> list[Outcome]:
        return await deliver_signed(self.inner.deliver, self.pool, deliveries)


class OutboxTransport:
    """Writes each message into a Maildir folder (open it with any mail client or `mutt -f`)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def __aenter__(self) -> OutboxTransport:
        self._box = mailbox.Maildir(self.directory, create=True)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._box.close()

    async def deliver(self, deliveries: Iterable[Delivery]) -> list[Outcome]:
        outcomes = []
        for delivery in deliveries:
            self._box.add(delivery.raw)
            outcomes.append(Outcome(delivery.key, ok=True, detail="written to outbox"))
        return outcomes


class _RateLimiter:
    """Spaces sends evenly so the whole pool stays under `per_second`."""

    def __init__(self, per_second: float) -> None:
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        if not self.interval:
            return
        async with self._lock:
            now = time.monotonic()
            delay = self._next - now
            self._next = max(now, self._next) + self.interval
        if delay > 0:
            await asyncio.sleep(delay)


class SmtpTransport:
    """A pool of long-lived SMTP connections shared by every batch of a run."""

    def __init__(self, settings: SmtpSettings, limiter: Limiter | None = None) -> None:
        self.settings = settings
        self._limiter = limiter or _RateLimiter(settings.rate_limit)
        self._idle: list[aiosmtplib.SMTP] = []

    async def __aenter__(self) -> SmtpTransport:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        idle, self._idle = self._idle, []
        for client in idle:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError):
                client.close()

    async def deliver(self, deliveries: Iterable[Delivery]) -> list[Outcome]:
        pending = iter(deliveries)  # shared: each worker takes the next one when it is free
        outcomes: list[Outcome] = []
        workers = max(1, self.settings.concurrency)
        await asyncio.gather(*(self._worker(pending, outcomes) for _ in range(workers)))
        return outcomes

    async def _worker(self, pending: Iterator[Delivery], outcomes: list[Outcome]) -> None:
        client: aiosmtplib.SMTP | None = None
        try:
            for delivery in pending:
                await self._limiter.wait()
                try:
                    client = client or await self._connect()
                    # mail/rcpt/data rather than sendmail: the addresses are validated already,
                    # and sendmail re-parses each one twice (a measurable cost per message).
                    await client.mail(delivery.sender)
                    await client.rcpt(delivery.recipient)
                    await client.data(delivery.raw)
                except aiosmtplib.SMTPResponseException as exc:
                    outcomes.append(_response(delivery.key, exc.code, exc.message))
                    client = await _reset(client)
                except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                    outcomes.append(Outcome(delivery.key, ok=False, detail=f"connection: {exc}"))
                    client = _drop(client)
                else:
                    outcomes.append(Outcome(delivery.key, ok=True, detail="250 accepted"))
        finally:
            if client is not None:
                self._idle.append(client)

    async def _connect(self) -> aiosmtplib.SMTP:
        while self._idle:
            client = self._idle.pop()
            if client.is_connected:
                return client
        s = self.settings
        client = aiosmtplib.SMTP(
            hostname=s.host,
            port=s.port,
            timeout=s.timeout,
            use_tls=s.use_tls,
            start_tls=s.starttls,
        )
        await client.connect()
        if s.username:
            await client.login(s.username, s.password)
        return client


def _response(key: int, code: int, message: str) -> Outcome:
    return Outcome(key, ok=False, permanent=500 <= code < 600, detail=f"{code} {message}")


async def _reset(client: aiosmtplib.SMTP | None) -> aiosmtplib.SMTP | None:
    """After a refused message, RSET so the connection can carry the next one."""
    if client is None or not client.is_connected:
        return None
    try:
        await client.rset()
    except (aiosmtplib.SMTPException, OSError):
        return _drop(client)
    return client


def _drop(client: aiosmtplib.SMTP | None) -> None:
    if client is not None:
        client.close()
    return None
