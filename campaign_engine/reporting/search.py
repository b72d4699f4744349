"""Search and count for the console's lists: every word typed must appear in one of the columns
(case-insensitive substring), and a page of rows comes with the number that match."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

__all__ = ["COUNT_CAP", "MAX_WORDS", "count_of", "every_word_in"]

MAX_WORDS = 5
COUNT_CAP = 1000  # long lists say "1,000+": counting every match costs more than the page


def every_word_in(query: Any, text: str, *columns: Any) -> Any:
    """`query` narrowed to rows where each word of `text` is in one of `columns`."""
    for word in text.strip().lower().split()[:MAX_WORDS]:
        like = f"%{word.lstrip('@').replace('%', '').replace('_', '')}%"
        query = query.where(sa.or_(*(sa.func.lower(column).like(like) for column in columns)))
    return query


def count_of(session: Session, query: Any, at_most: int | None = None) -> int:
    """How many rows `query` returns (before LIMIT/OFFSET), counting no further than `at_most`."""
    rows = query.limit(at_most) if at_most is not None else query
    return int(session.exec(select(sa.func.count()).select_from(rows.subquery())).one())
