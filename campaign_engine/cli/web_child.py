"""The child process of `campaign run` that serves the web app (see engine/web_process.py)."""

from __future__ import annotations

import contextlib
import math
import signal
import socket
import threading
from collections.abc import Iterator
from multiprocessing.connection import Connection
from types import FrameType

import uvicorn

from campaign_engine.cli.logs import setup_logging
from campaign_engine.core.config import Settings
from campaign_engine.engine.tick_stats import TICK_STATS
from campaign_engine.engine.web_process import WebProcess
from campaign_engine.store.db import Database
from campaign_engine.web.app import create_app

__all__ = ["serve_in_child", "web_process"]


def web_process(
    settings: Settings,
    host: str,
    port: int,
    *,
    verbose: bool = False,
    quiet: bool = False,
    json_logs: bool = False,
) -> WebProcess:
    """The web app of `campaign run`, to be served from its own process on host:port."""
    return WebProcess(serve_in_child, host, port, (settings, verbose, quiet, json_logs))


class _ChildServer(uvicorn.Server):
    """SIGTERM stops it gracefully; SIGINT is ignored (the parent owns Ctrl-C and closes the
    pipe); no signal is re-raised on the way out."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        def on_term(sig: int, frame: FrameType | None) -> None:
            self.should_exit = True

        signal.signal(signal.SIGTERM, on_term)
        yield


def serve_in_child(
    sock: socket.socket,
    parent: Connection,
    settings: Settings,
    verbose: bool,
    quiet: bool,
    json_logs: bool,
) -> None:
    """Serve the app on `sock` until the parent closes `parent` (or dies) or SIGTERM comes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    setup_logging(verbose=verbose, quiet=quiet, json_logs=json_logs, engine=True)
    db = Database(settings.database_url, migrate=False)  # the parent migrated it
    config = uvicorn.Config(
        create_app(settings, db),
        log_level="info" if verbose else "warning",
        proxy_headers=True,
        lifespan="on",
        timeout_graceful_shutdown=math.ceil(settings.stop_grace_seconds),
    )
    server = _ChildServer(config)
    threading.Thread(target=_follow_parent, args=(parent, server), daemon=True).start()
    try:
        server.run(sockets=[sock])
    finally:
        db.dispose()


def _follow_parent(parent: Connection, server: uvicorn.Server) -> None:
    """Record each tick the parent reports; when the pipe closes, stop the server."""
    with contextlib.suppress(EOFError, OSError):
        while True:
            last = parent.recv()
            TICK_STATS.record(last.at, last.seconds, last.summary)
    server.should_exit = True
