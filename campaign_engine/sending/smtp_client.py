"""The SMTP transport: a pool of recycled SMTP connections, every outcome classified.

Each session step is done by hand (connect, EHLO, STARTTLS, AUTH through aiosmtplib; then MAIL,
RCPT, DATA and the final dot over smtp_wire) so every failure is known by its stage: a relay
fault stops this delivery run at once and is reported (never held against a recipient), and a
connection lost after the final dot is `uncertain` rather than retried into a duplicate. Where
the relay offers PIPELINING (RFC 2920), MAIL, RCPT and DATA go out in one write and their three
replies are judged in order, exactly as if each had been sent alone.
"""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
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
from campaign_engine.sending.smtp_wire import SmtpWire, WireDropped

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
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DROPS = (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, OSError, TimeoutError)
# The transaction's commands, each with the replies that let it go on.
_ENVELOPE = ((Stage.MAIL, (250,)), (Stage.RCPT, (250, 251)), (Stage.DATA, (354,)))
NO_SMTPUTF8 = "relay does not support SMTPUTF8"
_STOPPED = Verdict(AttemptResult.NOT_ATTEMPTED, "the run stopped before its content was sent")


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


@dataclass(frozen=True)
class _Step:
    """What a worker goes on with after a transaction: the delivery it took ahead, if any, and
    whether that one's envelope already went out on the connection."""

    ahead: Delivery | None
    envelope: bytes = b""  # its MAIL, RCPT and DATA, when they go behind the final dot

    @property
    def written(self) -> bool:
        return bool(self.envelope)


@dataclass(frozen=True)
class _Feed:
    """A worker's side of the run: the next delivery (`take`, once the rate limit lets it go),
    and `admit` (the caller's on_taken), awaited before anything of a delivery goes out."""

    take: Callable[[], Awaitable[Delivery | None]]
    admit: OnTaken


@dataclass
class _Connection:
    wire: SmtpWire
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
            await connection.wire.quit()

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
        step = _Step(None)

        async def take() -> Delivery | None:
            """The next delivery, once the rate limit lets it go."""
            delivery = next(pending, None) if self._fault is None else None
            if delivery is not None:
                await self._limiter.wait()
            return delivery

        feed = _Feed(take, on_taken)
        try:
            while True:
                delivery = step.ahead or await take()
                if delivery is None:
                    return
                if self._fault is not None:  # taken before the fault: nothing of it went out
                    on_done(_outcome(delivery, _not_attempted(self._fault)))
                    if connection is not None and step.written:  # its envelope is unanswered
                        connection.wire.close()
                        connection = None
                    return
                if step.ahead is not None and not step.written and not delivery.wanted():
                    on_done(_outcome(delivery, _STOPPED))  # taken before the last outcome
                    step = _Step(None)
                    continue
                if not step.written:
                    await on_taken(delivery.key)
                outcome, connection, step = await self._one(delivery, connection, step, feed)
                on_done(outcome)
                if outcome.fault is not None and self._fault is None:
                    self._fault = outcome.fault
        finally:
            if connection is not None and step.written:  # cancelled: an envelope unanswered
                connection.wire.close()
            elif connection is not None:
                self._idle.append(connection)

    async def _one(
        self, delivery: Delivery, connection: _Connection | None, step: _Step, feed: _Feed
    ) -> tuple[Outcome, _Connection | None, _Step]:
        """One delivery's outcome, the connection to go on with, and the delivery taken ahead
        (its envelope written behind this one's content, where the relay pipelines)."""
        written = step.written
        for fresh in (connection is None, True):
            if connection is None:
                written = False
                try:
                    connection = await self._open()
                except SessionFault as exc:
                    return _outcome(delivery, exc.verdict), None, _Step(None)
            last = connection.sent + 1 >= self.settings.max_messages_per_connection
            more = not (last or self._worn(connection))
            try:
                verdict, after = await _transaction(connection, delivery, written, feed, more)
            except _IdleDrop as exc:
                connection = None
                if fresh:  # a new connection that is gone at once: the relay's fault
                    verdict = classify_drop(Stage.MAIL, str(exc))
                    return _outcome(delivery, verdict), None, _Step(None)
                continue
            kept = await self._after(connection, verdict, after)
            return _outcome(delivery, verdict), kept, after
        raise AssertionError("unreachable: the second pass uses a fresh connection")

    async def _open(self) -> _Connection:
        while self._idle:
            connection = self._idle.pop()
            if connection.wire.is_connected and not self._worn(connection):
                return connection
            await connection.wire.quit()
        async with self._opening:  # one new session at a time: one failed login, not one each
            if self._fault is not None:
                raise SessionFault(_not_attempted(self._fault))
            client = await open_session(self.settings, self.ehlo_name)
            try:
                return _Connection(SmtpWire(client, self.settings.timeout))
            except WireDropped as exc:  # gone between AUTH and the first transaction
                raise SessionFault(classify_drop(Stage.MAIL, str(exc))) from exc

    def _worn(self, connection: _Connection) -> bool:
        age = time.monotonic() - connection.opened
        return (
            connection.sent >= self.settings.max_messages_per_connection
            or age >= self.settings.max_connection_age_seconds
        )

    async def _after(
        self, connection: _Connection, verdict: Verdict, step: _Step
    ) -> _Connection | None:
        """Keep, reset or close the connection after a transaction. With the next envelope
        written behind the final dot there is nothing to reset (the dot's reply, whatever it
        was, ended the transaction), and that delivery goes on this connection."""
        wire = connection.wire
        connection.sent += 1
        if not wire.is_connected or verdict.fault is not None:
            wire.close()
            return None
        if step.written:
            return connection
        if verdict.result != AttemptResult.DELIVERED:
            try:
                reset = (await wire.command(b"RSET\r\n")).code == 250
            except WireDropped:
                reset = False
            if not reset:
                wire.close()
                return None
        if self._worn(connection):
            await wire.quit()
            return None
        return connection


