"""An open SMTP session's connection: commands written in groups, replies read back in order.

aiosmtplib opens the session (connect, EHLO, STARTTLS, AUTH); then its transport is handed to an
SmtpWire for the mail transactions. aiosmtplib's protocol reads one reply per command and drops
what arrives while a reply waits to be picked up, so the replies to commands written together
(PIPELINING, RFC 2920) would be lost: this protocol keeps every complete reply it reads, in order.
A lost connection, a reply that does not come in time or one that is not SMTP ends the session
(WireDropped); the caller judges that by the stage it came at.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import cast

import aiosmtplib

__all__ = ["SmtpWire", "WireDropped"]

_MAX_PENDING = 32_768  # bytes without a complete reply: not an SMTP server (aiosmtplib's bound)
_LOST = "Connection lost"


class WireDropped(Exception):
    """The connection is gone: lost, closed after a 421, timed out, or not speaking SMTP."""


class SmtpWire(asyncio.Protocol):
    """Takes over `client`'s connection once its session is open; `timeout` (seconds) bounds
    each wait for a reply."""

    def __init__(self, client: aiosmtplib.SMTP, timeout: float | None) -> None:
        transport = cast(asyncio.Transport | None, client.transport)
        if transport is None or transport.is_closing():
            raise WireDropped(_LOST)
        self.pipelining = client.supports_extension("pipelining")
        self.smtputf8 = client.supports_extension("smtputf8")
        self._transport = transport
        self._timeout = timeout
        self._loop = asyncio.get_running_loop()
        self._pending = bytearray()  # the start of a reply not complete yet
        self._replies: deque[aiosmtplib.SMTPResponse] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._gone = ""  # why the connection ended, once it has
        transport.set_protocol(self)

    @property
    def is_connected(self) -> bool:
        return not self._gone and not self._transport.is_closing()

    def send(self, data: bytes) -> None:
        """Write one command, a group of them, or a message's content."""
        if not self.is_connected:
            raise WireDropped(self._gone or _LOST)
        self._transport.write(data)

    async def reply(self) -> aiosmtplib.SMTPResponse:
        """The next reply, in the order the commands were sent. After a 421 the relay closes
        the connection: so do we (as aiosmtplib does)."""
        if not self._replies:
            await self._arrival()
        reply = self._replies.popleft()
        if reply.code == 421:
            self.close()
        return reply

    async def command(self, line: bytes) -> aiosmtplib.SMTPResponse:
        self.send(line)
        return await self.reply()

    async def quit(self) -> None:
        """QUIT, then close whatever the relay said."""
        with contextlib.suppress(WireDropped):
            await self.command(b"QUIT\r\n")
        self.close()

    def close(self) -> None:
        self._transport.close()

    async def _arrival(self) -> None:
        """Wait for a reply; the replies that came before the session ended still count."""
        if self.is_connected:
            self._waiter = waiter = self._loop.create_future()
            timer = self._loop.call_later(self._timeout, self._late) if self._timeout else None
            try:
                await waiter
            finally:
                self._waiter = None
                if timer is not None:
                    timer.cancel()
        if not self._replies:
            raise WireDropped(self._gone or _LOST)

    # -- asyncio.Protocol ------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        pending = self._pending
        pending += data
        start = done = 0
        lines: list[bytes] = []  # of the reply being read
        while (end := pending.find(b"\n", start)) >= 0:
            line = bytes(pending[start:end])
            start = end + 1
            if not line[:3].isdigit():
                self._end(f"Malformed SMTP response line: {line[:80]!r}")
                return
            lines.append(line[4:].strip(b" \t\r"))
            if line[3:4] != b"-":
                text = b"\n".join(lines).decode("utf-8", "surrogateescape")
                self._replies.append(aiosmtplib.SMTPResponse(int(line[:3]), text))
                lines, done = [], start
        del pending[:done]
        if len(pending) > _MAX_PENDING:
            self._end("Response too long")
        elif self._replies and self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self._end(_LOST if exc is None else f"{_LOST}: {exc}")

    def _late(self) -> None:
        self._end("Timed out waiting for server response")

    def _end(self, why: str) -> None:
        """The session is over: the connection is closed, and a waiting reader wakes."""
        self._gone = self._gone or why
        self._transport.close()
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)
