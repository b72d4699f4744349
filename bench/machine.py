"""What every bench shares: the machine's load at start and end, a (what, figure, reference,
ratio) table, and Postfix's C `smtp-sink` as an SMTP sink that is not the bottleneck.

`make bench-deps` installs Postfix (for smtp-sink / smtp-source) when it is missing.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from rich.console import Console
from rich.table import Table

__all__ = ["Load", "Row", "free_port", "postfix_sink", "print_rows", "smtp_sink"]

SMTP_SINK = "/usr/sbin/smtp-sink"


def cores() -> int:
    return len(os.sched_getaffinity(0))


@dataclass
class Load:
    """The 1-minute load average when the bench started and when it ended."""

    start: float = field(default_factory=lambda: os.getloadavg()[0])

    def verdict(self) -> str:
        end = os.getloadavg()[0]
        worst = max(self.start, end)
        line = f"load {self.start:.1f} at start, {end:.1f} at end, on {cores()} cores"
        if worst > cores():
            return f"machine busy: {line}; absolute figures depressed, ratios unreliable"
        return f"machine quiet: {line}"


@dataclass(frozen=True)
class Row:
    what: str
    figure: float
    reference: float | None = None  # measured in the same run
    unit: str = "msgs/s"


def print_rows(title: str, rows: list[Row], load: Load) -> None:
    table = Table(title=title)
    for column in ("what", "figure", "reference", "ratio"):
        table.add_column(column, justify="left" if column == "what" else "right")
    for row in rows:
        ref = "" if row.reference is None else f"{row.reference:,.1f} {row.unit}"
        ratio = "" if not row.reference else f"{row.figure / row.reference:.0%}"
        table.add_row(row.what, f"{row.figure:,.1f} {row.unit}", ref, ratio)
    console = Console()
    console.print(table)
    console.print(load.verdict())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def postfix_sink() -> Iterator[int]:
    """Postfix's smtp-sink on a free port (discards everything); yields the port."""
    if not os.path.exists(SMTP_SINK):
        raise SystemExit(f"{SMTP_SINK} is missing: run `make bench-deps` (Debian's postfix)")
    port = free_port()
    user = ["-u", "postfix"] if os.geteuid() == 0 else []
    process = subprocess.Popen([SMTP_SINK, *user, f"127.0.0.1:{port}", "256"])
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise SystemExit("smtp-sink did not start") from None
                time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait()


@contextmanager
def smtp_sink(kind: str) -> Iterator[int]:
    """'postfix' (C, not the bottleneck) or 'python' (aiosmtpd in its own process)."""
    if kind == "postfix":
        with postfix_sink() as port:
            yield port
    else:
        from sink import running_sink

        with running_sink() as port:
            yield port
