"""Which keys a file already had: conflicting duplicates found in bounded memory."""

from __future__ import annotations

import json
import sqlite3
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Generic, TypeVar

__all__ = ["SeenRows"]

V = TypeVar("V", int, str)


class SeenRows(Generic[V]):
    """Which keys (emails, accounts) a file already had, on which line and with which value.

    Kept in a throw-away SQLite file, so a file of any size is checked in bounded memory; a
    batch of rows costs two statements, whatever its size. Use as a context manager; the file
    is deleted on exit.
    """

    _CACHE_KIB = 1024  # SQLite page cache

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="campaign-seen-")
        self._db = sqlite3.connect(Path(self._dir.name) / "seen.db")
        self._db.execute(f"PRAGMA cache_size=-{self._CACHE_KIB}")
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute("CREATE TABLE seen (key TEXT PRIMARY KEY, line INTEGER, value)")

    def __enter__(self) -> SeenRows[V]:
        return self

    def __exit__(self, *exc: object) -> None:
        self._db.close()
        self._dir.cleanup()

    def firsts(self, rows: Sequence[tuple[str, int, V]]) -> list[tuple[int, V] | None]:
        """Remember each (key, line, value) of a batch in file order; for a key seen before (in
        an earlier batch or earlier in this one), that first (line, value) instead of None."""
        keys = json.dumps(list({key: None for key, _, _ in rows}))
        known: dict[str, tuple[int, V]] = {
            key: (line, value)
            for key, line, value in self._db.execute(
                "SELECT key, line, value FROM seen WHERE key IN (SELECT value FROM json_each(?))",
                (keys,),
            )
        }
        earlier: list[tuple[int, V] | None] = []
        new: list[tuple[str, int, V]] = []
        for key, line, value in rows:
            first = known.get(key)
            if first is None:
                known[key] = (line, value)
                new.append((key, line, value))
            earlier.append(first)
        self._db.executemany("INSERT INTO seen VALUES (?, ?, ?)", new)
        return earlier
