"""The calendar day of a UTC timestamp in an IANA time zone, counted by the database.

`local_date(moment, zone)` is a SQL function on both backends: PostgreSQL converts with its own
time zone data; on SQLite, which has none, `register_sqlite_functions` (every connection) gives
it Python's zoneinfo. Either way GROUP BY a local day happens in SQL.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import GenericFunction

__all__ = ["local_date", "local_day", "register_sqlite_functions"]


class local_date(GenericFunction[date]):  # SQL functions are lower case
    """local_date(naive UTC timestamp, IANA zone name) -> DATE."""

    type = sa.Date()
    inherit_cache = True


@compiles(local_date, "postgresql")
def _postgresql_local_date(element: local_date, compiler: Any, **kw: Any) -> str:
    moment, zone = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"CAST(timezone({zone}, timezone('UTC', {moment})) AS DATE)"


@lru_cache(maxsize=1024)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_day(moment: datetime | None, zone: str | None) -> str:
    """What `local_date` says, in Python, as YYYY-MM-DD ("" for no moment); a naive moment is
    UTC, no zone means UTC."""
    if moment is None:
        return ""
    at = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return at.astimezone(_zone(zone or "UTC")).date().isoformat()


def _sqlite_local_date(moment: str | None, zone: str | None) -> str | None:
    if moment is None:
        return None
    return local_day(datetime.fromisoformat(moment), zone)


def register_sqlite_functions(connection: sqlite3.Connection) -> None:
    connection.create_function("local_date", 2, _sqlite_local_date, deterministic=True)
