"""Schema migrations with alembic: `campaign db upgrade`, and automatically on first use.

Every process opening the database checks its revision; alembic (and the Mako templates it
loads) is imported only when a migration runs, so that check costs a command's start-up one
query instead of about a tenth of a second of imports.
"""

from __future__ import annotations

import logging
import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from campaign_engine.core.errors import SchemaError

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = [
    "MIGRATION_RECORD",
    "TRIGRAM_INDEXES",
    "applied_revision",
    "compared",
    "create_extension",
    "current_revision",
    "head_revision",
    "new_revision",
    "upgrade",
]

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")
MIGRATION_RECORD = "alembic_version"  # alembic's table of the applied revision
_LOCK_KEY = 0x43414D50  # "CAMP": one migrator at a time on PostgreSQL
# Made by migration 0017 on PostgreSQL only (SQLite has no trigram index), so not in the models.
TRIGRAM_INDEXES = frozenset(
    {"ix_contact_email_trgm", "ix_contact_first_name_trgm", "ix_contact_last_name_trgm",
     "ix_account_name_trgm"}
)  # fmt: skip


def _config(connection: sa.Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


@cache
def head_revision() -> str:
    """The newest migration's revision: the one in the highest-numbered file of versions/
    (the history is one line, NNNN_name.py each revising the one before; a test holds this
    equal to alembic's own reading of the scripts)."""
    newest = max((MIGRATIONS / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))
    found = re.search(r'^revision = "([^"]+)"', newest.read_text(encoding="utf-8"), re.M)
    if found is None:
        raise SchemaError(f"{newest} names no revision")
    return found.group(1)


def current_revision(engine: sa.Engine) -> str | None:
    with engine.connect() as connection:
        return applied_revision(connection)


def applied_revision(connection: sa.Connection) -> str | None:
    """The revision the database is at (None: never migrated)."""
    if not sa.inspect(connection).has_table(MIGRATION_RECORD):
        return None
    return connection.execute(sa.text(f"SELECT version_num FROM {MIGRATION_RECORD}")).scalar()


def upgrade(engine: sa.Engine) -> bool:
    """Bring the schema to the newest revision; False when it already was (the usual case)."""
    if current_revision(engine) == head_revision():
        return False
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Workers that start together wait here; the first one migrates, the rest find
            # the schema current.
            connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_LOCK_KEY)))
        current = applied_revision(connection)
        if current == head_revision():
            return False
        if current is None and sa.inspect(connection).get_table_names():
            raise SchemaError(
                f"{engine.url.render_as_string(hide_password=True)} has tables but no migration"
                " record: it was not created by campaign-engine's migrations. Point"
                " database_url at an empty database (or remove this file) and run again."
            )
        from alembic import command

        command.upgrade(_config(connection), "head")
    return True


def compared(_object: Any, name: str | None, type_: str, _reflected: bool, _to: Any) -> bool:
    """Autogenerate's filter: everything but the PostgreSQL-only indexes the models lack."""
    return not (type_ == "index" and name in TRIGRAM_INDEXES)


def create_extension(connection: sa.Connection, name: str) -> bool:
    """CREATE EXTENSION in a savepoint; False (the transaction still usable) when the database
    refuses it, e.g. a role without the privilege: what needs it then goes without."""
    try:
        with connection.begin_nested():
            connection.execute(sa.text(f'CREATE EXTENSION IF NOT EXISTS "{name}"'))
    except sa.exc.DBAPIError as exc:
        log.warning("extension %s not available (%s); searches stay unindexed", name, exc.orig)
        return False
    return True


def new_revision(engine: sa.Engine, message: str) -> None:
    """For contributors: write a migration for what the models add (against an upgraded DB)."""
    from alembic import command

    upgrade(engine)
    with engine.begin() as connection:
        command.revision(_config(connection), message=message, autogenerate=True)
