"""Schema migrations with alembic: `campaign db upgrade`, and automatically on first use."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from campaign_engine.core.errors import SchemaError

__all__ = ["current_revision", "head_revision", "new_revision", "upgrade"]

MIGRATIONS = Path(__file__).with_name("migrations")
_LOCK_KEY = 0x43414D50  # "CAMP": one migrator at a time on PostgreSQL


def _config(connection: sa.Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


@cache
def head_revision() -> str | None:
    return ScriptDirectory.from_config(_config()).get_current_head()


def current_revision(engine: sa.Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: sa.Engine) -> bool:
    """Bring the schema to the newest revision; False when it already was (the usual case)."""
    if current_revision(engine) == head_revision():
        return False
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Workers that start together wait here; the first one migrates, the rest find
            # the schema current.
            connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_LOCK_KEY)))
        current = MigrationContext.configure(connection).get_current_revision()
        if current == head_revision():
            return False
        if current is None and sa.inspect(connection).get_table_names():
            raise SchemaError(
                f"{engine.url.render_as_string(hide_password=True)} has tables but no migration"
                " record: it was not created by campaign-engine's migrations. Point"
                " database_url at an empty database (or remove this file) and run again."
            )
        command.upgrade(_config(connection), "head")
    return True


def new_revision(engine: sa.Engine, message: str) -> None:
    """For contributors: write a migration for what the models add (against an upgraded DB)."""
    upgrade(engine)
    with engine.begin() as connection:
        command.revision(_config(connection), message=message, autogenerate=True)
