"""Bulk inserts: COPY on PostgreSQL, one driver-level executemany on SQLite."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from psycopg import sql

from campaign_engine.store.db import is_postgres

__all__ = ["insert_rows"]

_NOTHING = object()


def insert_rows(connection: sa.Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows that all name the same columns, in the connection's transaction.

    The values go to the driver in one stream (PostgreSQL COPY, SQLite executemany) without a
    statement built per row; the columns' own bind processing (UTCDateTime storing naive UTC,
    SQLite's datetime strings, ...) applies as it would through SQLAlchemy.
    """
    if not rows:
        return
    names = list(rows[0])
    processors = [
        table.c[name].type.dialect_impl(connection.dialect).bind_processor(connection.dialect)
        for name in names
    ]
    values = map(_Processed(names, processors), rows)
    if is_postgres(connection.engine):
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(table.name), sql.SQL(", ").join(sql.Identifier(n) for n in names)
        )
        raw = connection.connection.driver_connection
        assert raw is not None
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            for value in values:
                copy.write_row(value)
        return
    quote = connection.dialect.identifier_preparer.quote
    columns = ", ".join(quote(name) for name in names)
    marks = ", ".join("?" for _ in names)
    connection.exec_driver_sql(
        f"INSERT INTO {quote(table.name)} ({columns}) VALUES ({marks})", list(values)
    )


class _Processed:
    """Each row's values through the column processors; a value that is the very object the
    previous row had in that column (an import's one `now`) is not processed again."""

    def __init__(self, names: list[str], processors: Sequence[Callable[[Any], Any] | None]):
        self.names = names
        self.processors = processors
        self.last: list[tuple[object, object]] = [(_NOTHING, None)] * len(names)

    def __call__(self, row: dict[str, Any]) -> tuple[Any, ...]:
        values = []
        for index, (name, process) in enumerate(zip(self.names, self.processors, strict=True)):
            value = row[name]
            if process is not None:
                given, done = self.last[index]
                if value is not given:
                    done = process(value)
                    self.last[index] = (value, done)
                value = done
            values.append(value)
        return tuple(values)
