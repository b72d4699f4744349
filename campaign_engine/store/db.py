"""Database engine and sessions: SQLite (WAL) by default, PostgreSQL by URL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from campaign_engine.store import account_tables as _account_tables  # noqa: F401  (who owns an account)
from campaign_engine.store import api_tables as _api_tables  # noqa: F401  (API tokens, webhooks)
from campaign_engine.store import campaign_log as _campaign_log  # noqa: F401  (who launched, paused)
from campaign_engine.store import compliance_tables as _compliance_tables  # noqa: F401  (consent, hashed suppression)
from campaign_engine.store import count_tables as _count_tables  # noqa: F401  (messages per step and state)
from campaign_engine.store import digest_tables as _digest_tables  # noqa: F401  (registers the digest tables)
from campaign_engine.store import engagement_counts as _engagement_counts  # noqa: F401  (kept at each commit)
from campaign_engine.store import inbound_tables as _inbound_tables  # noqa: F401  (mailbox reading)
from campaign_engine.store import message_counts as _message_counts  # noqa: F401  (kept at each commit)
from campaign_engine.store import models as _models  # noqa: F401  (registers the tables on SQLModel.metadata)
from campaign_engine.store import pacing_tables as _pacing_tables  # noqa: F401  (per-provider pacing)
from campaign_engine.store import relay_tables as _relay_tables  # noqa: F401  (the relay's pause)
from campaign_engine.store import request_tables as _request_tables  # noqa: F401  (contact requests)
from campaign_engine.store import upload_tables as _upload_tables  # noqa: F401  (undoable uploads)
from campaign_engine.store.schema import upgrade
from campaign_engine.store.sql_dates import register_sqlite_functions

__all__ = ["Database", "database_exists", "is_postgres", "redacted_url"]

_PG_DATABASE_NAMED = "SELECT 1 FROM pg_database WHERE datname = :name"
SQLITE_BUSY_TIMEOUT = 30_000  # milliseconds a writer waits for the lock before failing


def is_postgres(engine: sa.Engine) -> bool:
    return engine.dialect.name == "postgresql"


class Database:
    """Owns the SQLAlchemy engine; migrates the schema to the newest revision on first use."""

    def __init__(self, url: str, migrate: bool = True) -> None:
        self.url = _normalise(url)
        self.engine = _create_engine(self.url)
        if migrate:
            upgrade(self.engine)

    def __repr__(self) -> str:
        return f"Database({redacted_url(self.url)!r})"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error."""
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def dispose(self) -> None:
        self.engine.dispose()

    def drop_everything(self) -> None:
        """Drop every table the database holds, the migration record too, whichever version of
        the engine made them (tests and benchmarks start from zero)."""
        tables = sa.MetaData()
        tables.reflect(self.engine)
        tables.drop_all(self.engine)


def database_exists(url: str) -> bool:
    """Whether the database at `url` is there already (a SQLite file, a PostgreSQL database),
    found without creating it."""
    address = sa.engine.make_url(_normalise(url))
    if address.get_backend_name() == "sqlite":
        return address.database in (None, "", ":memory:") or Path(address.database).is_file()
    try:
        _probe(address)
        return True
    except sa.exc.OperationalError:
        # The server's error carries no SQLSTATE at connect time: ask its catalogue instead.
        name = address.database
        found = _probe(address.set(database="postgres"), _PG_DATABASE_NAMED, {"name": name})
        if found:
            raise  # there, but we may not connect: the original error says why
        return False


def _probe(address: sa.URL, sql: str = "SELECT 1", params: dict[str, Any] | None = None) -> bool:
    """Connect to `address` and say whether `sql` returns a row."""
    engine = sa.create_engine(address)
    try:
        with engine.connect() as connection:
            return connection.execute(sa.text(sql), params or {}).first() is not None
    finally:
        engine.dispose()


def redacted_url(url: str) -> str:
    """The URL as it may be shown: its password masked."""
    return sa.engine.make_url(url).render_as_string(hide_password=True)


def _normalise(url: str) -> str:
    # Plain postgresql:// URLs mean psycopg 3 here (SQLAlchemy would otherwise pick psycopg2).
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _create_engine(url: str) -> sa.Engine:
    if not url.startswith("sqlite"):
        return sa.create_engine(url, pool_pre_ping=True)
    database = sa.engine.make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, connect_args={"check_same_thread": False})
    sa.event.listen(engine, "connect", _sqlite_pragmas)
    sa.event.listen(engine, "begin", _sqlite_begin_immediate)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the driver, open transactions (see _sqlite_begin_immediate).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT}")
    cursor.close()
    register_sqlite_functions(dbapi_connection)


def _sqlite_begin_immediate(connection: sa.Connection) -> None:
    """Take the write lock when a transaction starts, not at its first write.

    In WAL mode a transaction that read, and then writes after another process committed,
    fails at once with "database is locked" (busy_timeout does not apply to that case).
    Starting every transaction IMMEDIATE makes writers queue instead, so several processes
    (`campaign run`, `campaign serve`, cron ticks) can share one SQLite file.
    """
    connection.exec_driver_sql("BEGIN IMMEDIATE")
