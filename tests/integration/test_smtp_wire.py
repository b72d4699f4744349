"""Replies read back over a real socket from a scripted relay: any number in one read, one split
over several reads, and every way a session ends (closed, too slow, a 421, not SMTP)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from campaign_engine.core.config import SmtpSettings
from campaign_engine.sending.smtp_client import open_session
from campaign_engine.sending.smtp_wire import SmtpWire, WireDropped

GROUP = b"MAIL FROM:<a@vendor.example>\r\nRCPT TO:<b@smb.example>\r\nDATA\r\n"
OK = b"250 2.1.0 ok\r\n"
Action = bytes | float | None  # write these bytes; wait this long; close the connection


@asynccontextmanager
async def relay_that(*actions: Action) -> AsyncIterator[SmtpWire]:
    """A session with a relay that, once it has read the client's first write after EHLO, does
    `actions` in order; the wire waits at most 0.3 s for a reply."""

    served = asyncio.Event()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            writer.write(b"220 relay.example ready\r\n")
            await reader.readline()
            writer.write(b"250-relay.example\r\n250 PIPELINING\r\n")
            await reader.read(4096)
            for action in actions:
                if action is None:
                    return
                if isinstance(action, bytes):
                    writer.write(action)
                    await writer.drain()
                else:
                    await asyncio.sleep(action)
            await reader.read()  # until the client closes
        finally:
            writer.close()
            served.set()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = await open_session(SmtpSettings(port=port), "client.example")
    wire = SmtpWire(client, timeout=0.3)
    try:
        yield wire
    finally:
        wire.close()
        await served.wait()
        server.close()
        await server.wait_closed()


def test_the_replies_to_a_pipelined_group_come_back_in_order_from_one_read() -> None:
    async def test() -> None:
        async with relay_that(
            b"250 2.1.0 ok\r\n550 5.1.1 no such user\r\n554 5.5.1 no rcpt\r\n"
        ) as wire:
            assert wire.pipelining
            wire.send(GROUP)
            replies = [await wire.reply() for _ in range(3)]
            assert [(r.code, r.message) for r in replies] == [
                (250, "2.1.0 ok"),
                (550, "5.1.1 no such user"),
                (554, "5.5.1 no rcpt"),
            ]
            assert wire.is_connected

    asyncio.run(test())


def test_a_multiline_reply_split_over_reads_is_one_reply() -> None:
    async def test() -> None:
        async with relay_that(
            b"250 ok\r\n550-5.1.1 The account you tried",
            0.05,
            b" to reach does not exist.\r\n550 5.1.1 https://support.example/NoSuchUser\r\n",
        ) as wire:
            wire.send(GROUP)
            assert (await wire.reply()).code == 250
            reply = await wire.reply()
            assert (reply.code, reply.message) == (
                550,
                "5.1.1 The account you tried to reach does not exist.\n"
                "5.1.1 https://support.example/NoSuchUser",
            )

    asyncio.run(test())


@pytest.mark.parametrize(
    ("actions", "why"),
    [
        ((OK, None), "Connection lost"),
        ((OK, 1.0), "Timed out waiting for server response"),
        ((OK + b"HTTP/1.1 400 Bad Request\r\n",), "Malformed SMTP response line"),
    ],
    ids=["closed", "too slow", "not smtp"],
)
def test_a_session_that_ends_says_why_after_the_replies_that_came(
    actions: tuple[Action, ...], why: str
) -> None:
    async def test() -> None:
        async with relay_that(*actions) as wire:
            wire.send(GROUP)
            assert (await wire.reply()).code == 250
            with pytest.raises(WireDropped, match=why):
                await wire.reply()
            assert not wire.is_connected
            with pytest.raises(WireDropped):
                wire.send(b"RSET\r\n")

    asyncio.run(test())


def test_a_421_closes_the_connection_after_its_reply() -> None:
    async def test() -> None:
        async with relay_that(b"421 4.3.2 shutting down\r\n") as wire:
            wire.send(GROUP)
            assert (await wire.reply()).code == 421
            assert not wire.is_connected
            with pytest.raises(WireDropped):
                await wire.reply()

    asyncio.run(test())
