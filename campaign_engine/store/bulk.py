"""Bulk work on many rows: inserts by COPY on PostgreSQL and one driver-level executemany on
SQLite; `IN` over many keys as one bound value."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Sequence
from operator import itemgetter
from typing import Any

import sqlalchemy as sa
from psycopg import sql
from sqlalchemy.dialects import postgresql

from campaign_engine.store.db import is_postgres

__all__ = ["among", "insert_rows", "new_ids"]

_NOTHING = object()


def among(
    connection: sa.Connection, column: sa.ColumnElement[Any], values: Collection[str | int]
) -> sa.ColumnElement[bool]:
    """`column IN (values)` with the values in one bound parameter: an array on PostgreSQL
    (`= ANY`), a JSON array on SQLite (`json_each`). A statement over 500 keys is then compiled,
    sent and parsed as one, not as 500 placeholders; either way the column's index is used."""
    if is_postgres(connection.engine):
        keys = sa.bindparam(None, list(values), type_=postgresql.ARRAY(column.type))
        return column == sa.any_(keys)
    listed = sa.func.json_each(sa.bindparam(None, json.dumps(list(values)), type_=sa.String))
    return column.in_(sa.select(sa.column("value")).select_from(listed))


def new_ids(connection: sa.Connection, table: sa.Table, count: int) -> list[int]:
    """`count` unused ids of `table`, so rows inserted with them need not be read back: from
    the id sequence on PostgreSQL; on SQLite the ones after the largest id, which no other
    writer can take first (every transaction there holds the write lock from its start, see
    `BEGIN IMMEDIATE` in store.db)."""
    if count == 0:
        return []
    if is_postgres(connection.engine):
        sequence = sa.func.pg_get_serial_sequence(table.name, "id")
        numbers = sa.func.generate_series(1, count)
        return list(connection.scalars(sa.select(sa.func.nextval(sequence)).select_from(numbers)))
    largest = connection.scalar(sa.select(sa.func.max(table.c.id))) or 0
    return list(range(largest + 1, largest + 1 + count))


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
    """Each row's values in column order, through the columns' processors where they have one;
    a value that is the very object the previous row had in that column (an import's one
    `now`) is not processed again."""

    def __init__(self, names: list[str], processors: Sequence[Callable[[Any], Any] | None]):
        self.values = itemgetter(*names) if len(names) > 1 else lambda row: (row[names[0]],)
        self.processors = [(i, process) for i, process in enumerate(processors) if process]
        self.last: list[tuple[object, object]] = [(_NOTHING, None)] * len(names)

    def __call__(self, row: dict[str, Any]) -> tuple[Any, ...]:
        values: tuple[Any, ...] = self.values(row)
        if not self.processors:
            return values
        processed = list(values)
        for index, process in self.processors:
            value = processed[index]
            given, done = self.last[index]
            if value is not given:
                done = process(value)
                self.last[index] = (value, done)
            processed[index] = done
        return tuple(processed)
