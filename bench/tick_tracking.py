"""Tracking latency while `campaign run` ticks: /t/ clicks during a 20,000-message tick vs idle.

    .venv/bin/python bench/tick_tracking.py [--messages 20000] [--in-loop] [--database-url URL]

Sets up N+50 SMB contacts, sends 50 (so there are links to click), then serves the web app as
`campaign run` does (its own process) and runs ONE tick of N messages into an SMTP sink (a
separate process) while a client process clicks a /t/ link every 10 ms over a real socket. It
prints p50/p95/max of the click latency during the tick, against the same measured idle, just
before the tick (the reference). Target: p95 < 50 ms during the tick. --in-loop also measures
the web app served in the tick's own event loop (how `campaign run` served it before).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import uvicorn

from campaign_engine.audience.imports import import_contacts
from campaign_engine.cli.web_child import web_process
from campaign_engine.core.config import Settings, load_settings
from campaign_engine.core.tokens import TokenKind, TokenSigner
from campaign_engine.engine.launch import launch
from campaign_engine.engine.tick import Ticker
from campaign_engine.sending.transport import make_transport
from campaign_engine.store.db import Database
from campaign_engine.web.app import create_app

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import Load, Row, free_port, print_rows, smtp_sink
from send import START, write_contacts

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2021, 4, 27, 9, tzinfo=UTC)
WARM = 50  # messages sent before the measured tick: the links the client clicks
IDLE_SECONDS = 3.0
Samples = list[tuple[float, float]]  # (start on the monotonic clock, latency in seconds)


def prepare(workdir: Path, port: int, messages: int, url: str | None) -> Settings:
    config = workdir / "config.toml"
    database = url or f"sqlite:///{workdir}/bench.db"
    config.write_text(
        f'database_url = "{database}"\ntransport = "smtp"\nsecret = "bench"\n'
        f'tracking_base_url = "http://127.0.0.1"\nsequences_dir = "{ROOT / "sequences"}"\n'
        f'templates_dir = "{ROOT / "templates"}"\nmax_per_tick = {messages}\n'
        f"[smtp]\nport = {port}\nconcurrency = 4\n"
    )
    settings = load_settings(config, environ={})
    if url:
        Database(url, migrate=False).drop_everything()
    db = Database(settings.database_url)
    contacts = workdir / "contacts.csv"
    write_contacts(contacts, messages + WARM)
    import_contacts(db, contacts, NOW)
    launch(db, settings, "premium-to-ultimate", START, NOW)
    warm = dataclasses.replace(settings, max_per_tick=WARM)
    asyncio.run(tick(db, warm))
    db.dispose()
    return settings


async def tick(db: Database, settings: Settings) -> int:
    async with make_transport(settings) as transport:
        return (await Ticker(db, settings, transport).tick(NOW)).counts["sent"]


def click_paths(settings: Settings) -> list[str]:
    signer = TokenSigner(settings.secret)
    return [f"/t/{signer.sign(TokenKind.CLICK, i, 0)}" for i in range(1, WARM + 1)]


async def measure(
    settings: Settings, serve: Callable[[Database, int], Awaitable[Callable[[], Awaitable[None]]]]
) -> tuple[Samples, Samples, int]:
    """(idle samples, samples during the tick, messages sent by the tick)."""
    db = Database(settings.database_url, migrate=False)
    port = free_port()
    stop_serving = await serve(db, port)
    client = subprocess.Popen(
        [sys.executable, __file__, "--client", str(port), *click_paths(settings)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert client.stdout is not None and client.stdin is not None
    ready = await asyncio.to_thread(client.stdout.readline)
    assert ready.strip() == "ready", ready
    idle_from = time.monotonic()
    await asyncio.sleep(IDLE_SECONDS)
    tick_from = time.monotonic()
    sent = await tick(db, settings)
    tick_to = time.monotonic()
    client.stdin.close()
    output = await asyncio.to_thread(client.stdout.read)
    client.wait()
    await stop_serving()
    db.dispose()
    samples = [(float(a), float(b)) for a, b in (line.split() for line in output.splitlines())]
    idle = [s for s in samples if idle_from <= s[0] < tick_from]
    during = [s for s in samples if tick_from <= s[0] < tick_to]
    return idle, during, sent


async def own_process(settings: Settings) -> tuple[Samples, Samples, int]:
    async def serve(db: Database, port: int) -> Callable[[], Awaitable[None]]:
        web = web_process(settings, "127.0.0.1", port)
        web.start()

        async def stop() -> None:
            await web.stop(30)

        return stop

    return await measure(settings, serve)


async def in_loop(settings: Settings) -> tuple[Samples, Samples, int]:
    async def serve(db: Database, port: int) -> Callable[[], Awaitable[None]]:
        config = uvicorn.Config(create_app(settings, db), port=port, log_level="warning")
        server = uvicorn.Server(config)
        serving = asyncio.create_task(server.serve())

        async def stop() -> None:
            server.should_exit = True
            await serving

        return stop

    return await measure(settings, serve)


def client(port: int, paths: list[str]) -> None:
    """Click every 10 ms until stdin closes; print one (start, latency) line per click."""
    import threading

    done = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    lines: list[str] = []
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
        deadline = time.monotonic() + 30
        while True:  # the server may still be starting
            try:
                http.get(paths[0])
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the web app never answered"
                time.sleep(0.05)
        print("ready", flush=True)
        i = 0
        while not done.is_set():
            started = time.monotonic()
            response = http.get(paths[i % len(paths)])
            latency = time.monotonic() - started
            assert response.status_code == 302, response.status_code
            lines.append(f"{started} {latency}")
            i += 1
            done.wait(0.01)
    print("\n".join(lines), flush=True)


def rows(label: str, idle: Samples, during: Samples) -> list[Row]:
    def ms(samples: Samples, q: float) -> float:
        values = sorted(s[1] * 1000 for s in samples)
        if q == 1.0:
            return values[-1]
        return statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1]

    return [
        Row(
            f"{label}: /t/ {name} during the tick ({len(during)} clicks; vs idle)",
            ms(during, q),
            ms(idle, q),
            unit="ms",
        )
        for name, q in (("p50", 0.5), ("p95", 0.95), ("max", 1.0))
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--in-loop", action="store_true", help="also the old, same-loop server")
    parser.add_argument("--database-url", help="e.g. a PostgreSQL bench database (dropped!)")
    parser.add_argument("--client", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        client(int(args.client[0]), args.client[1:])
        return
    load = Load()
    variants = [("own process", own_process)] + ([("same loop", in_loop)] if args.in_loop else [])
    table: list[Row] = []
    with smtp_sink("python") as port:
        for label, run in variants:
            with tempfile.TemporaryDirectory() as tmp:
                settings = prepare(Path(tmp), port, args.messages, args.database_url)
                started = time.monotonic()
                idle, during, sent = asyncio.run(run(settings))
                took = time.monotonic() - started
            print(f"{label}: the tick sent {sent:,} messages ({took:.1f} s measured)")
            table += rows(label, idle, during)
    print_rows(f"/t/ click latency during a {args.messages:,}-message tick; target p95 < 50 ms",
               table, load)  # fmt: skip


if __name__ == "__main__":
    main()
