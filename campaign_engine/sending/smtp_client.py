"""The SMTP transport: a pool of recycled aiosmtplib connections, every outcome classified.

Each session step is done by hand (connect, EHLO, STARTTLS, AUTH, MAIL, RCPT, DATA, the final
dot) so every failure is known by its stage: a relay fault stops this delivery run at once and
is reported (never held against a recipient), and a connection lost after the final dot is
`uncertain` rather than retried into a duplicate.
"""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

import aiosmtplib

from campaign_engine.core.config import SmtpSettings
from campaign_engine.sending.outcomes import Delivery, OnDone, OnTaken, Outcome
from campaign_engine.sending.retry import AttemptResult
from campaign_engine.sending.smtp_replies import (
    NO_AUTH,
    NO_AUTH_BEFORE_TLS,
    RelayFault,
    Stage,
    Verdict,
    classify_drop,
    classify_reply,
)

__all__ = [
    "Limiter",
    "RateLimiter",
    "SessionFault",
    "SmtpTransport",
    "default_ehlo_name",
    "open_session",
    "probe_envelope",
    "relay_said",
]

_LINE_ENDS = re.compile(rb"\r\n|\r|\n")
_LEADING_DOT = re.compile(rb"(?m)^\.")
_DROPS = (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, OSError, TimeoutError)
NO_SMTPUTF8 = "relay does not support SMTPUTF8"


class Limiter(Protocol):
    async def wait(self) -> None:
        """Return when one more message may be sent."""
        ...


class RateLimiter:
    """Spaces sends evenly so the whole pool stays under `per_second` (0 = no limit)."""

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


class _IdleDrop(Exception):
    """The connection was gone at MAIL FROM: on a pooled connection, the relay's idle timeout."""


class SessionFault(Exception):
    """Opening the session failed; `verdict.fault` says at which step and why."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(verdict.detail)
        self.verdict = verdict


@dataclass
class _Connection:
    client: aiosmtplib.SMTP
    opened: float = field(default_factory=time.monotonic)
    sent: int = 0
    accepted: bool = False  # the relay accepted a recipient in this session


def default_ehlo_name(from_domain: str) -> str:
    """This host's FQDN when it has one (a dot, not localhost), else the From domain."""
    name = socket.getfqdn()
    if "." in name and not name.startswith("localhost"):
        return name
    return from_domain or "localhost.localdomain"


async def open_session(
    settings: SmtpSettings, ehlo_name: str, steps: list[str] | None = None
) -> aiosmtplib.SMTP:
    """Connect, EHLO, STARTTLS, AUTH (one mechanism, once); raises SessionFault with the stage.

    `steps`, when given, collects one line per step that succeeded, with the relay's reply as it
    gave it (for `campaign doctor`).
    """
    note = steps if steps is not None else []
    client = aiosmtplib.SMTP(
        hostname=settings.host,
        port=settings.port,
        timeout=settings.timeout,
        use_tls=settings.use_tls,
        start_tls=False,
        local_hostname=ehlo_name,
        validate_certs=settings.tls_verify,
        cert_bundle=settings.ca_file or None,
    )
    stage = Stage.TLS if settings.use_tls else Stage.CONNECT
    try:
        greeting = await client.connect()
        note.append(f"connect {settings.host}:{settings.port}: {relay_said(greeting)}")
        stage = Stage.EHLO
        note.append(f"EHLO {ehlo_name}: {relay_said(await client.ehlo())}")
        if settings.starttls:
            stage = Stage.TLS
            started = await client.starttls()
            checked = "checked" if settings.tls_verify else "NOT checked"
            note.append(f"STARTTLS: {relay_said(started)}; certificate {checked}")
            stage = Stage.EHLO
            note.append(f"EHLO {ehlo_name} over TLS: {relay_said(await client.ehlo())}")
        if settings.username:
            stage = Stage.AUTH
            tls = settings.starttls or settings.use_tls
            note.append(await _login(client, settings.username, settings.password, tls))
    except SessionFault:
        client.close()
        raise
    except aiosmtplib.SMTPResponseException as exc:
        client.close()
        raise SessionFault(classify_reply(stage, exc.code, exc.message)) from exc
    except (*_DROPS, ssl.SSLError, aiosmtplib.SMTPException) as exc:
        client.close()
        raise SessionFault(classify_drop(stage, str(exc) or type(exc).__name__)) from exc
    return client


def relay_said(reply: aiosmtplib.SMTPResponse) -> str:
    """A reply as the relay gave it, on one line: '250 relay.example, PIPELINING, STARTTLS'."""
    return " ".join(f"{reply.code} {', '.join(reply.message.splitlines())}".split())


