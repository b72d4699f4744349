"""The alembic migrations build exactly the schema the models describe, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

from campaign_engine.db import Database
from campaign_engine.schema import current_revision, head_revision, upgrade


def test_migrations_match_the_models_and_upgrade_is_idempotent(database_url: str) -> None:
    db = Database(database_url)
    assert current_revision(db.engine) == head_revision()
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == [], (
        "models and migrations differ: write one with `campaign db revision -m '...'`"
    )
    assert upgrade(db.engine) is False
    db.dispose()