async def _transaction(
    connection: _Connection, delivery: Delivery, written: bool, feed: _Feed, more: bool
) -> tuple[Verdict, _Step]:
    """MAIL, RCPT and DATA (in one write where the relay offers PIPELINING), then the content;
    each failure judged by its stage. `written`: the envelope already went out behind the
    previous message's final dot. Where the relay pipelines and the connection carries `more`,
    the next delivery's envelope goes in the content's write (RFC 2920: commands may follow the
    final dot in one group); its replies come after this message's, so this one is judged as
    if it had gone alone."""
    wire = connection.wire
    if not written and delivery.smtputf8 and not wire.smtputf8:
        return Verdict(AttemptResult.PERMANENT, NO_SMTPUTF8), _Step(None)
    ahead = _Step(None)
    stage = Stage.MAIL
    try:
        if not written:
            commands = _envelope(delivery, delivery.smtputf8)
            if wire.pipelining:
                wire.send(b"".join(commands))
        for index, (stage, accepted) in enumerate(_ENVELOPE):
            if not wire.pipelining:
                wire.send(commands[index])
            reply = await wire.reply()
            if reply.code not in accepted:
                if wire.pipelining:
                    await _rest_of_group(wire, len(_ENVELOPE) - 1 - index)
                verdict = classify_reply(stage, reply.code, reply.message, not connection.accepted)
                return verdict, ahead
            if stage == Stage.RCPT:
                connection.accepted = True
        if written and not delivery.wanted():  # taken before the last outcome: still wanted?
            wire.close()  # after the 354 only the content or a closed line may follow
            return _STOPPED, ahead
        content = _content(delivery.raw)
        if wire.pipelining and more:
            ahead = await _behind_the_dot(feed, wire.smtputf8)
        wire.send(content + ahead.envelope)
        stage = Stage.AFTER_DOT
        reply = await wire.reply()
        return classify_reply(stage, reply.code, reply.message), ahead
    except WireDropped as exc:
        wire.close()
        if stage == Stage.MAIL:
            raise _IdleDrop(str(exc)) from exc
        return classify_drop(stage, str(exc)), ahead


async def _behind_the_dot(feed: _Feed, smtputf8: bool) -> _Step:
    """The next delivery, and whether its envelope goes behind this message's final dot: only
    when its admission is there at once (it may wait for this message's answer: a provider's
    messages in flight) and the relay can carry it."""
    following = await feed.take()
    if (
        following is None
        or not following.ready(following.key)
        or (following.smtputf8 and not smtputf8)
    ):
        return _Step(following)
    try:
        envelope = b"".join(_envelope(following, following.smtputf8))
    except ValueError:  # its own transaction says so
        return _Step(following)
    await feed.admit(following.key)
    return _Step(following, envelope)


def _envelope(delivery: Delivery, smtputf8: bool) -> tuple[bytes, bytes, bytes]:
    """The MAIL, RCPT and DATA command lines of one delivery."""
    if _CONTROL.search(delivery.sender) or _CONTROL.search(delivery.recipient):
        raise ValueError("Command arg contains a prohibited control character")
    encoding, options = ("utf-8", b" SMTPUTF8") if smtputf8 else ("ascii", b"")
    sender, recipient = delivery.sender.encode(encoding), delivery.recipient.encode(encoding)
    return b"MAIL FROM:<%s>%s\r\n" % (sender, options), b"RCPT TO:<%s>\r\n" % recipient, b"DATA\r\n"


async def _rest_of_group(wire: SmtpWire, left: int) -> None:
    """After a refusal in a pipelined group, read the `left` replies still due for it (a DATA
    after a refused MAIL or RCPT is answered 503 or 554). A relay that says 354 to that DATA
    all the same gets the connection closed before any content: nothing is delivered."""
    try:
        for _ in range(left):
            if (await wire.reply()).code == 354:
                wire.close()
    except WireDropped:
        wire.close()


def _content(raw: bytes) -> bytes:
    """The dot-stuffed content and the final dot.

    Our own, not aiosmtplib's data(): that does DATA and the content in one call, which hides
    whether a lost connection happened before the final dot (safe to retry) or after it (the
    relay may have the message).
    """
    content = _dot_stuffed(raw)
    if not content.endswith(b"\r\n"):
        content += b"\r\n"
    return content + b".\r\n"


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


def _not_attempted(fault: RelayFault) -> Verdict:
    return Verdict(AttemptResult.NOT_ATTEMPTED, str(fault), fault)


def _outcome(delivery: Delivery, verdict: Verdict) -> Outcome:
    return Outcome(delivery.key, verdict.result, verdict.detail, verdict.fault)