async def _login(client: aiosmtplib.SMTP, username: str, password: str, tls: bool) -> str:
    """One AUTH with the best mechanism both sides know. No second mechanism after a refusal:
    a wrong password tried twice per connection is what trips a provider's lockout."""
    methods = client.supported_auth_methods
    if not methods:  # nothing was refused: the relay's EHLO reply offered no AUTH we know
        offered = client.last_ehlo_response
        detail = f"its EHLO reply: {relay_said(offered)}" if offered else "no EHLO reply"
        before_tls = not tls and client.supports_extension("starttls")
        reason = NO_AUTH_BEFORE_TLS if before_tls else NO_AUTH
        fault = RelayFault(Stage.AUTH, reason, detail, lasting=True)
        raise SessionFault(Verdict(AttemptResult.NOT_ATTEMPTED, detail, fault))
    reply = await getattr(client, f"auth_{methods[0].replace('-', '')}")(username, password)
    return f"AUTH {methods[0].upper()} as {username}: {relay_said(reply)}"


async def probe_envelope(
    client: aiosmtplib.SMTP, sender: str, recipient: str, steps: list[str]
) -> Verdict:
    """MAIL FROM and RCPT TO as a message would go, then RSET: nothing is sent. The verdict
    judges the relay's replies as a send would (a refusal that names us is a relay fault)."""
    stage = Stage.MAIL
    try:
        steps.append(f"MAIL FROM:<{sender}>: {relay_said(await client.mail(sender))}")
        stage = Stage.RCPT
        accepted = await client.rcpt(recipient)
        steps.append(f"RCPT TO:<{recipient}>: {relay_said(accepted)}")
        steps.append(f"RSET: {relay_said(await client.rset())}")
        return classify_reply(Stage.RCPT, accepted.code, accepted.message)
    except aiosmtplib.SMTPResponseException as exc:
        return classify_reply(stage, exc.code, exc.message, first_in_session=True)
    except (*_DROPS, aiosmtplib.SMTPException) as exc:
        client.close()
        return classify_drop(stage, str(exc) or type(exc).__name__)


class SmtpTransport:
    """A pool of SMTP connections shared by every batch of a run."""

    def __init__(
        self, settings: SmtpSettings, limiter: Limiter | None = None, from_domain: str = ""
    ) -> None:
        self.settings = settings
        self.ehlo_name = settings.ehlo_name or default_ehlo_name(from_domain)
        self._limiter = limiter if limiter is not None else RateLimiter(settings.rate_limit)
        self._idle: list[_Connection] = []
        self._opening = asyncio.Lock()
        self._fault: RelayFault | None = None

    async def __aenter__(self) -> SmtpTransport:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
            await _quit(connection.client)

    async def deliver(
        self,
        deliveries: Iterable[Delivery],
        on_taken: OnTaken | None = None,
        on_done: OnDone | None = None,
    ) -> list[Outcome]:
        """Outcomes of the deliveries taken; after a relay fault nothing more is taken, and the
        rest of `deliveries` is left unconsumed (the caller puts those back in the queue)."""
        pending = iter(deliveries)  # shared: each worker takes the next one when it is free
        outcomes: list[Outcome] = []
        self._fault = None
        workers = max(1, self.settings.concurrency)
        taken = on_taken or _nobody

        def done(outcome: Outcome) -> None:
            outcomes.append(outcome)
            if on_done is not None:
                on_done(outcome)

        await asyncio.gather(*(self._worker(pending, done, taken) for _ in range(workers)))
        return outcomes

    async def _worker(
        self, pending: Iterator[Delivery], on_done: OnDone, on_taken: OnTaken
    ) -> None:
        connection: _Connection | None = None
        try:
            while self._fault is None:
                delivery = next(pending, None)
                if delivery is None:
                    return
                await self._limiter.wait()
                await on_taken(delivery.key)
                outcome, connection = await self._one(delivery, connection)
                on_done(outcome)
                if outcome.fault is not None and self._fault is None:
                    self._fault = outcome.fault
        finally:
            if connection is not None:
                self._idle.append(connection)

    async def _one(
        self, delivery: Delivery, connection: _Connection | None
    ) -> tuple[Outcome, _Connection | None]:
        for fresh in (connection is None, True):
            if connection is None:
                try:
                    connection = await self._open()
                except SessionFault as exc:
                    return _outcome(delivery, exc.verdict), None
            try:
                verdict = await _transaction(connection, delivery)
            except _IdleDrop as exc:
                connection.client.close()
                connection = None
                if fresh:  # a new connection that is gone at once: the relay's fault
                    return _outcome(delivery, classify_drop(Stage.MAIL, str(exc))), None
                continue
            return _outcome(delivery, verdict), await self._after(connection, verdict)
        raise AssertionError("unreachable: the second pass uses a fresh connection")

    async def _open(self) -> _Connection:
        while self._idle:
            connection = self._idle.pop()
            if connection.client.is_connected and not self._worn(connection):
                return connection
            await _quit(connection.client)
        async with self._opening:  # one new session at a time: one failed login, not one each
            if self._fault is not None:
                raise SessionFault(
                    Verdict(AttemptResult.NOT_ATTEMPTED, str(self._fault), self._fault)
                )
            return _Connection(await open_session(self.settings, self.ehlo_name))

    def _worn(self, connection: _Connection) -> bool:
        age = time.monotonic() - connection.opened
        return (
            connection.sent >= self.settings.max_messages_per_connection
            or age >= self.settings.max_connection_age_seconds
        )

    async def _after(self, connection: _Connection, verdict: Verdict) -> _Connection | None:
        """Keep, reset or close the connection after a transaction."""
        client = connection.client
        connection.sent += 1
        if not client.is_connected or verdict.fault is not None:
            client.close()
            return None
        if verdict.result != AttemptResult.DELIVERED:
            try:
                await client.rset()
            except (*_DROPS, aiosmtplib.SMTPException):
                client.close()
                return None
        if self._worn(connection):
            await _quit(client)
            return None
        return connection


