"""What every table of counters kept as rows change shares: adding a transaction's deltas, and
comparing the counters with a full recount."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from campaign_engine.store.bulk import add_rows

__all__ = ["Difference", "add", "differences", "upsert"]

K = TypeVar("K", bound=tuple[Any, ...])


@dataclass(frozen=True)
class Difference(Generic[K]):
    key: K
    kept: int
    counted: int


def add(
    connection: sa.Connection, table: sa.Table, keys: Sequence[str], deltas: Mapping[K, int]
) -> None:
    """`n = n + d` for each key's delta (not zero), upserted in key order: concurrent writers
    never lose an increment, and never wait on each other in a cycle."""
    rows = [(*key, d) for key, d in sorted(deltas.items()) if d]
    add_rows(connection, table, keys, "n", rows)


def upsert(
    connection: sa.Connection,
    table: sa.Table,
    keys: Sequence[str],
    rows: list[dict[str, Any]],
    updated: Callable[[Any], Mapping[str, Any]],
) -> None:
    """Insert the rows; where one's `keys` are taken, set that row's columns to `updated` of the
    row that was to be inserted (`excluded`)."""
    if not rows:
        return
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    statement = insert(table)
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=[table.c[name] for name in keys], set_=updated(statement.excluded)
        ),
        rows,
    )


def differences(
    connection: sa.Connection, table: sa.Table, keys: Sequence[str], truth: Mapping[K, int]
) -> list[Difference[K]]:
    """Where the table's counters and `truth` (a full recount) disagree (none: they agree)."""
    have: dict[K, int] = {
        tuple(key): n  # type: ignore[misc]
        for *key, n in connection.execute(sa.select(*(table.c[name] for name in keys), table.c.n))
        if n
    }
    return [
        Difference(key, have.get(key, 0), truth.get(key, 0))
        for key in sorted(have.keys() | truth.keys())
        if have.get(key, 0) != truth.get(key, 0)
    ]
