"""Search and count for the console's lists: every word typed must appear in one of the columns
(case-insensitive substring), and a page of rows comes with the number that match."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

__all__ = ["COUNT_CAP", "MAX_WORDS", "count_of", "every_word_in"]

MAX_WORDS = 5
COUNT_CAP = 1000  # long lists say "1,000+": counting every match costs more than the page


def every_word_in(query: Any, text: str, *columns: Any, by_table: bool = False) -> Any:
    """`query` narrowed to rows where each word of `text` is in one of `columns`.

    Each column is matched as `lower(column) LIKE '%word%'`, the expression of the trigram
    indexes on PostgreSQL (migration 0017). An OR across the tables of a join can use no index,
    so `by_table` matches each table's columns apart, as `table.id IN (its rows with the
    word)`; without it the OR is checked row by row, cheaper when a LIMIT stops the scan early
    or the columns have no index.
    """
    tables: dict[Any, list[Any]] = {}
    for column in columns:
        tables.setdefault(column.class_ if by_table else None, []).append(column)
    for word in text.strip().lower().split()[:MAX_WORDS]:
        like = f"%{word.lstrip('@').replace('%', '').replace('_', '')}%"
        query = query.where(_word_in(like, tables))
    return query


def count_of(session: Session, query: Any, at_most: int | None = None) -> int:
    """How many rows `query` returns (before LIMIT/OFFSET), counting no further than `at_most`."""
    rows = query.limit(at_most) if at_most is not None else query
    return int(session.exec(select(sa.func.count()).select_from(rows.subquery())).one())


def _word_in(like: str, tables: dict[Any, list[Any]]) -> Any:
    def found(columns: list[Any]) -> Any:
        return sa.or_(*(sa.func.lower(column).like(like) for column in columns))

    if len(tables) == 1:
        return found(next(iter(tables.values())))
    return sa.or_(
        *(
            entity.id.in_(select(entity.id).where(found(cols)).correlate(None))
            for entity, cols in tables.items()
        )
    )