async def _transaction(connection: _Connection, delivery: Delivery) -> Verdict:
    """MAIL, RCPT, DATA and the content for one delivery; each failure judged by its stage."""
    client = connection.client
    encoding, options = "ascii", []
    if delivery.smtputf8:
        if not client.supports_extension("smtputf8"):
            return Verdict(AttemptResult.PERMANENT, NO_SMTPUTF8)
        encoding, options = "utf-8", ["SMTPUTF8"]
    stage = Stage.MAIL
    try:
        await client.mail(delivery.sender, options=options, encoding=encoding)
        stage = Stage.RCPT
        await client.rcpt(delivery.recipient, encoding=encoding)
        connection.accepted = True
        stage = Stage.DATA
        reply = await client.execute_command(b"DATA")
        if reply.code != 354:
            return classify_reply(stage, reply.code, reply.message)
        stage = Stage.AFTER_DOT
        reply = await _content(client, delivery.raw)
        return classify_reply(stage, reply.code, reply.message)
    except aiosmtplib.SMTPResponseException as exc:
        return classify_reply(stage, exc.code, exc.message, not connection.accepted)
    except (*_DROPS, aiosmtplib.SMTPException) as exc:
        client.close()
        if stage == Stage.MAIL:
            raise _IdleDrop(str(exc) or type(exc).__name__) from exc
        return classify_drop(stage, str(exc) or type(exc).__name__)


async def _content(client: aiosmtplib.SMTP, raw: bytes) -> aiosmtplib.SMTPResponse:
    """Write the dot-stuffed content and the final dot, and read the relay's verdict.

    aiosmtplib's data() does DATA and the content in one call, which hides whether a lost
    connection happened before the final dot (safe to retry) or after it (the relay may have
    the message): so the content goes out here, after our own DATA command.
    """
    protocol = client.protocol
    if protocol is None:
        raise aiosmtplib.SMTPServerDisconnected("connection lost before the content")
    content = _dot_stuffed(raw)
    if not content.endswith(b"\r\n"):
        content += b"\r\n"
    protocol._response_pending = True  # what execute_data_command sets before each write
    protocol.write(content + b".\r\n")
    return await protocol.read_response(timeout=client.timeout)


def _dot_stuffed(raw: bytes) -> bytes:
    """Every line end CRLF and every line starting with a dot doubled (RFC 5321 4.5.2). The
    regular expressions run only when needed: built messages already end lines in CRLF and
    rarely start one with a dot, and a scan is much cheaper than a substitution per line."""
    crlf = raw.count(b"\r\n")
    if raw.count(b"\r") != crlf or raw.count(b"\n") != crlf:
        raw = _LINE_ENDS.sub(b"\r\n", raw)
    if raw.startswith(b".") or b"\n." in raw:
        raw = _LEADING_DOT.sub(b"..", raw)
    return raw


async def _nobody(key: int) -> None:
    """No one listens for taken deliveries."""


def _outcome(delivery: Delivery, verdict: Verdict) -> Outcome:
    return Outcome(delivery.key, verdict.result, verdict.detail, verdict.fault)


async def _quit(client: aiosmtplib.SMTP) -> None:
    try:
        await client.quit()
    except (*_DROPS, aiosmtplib.SMTPException):
        client.close()
