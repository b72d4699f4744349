"""A rehearsal's scratch database: a SQLite copy of the real database, which is only read.

SQLite is copied with SQLite's online backup (a consistent snapshot, even while `campaign run`
writes). PostgreSQL rows are copied table by table, in one read-only REPEATABLE READ
transaction (one snapshot), into a SQLite file migrated to the same schema. Either way the real
database sees reads only, and everything the rehearsal does happens in the copy.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import SQLModel

from campaign_engine.store.db import Database

__all__ = ["scratch_copy"]

_CHUNK = 5000  # rows per INSERT batch


def scratch_copy(db: Database, path: Path) -> Database:
    """A new SQLite database at `path` holding what `db` holds now."""
    if db.engine.dialect.name == "sqlite":
        _backup_sqlite(db, path)
        return Database(f"sqlite:///{path}")
    scratch = Database(f"sqlite:///{path}")  # migrated: the schema the models describe
    _copy_rows(db, scratch)
    return scratch


def _backup_sqlite(db: Database, path: Path) -> None:
    source = db.engine.raw_connection()
    try:
        target = sqlite3.connect(path)
        try:
            driver = source.driver_connection
            assert isinstance(driver, sqlite3.Connection)
            driver.backup(target)
        finally:
            target.close()
    finally:
        source.close()


def _copy_rows(source: Database, target: Database) -> None:
    with (
        source.engine.connect().execution_options(
            isolation_level="REPEATABLE READ", postgresql_readonly=True
        ) as read,
        target.engine.begin() as write,
    ):
        for table in reversed(SQLModel.metadata.sorted_tables):
            write.execute(sa.delete(table))  # rows the migrations seed come from the source too
        for table in SQLModel.metadata.sorted_tables:
            rows = read.execution_options(yield_per=_CHUNK).execute(sa.select(table))
            for chunk in rows.partitions():
                write.execute(sa.insert(table), [dict(row._mapping) for row in chunk])
