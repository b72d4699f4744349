"""A freshly migrated database for every test, without running the migrations every time.

Migrating from nothing takes 0.2-0.6 s (over a second on a loaded machine), and most tests start
from an empty, current schema, so the suite spent minutes migrating. Instead:

- SQLite: one file is migrated per pytest process and copied for each test.
- PostgreSQL: the schema is migrated once; before each test the tables that hold rows are
  emptied (TRUNCATE ... RESTART IDENTITY) and the rows the migrations themselves insert put back.
  If a test left the schema other than the migrations make it (a table dropped or added, another
  revision), the database is dropped and migrated again, as before.

Tests of the migrations themselves still migrate their own databases.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from campaign_engine.store.db import Database
from campaign_engine.store.schema import MIGRATION_RECORD, applied_revision, head_revision

__all__ = ["MigratedSqlite", "PostgresReset"]


class MigratedSqlite:
    """A migrated SQLite file made once, copied to each test's own path."""

    def __init__(self, directory: Path) -> None:
        self._template = directory / "migrated.db"
        Database(f"sqlite:///{self._template}").dispose()  # closing checkpoints the WAL

    def copy_to(self, path: Path) -> str:
        shutil.copyfile(self._template, path)
        return f"sqlite:///{path}"


class PostgresReset:
    """Puts the database at `url` back to a freshly migrated state before each test."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._database = Database(url, migrate=False)
        self._tables: list[str] = []
        self._metadata = sa.MetaData()
        self._holding_rows = sa.text("")  # which of the tables hold rows: one statement
        self._seeds: dict[str, list[dict[str, Any]]] = {}
        self._schema: list[str] = []
        self._migrate_from_nothing()

    def reset(self) -> None:
        engine = self._database.engine
        with engine.connect() as connection:
            as_migrated = self._schema_is_as_migrated(connection)
        if not as_migrated:
            self._migrate_from_nothing()
            return
        with engine.begin() as connection:
            # A connection the previous test left in a transaction would block TRUNCATE.
            connection.exec_driver_sql("SET LOCAL lock_timeout = '20s'")
            holding = [row[0] for row in connection.execute(self._holding_rows)]
            if holding:
                names = ", ".join(f'"{table}"' for table in holding)
                connection.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
            # Sequences of tables left empty may still have moved (a rolled-back insert).
            connection.exec_driver_sql(
                "SELECT setval((quote_ident(schemaname) || '.' || quote_ident(sequencename))::regclass,"
                " 1, false)"
                " FROM pg_sequences WHERE schemaname = current_schema()"
                " AND last_value IS NOT NULL"
            )
            self._put_back_seeds(connection)

    def dispose(self) -> None:
        self._database.dispose()

    def _migrate_from_nothing(self) -> None:
        self._database.drop_everything()
        Database(self._database.url).dispose()
        with self._database.engine.connect() as connection:
            self._tables = sorted(
                name
                for name in sa.inspect(connection).get_table_names()
                if name != MIGRATION_RECORD
            )
            self._metadata = sa.MetaData()
            self._metadata.reflect(connection, only=self._tables)
            self._seeds = {}
            for name, table in self._metadata.tables.items():
                rows = [dict(row._mapping) for row in connection.execute(sa.select(table))]
                if rows:
                    self._seeds[name] = rows
            self._schema = _schema(connection)
        self._holding_rows = sa.text(
            " UNION ALL ".join(
                f"SELECT '{name}' WHERE EXISTS (SELECT 1 FROM \"{name}\")" for name in self._tables
            )
        )

    def _schema_is_as_migrated(self, connection: sa.Connection) -> bool:
        return _schema(connection) == self._schema and (
            applied_revision(connection) == head_revision()
        )

    def _put_back_seeds(self, connection: sa.Connection) -> None:
        for name, rows in self._seeds.items():
            connection.execute(sa.insert(self._metadata.tables[name]), rows)


# What a test could leave behind that emptying the tables would keep: tables, columns, indexes,
# views and triggers (a test making inserts fail adds one) of the schema.
_SCHEMA = """
SELECT 'table ' || relname || ' ' || relkind::text FROM pg_class
 WHERE relnamespace = current_schema()::regnamespace AND relkind IN ('r', 'v', 'm', 'i', 'S')
UNION ALL
SELECT 'column ' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
 WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'
   AND a.attnum > 0 AND NOT a.attisdropped
UNION ALL
SELECT 'trigger ' || t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
 WHERE c.relnamespace = current_schema()::regnamespace AND NOT t.tgisinternal
"""


def _schema(connection: sa.Connection) -> list[str]:
    return sorted(row[0] for row in connection.exec_driver_sql(_SCHEMA))
