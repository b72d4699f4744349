"""Bulk work on many rows: inserts by COPY on PostgreSQL and one driver-level executemany on
SQLite, updates by one driver-level executemany; `IN` over many keys as one bound value."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Sequence
from operator import itemgetter
from typing import Any

import sqlalchemy as sa
from psycopg import sql
from sqlalchemy.dialects import postgresql

__all__ = ["add_rows", "among", "insert_rows", "new_ids", "update_rows"]

_NOTHING = object()


def among(
    connection: sa.Connection, column: sa.ColumnElement[Any], values: Collection[str | int]
) -> sa.ColumnElement[bool]:
    """`column IN (values)` with the values in one bound parameter: an array on PostgreSQL
    (`= ANY`), a JSON array on SQLite (`json_each`). A statement over 500 keys is then compiled,
    sent and parsed as one, not as 500 placeholders; either way the column's index is used."""
    if _postgres(connection):
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
    if _postgres(connection):
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
    values = map(_Processed(names, _processors(connection, table, names)), rows)
    if _postgres(connection):
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


def update_rows(
    connection: sa.Connection,
    table: sa.Table,
    rows: Sequence[dict[str, Any]],
    key: str = "id",
    **only: Any,
) -> None:
    """UPDATE each row's columns (every row names the same ones) WHERE `key` is its `key`
    value and each column in `only` has that value, in the connection's transaction.

    One driver-level executemany, the values through the columns' own bind processing (as
    `insert_rows`): no statement built, and no parameters compiled, per row.
    """
    if not rows:
        return
    names = [name for name in rows[0] if name != key]
    matched = [key, *only]
    fixed = _Processed(list(only), _processors(connection, table, only))(only) if only else ()
    changed = [*names, key]
    values = map(_Processed(changed, _processors(connection, table, changed)), rows)
    quote, mark = connection.dialect.identifier_preparer.quote, _mark(connection)
    assigned = ", ".join(f"{quote(name)} = {mark}" for name in names)
    condition = " AND ".join(f"{quote(name)} = {mark}" for name in matched)
    connection.exec_driver_sql(
        f"UPDATE {quote(table.name)} SET {assigned} WHERE {condition}",
        [(*value, *fixed) for value in values],
    )


def add_rows(
    connection: sa.Connection,
    table: sa.Table,
    keys: Sequence[str],
    total: str,
    rows: Sequence[tuple[Any, ...]],
) -> None:
    """Add each row's last value to the `total` column of the row with its `keys` values
    (inserted with it when there is none): `INSERT ... ON CONFLICT DO UPDATE SET total = total
    + excluded.total` as one driver-level executemany. The values go as they are (no column
    bind processing): plain numbers and strings."""
    if not rows:
        return
    quote, mark = connection.dialect.identifier_preparer.quote, _mark(connection)
    name, column = quote(table.name), quote(total)
    columns = ", ".join(quote(key) for key in (*keys, total))
    marks = ", ".join(mark for _ in range(len(keys) + 1))
    connection.exec_driver_sql(
        f"INSERT INTO {name} ({columns}) VALUES ({marks}) "
        f"ON CONFLICT ({', '.join(quote(key) for key in keys)}) "
        f"DO UPDATE SET {column} = {name}.{column} + excluded.{column}",
        list(rows),
    )


def _postgres(connection: sa.Connection) -> bool:
    # Not store.db's is_postgres: the store's modules that count rows at each commit import
    # this one, and store.db imports them.
    return connection.dialect.name == "postgresql"


def _mark(connection: sa.Connection) -> str:
    """The driver's positional parameter marker."""
    return "%s" if _postgres(connection) else "?"


def _processors(
    connection: sa.Connection, table: sa.Table, names: Iterable[str]
) -> list[Callable[[Any], Any] | None]:
    dialect = connection.dialect
    return [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names]


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
