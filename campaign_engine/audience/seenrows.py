"""Which keys a file already had: conflicting duplicates found in bounded memory."""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path

__all__ = ["SeenRows"]


class SeenRows:
    """Which keys (emails) a file already had, on which line and with which values.

    Kept in a throw-away SQLite file, so a file of any size is checked for conflicting
    duplicates in bounded memory. Use as a context manager; the file is deleted on exit.
    """

    _CACHE_KIB = 1024  # SQLite page cache

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="campaign-seen-")
        self._db = sqlite3.connect(Path(self._dir.name) / "seen.db")
        self._db.execute(f"PRAGMA cache_size=-{self._CACHE_KIB}")
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute(
            "CREATE TABLE seen (key TEXT PRIMARY KEY, line INTEGER, fingerprint INTEGER)"
        )
        self._db.execute("CREATE TABLE owners (account TEXT PRIMARY KEY, line INTEGER, owner TEXT)")

    def __enter__(self) -> SeenRows:
        return self

    def __exit__(self, *exc: object) -> None:
        self._db.close()
        self._dir.cleanup()

    def first(self, key: str, line: int, fingerprint: int) -> tuple[int, int] | None:
        """Remember the key; if it was seen before, return that (line, fingerprint) instead."""
        added = self._db.execute(
            "INSERT OR IGNORE INTO seen VALUES (?, ?, ?)", (key, line, fingerprint)
        ).rowcount
        if added:
            return None
        row = self._db.execute(
            "SELECT line, fingerprint FROM seen WHERE key = ?", (key,)
        ).fetchone()
        return int(row[0]), int(row[1])

    def first_owner(self, account: str, line: int, owner: str) -> tuple[int, str] | None:
        """Remember the account's owner; if the file named one before, return (line, owner)."""
        added = self._db.execute(
            "INSERT OR IGNORE INTO owners VALUES (?, ?, ?)", (account, line, owner)
        ).rowcount
        if added:
            return None
        row = self._db.execute(
            "SELECT line, owner FROM owners WHERE account = ?", (account,)
        ).fetchone()
        return int(row[0]), str(row[1])
