"""The alembic migrations build exactly the schema the models describe, on both backends."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import SQLModel

from campaign_engine.core.errors import SchemaError
from campaign_engine.store.db import Database
from campaign_engine.store.schema import (
    MIGRATIONS,
    TRIGRAM_INDEXES,
    compared,
    create_extension,
    current_revision,
    head_revision,
    upgrade,
)


def test_migrations_match_the_models_and_upgrade_is_idempotent(database_url: str) -> None:
    db = Database(database_url)
    assert current_revision(db.engine) == head_revision()
    with db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": compared}
        )
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == [], (
        "models and migrations differ: write one with `campaign db revision -m '...'`"
    )
    assert upgrade(db.engine) is False
    db.dispose()


def test_the_trigram_search_indexes_are_made_on_postgresql_only(database_url: str) -> None:
    db = Database(database_url)
    with db.engine.connect() as connection:
        inspector = sa.inspect(connection)
        names = {i["name"] for t in ("contact", "account") for i in inspector.get_indexes(t)}
    postgres = db.engine.dialect.name == "postgresql"
    assert names & TRIGRAM_INDEXES == (TRIGRAM_INDEXES if postgres else set())
    db.dispose()


def test_an_extension_the_database_refuses_leaves_the_migration_going(database_url: str) -> None:
    db = Database(database_url)
    if db.engine.dialect.name != "postgresql":
        pytest.skip("extensions are PostgreSQL's")
    with db.engine.begin() as connection:
        assert create_extension(connection, "no_such_extension") is False
        assert connection.execute(sa.text("SELECT 1")).scalar() == 1  # not aborted
        assert create_extension(connection, "pg_trgm") is True
    db.dispose()


def test_a_database_not_made_by_our_migrations_is_refused_with_advice(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'foreign.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE campaign (id INTEGER PRIMARY KEY)"))
    engine.dispose()
    with pytest.raises(SchemaError, match="has tables but no migration record"):
        Database(url)


def test_the_newest_revision_is_read_as_alembic_reads_the_scripts() -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    scripts = ScriptDirectory.from_config(config)
    assert head_revision() == scripts.get_current_head()
    assert len(scripts.get_heads()) == 1
