"""Shared fixtures: settings in a temp dir, a fresh database per test, a real SMTP sink."""

from __future__ import annotations

import asyncio
import email
import os
import socket
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from campaign_engine.core.config import Settings, load_settings
from campaign_engine.store import engagement_counts, message_counts
from campaign_engine.store.db import Database
from tests.databases import MigratedSqlite, PostgresReset

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("CAMPAIGN_TEST_DATABASE_URL")
SECRET = "test-secret-7f3a9c2e51b84d06a1e6c9f02b7d4e8a"  # the test config's signing key
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ClosingController(Controller):
    """An aiosmtpd Controller whose stop() first stops accepting and closes, in its own loop,
    every session it accepted. aiosmtpd cancels them and closes its loop at once, so a session
    left open (connected meanwhile, or accepted but not started yet) would be collected later
    with an open writer: a ResourceWarning ("loop is closed") that -W error turns into a failure
    of whichever test is running then."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sessions: weakref.WeakSet[SMTP] = weakref.WeakSet()

    def _factory_invoker(self) -> Any:
        session = super()._factory_invoker()
        if isinstance(session, SMTP):
            self._sessions.add(session)
        return session

    async def _close_sessions(self) -> None:
        if self.server is not None:  # accept no more connections; Server.close() would do it
            # too, but in Python 3.11 a connection accepted just before then fails to attach
            # to the closed server and leaks its transport
            for listening in self.server.sockets:
                self.loop.remove_reader(listening.fileno())
        for turn in range(300):
            # first a turn of the loop: a connection accepted just before gets its session,
            # and a session not started yet (no `session`: a TLS handshake under way, or one
            # that failed and never will) its transport, if it comes within 0.2 s
            await asyncio.sleep(0.01)
            still = [s for s in self._sessions if _open(s.transport)]
            starting = turn < 20 and any(s.session is None for s in self._sessions)
            if not still and not starting:
                return
            for session in still:
                assert session.transport is not None
                session.transport.close()

    def stop(self, no_assert: bool = False) -> None:
        if self.loop.is_running():
            asyncio.run_coroutine_threadsafe(self._close_sessions(), self.loop).result(10)
        super().stop(no_assert)


def _open(transport: asyncio.BaseTransport | None) -> bool:
    return transport is not None and not transport.is_closing()


@dataclass
class SmtpSink:
    """An aiosmtpd server in this process; `replies` maps a recipient to a forced SMTP reply."""

    port: int
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[Envelope] = field(default_factory=list)
    replies: dict[str, str] = field(default_factory=dict)
    connections: int = 0

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        forced = self.replies.get(address.lower())
        if forced:
            return forced
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        raw = envelope.original_content or b""
        self.messages.append(email.message_from_bytes(raw, policy=default_policy))  # type: ignore[arg-type]
        return "250 Message accepted"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"].addresses[0].addr_spec == address]


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink(port=free_port())
    controller = ClosingController(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> MigratedSqlite:
    return MigratedSqlite(tmp_path_factory.mktemp("migrated"))


@pytest.fixture(scope="session")
def postgres_reset() -> Iterator[PostgresReset]:
    if not PG_URL:
        pytest.skip("CAMPAIGN_TEST_DATABASE_URL is not set")
    reset = PostgresReset(PG_URL)
    yield reset
    reset.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database at the newest revision, on each backend."""
    if request.param == "sqlite":
        migrated: MigratedSqlite = request.getfixturevalue("migrated_sqlite")
        url = migrated.copy_to(tmp_path / "campaign.db")
    else:
        reset: PostgresReset = request.getfixturevalue("postgres_reset")
        reset.reset()
        url = reset.url
    yield url
    assert_counters_agree(url)


def assert_counters_agree(url: str) -> None:
    """Every test ends with the message counters (and the enrolments' emailed flags) and the
    engagement counters equal to a full recount, whatever it did."""
    db = Database(url, migrate=False)
    try:
        if not sa.inspect(db.engine).has_table("message_count"):
            return
        with db.engine.connect() as connection:
            found = message_counts.differences(connection)
            wrong = message_counts.emailed_differences(connection)
            events = (
                engagement_counts.differences(connection)
                if sa.inspect(connection).has_table("engagement_count")
                else []
            )
    finally:
        db.dispose()
    assert found == [], f"message counters differ from a recount: {found}"
    assert wrong == [], f"enrolments' emailed flags differ from their messages: {wrong}"
    assert events == [], f"engagement counters differ from a recount: {events}"


@pytest.fixture
def settings(tmp_path: Path, database_url: str, smtp_sink: SmtpSink) -> Settings:
    """Settings as an operator would write them: the repo's sequences and templates, real SMTP."""
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
database_url = "{database_url}"
transport = "smtp"
from = "Marketing <marketing@gitlab-demo.example>"
secret = "{SECRET}"
company_name = "GitLab Demo Inc."
postal_address = "1 Test Street, Testville"
tracking_base_url = "https://track.example.test"
sequences_dir = "{ROOT / "sequences"}"
templates_dir = "{ROOT / "templates"}"
retry_base_seconds = 600
give_up_after_hours = 1

[smtp]
host = "127.0.0.1"
port = {smtp_sink.port}
concurrency = 2
"""
    )
    return load_settings(config, environ={})


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    database = Database(settings.database_url)
    yield database
    database.dispose()


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)
