"""The web app of `campaign run` in its own process, so a long tick never stalls tracking.

The parent binds the listening socket (a busy port fails at once, in the parent) and hands it to
a spawned child that serves the app with uvicorn. A pipe joins them: the parent sends each
tick's summary down it (the child's /healthz and /metrics show the last tick and the tick
histogram), and closing it asks the child to stop: uvicorn finishes the requests in flight and
the tracking recorder stores its queued events. The pipe also closes when the parent dies, even
by SIGKILL, so the child never outlives it. The child ignores SIGINT (Ctrl-C on a terminal goes
to the whole process group; the parent decides) and stops gracefully on SIGTERM.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import socket
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from campaign_engine.core.errors import ConfigError
from campaign_engine.engine.tick_stats import LastTick

__all__ = ["ServeTarget", "WebProcess"]

log = logging.getLogger(__name__)

# The child's entry point: a module-level function (spawn pickles it by name) called with the
# listening socket, the parent's pipe and the `args` given to WebProcess.
ServeTarget = Callable[..., None]


class WebProcess:
    """One child process serving the web app on host:port; see the module docstring."""

    def __init__(
        self, target: ServeTarget, host: str, port: int, args: tuple[Any, ...] = ()
    ) -> None:
        self.target = target
        self.host = host
        self.port = port
        self.args = args
        self._process: multiprocessing.process.BaseProcess | None = None
        self._pipe: Connection | None = None
        self.exited = asyncio.Event()

    def start(self) -> None:
        """Bind host:port here (ConfigError if taken), then spawn the child that serves it."""
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        try:
            sock = socket.create_server((self.host, self.port), family=family, backlog=2048)
        except OSError as exc:
            raise ConfigError(f"cannot serve on {self.host}:{self.port}: {exc}") from None
        # Accepted connections inherit it. asyncio sets it only on sockets made with protocol
        # IPPROTO_TCP, not on this one's: without it each keep-alive response waited about 40 ms
        # (the response's second write held back until the client's delayed ACK).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        context = multiprocessing.get_context("spawn")  # no fork of a process with threads
        reader, writer = context.Pipe(duplex=False)
        process = context.Process(
            target=self.target,
            args=(sock, reader, *self.args),
            name="campaign-web",
            daemon=True,
        )
        try:
            process.start()
        finally:
            sock.close()  # the child has its own copy; the port closes when it exits
            reader.close()
        self._process, self._pipe = process, writer
        asyncio.get_running_loop().add_reader(process.sentinel, self._on_exit)

    def _on_exit(self) -> None:
        assert self._process is not None
        asyncio.get_running_loop().remove_reader(self._process.sentinel)
        self.exited.set()

    def tick_done(self, last: LastTick | None) -> None:
        """Tell the child what the last tick did (for its /healthz and /metrics)."""
        if last is None or self._pipe is None or self.exited.is_set():
            return
        try:
            self._pipe.send(last)
        except OSError:  # the child is gone; `exited` says so
            log.debug("web process: could not send the tick summary", exc_info=True)

    async def stop(self, grace: float) -> int | None:
        """Ask the child to stop (close the pipe); after `grace` seconds terminate, then kill it.
        Returns its exit code."""
        process = self._process
        if process is None:
            return None
        if self._pipe is not None:
            self._pipe.close()
            self._pipe = None
        for ask in (None, process.terminate, process.kill):
            if ask is not None:
                log.warning("web process did not stop within %.0f s: %s", grace, ask.__name__)
                ask()
            try:
                await asyncio.wait_for(self.exited.wait(), timeout=grace)
                break
            except TimeoutError:
                continue
        process.join(timeout=1)
        return process.exitcode
