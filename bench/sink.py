"""A discard-everything SMTP sink (aiosmtpd) for benchmarks: `python bench/sink.py PORT`."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


class Discard:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.count += 1
        return "250 OK"


@contextmanager
def running_sink() -> Iterator[int]:
    """Start this sink in its own process (so it does not share the engine's core); yield its port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__)), str(port)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "ready"
        yield port
    finally:
        process.terminate()
        process.communicate()


async def serve(port: int) -> None:
    controller = Controller(Discard(), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        controller.stop()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1])))
