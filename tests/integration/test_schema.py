"""The alembic migrations build exactly the schema the models describe, on both backends."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

from campaign_engine.core.errors import SchemaError
from campaign_engine.store.db import Database
from campaign_engine.store.schema import current_revision, head_revision, upgrade


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


def test_a_database_not_made_by_our_migrations_is_refused_with_advice(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'foreign.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE campaign (id INTEGER PRIMARY KEY)"))
    engine.dispose()
    with pytest.raises(SchemaError, match="has tables but no migration record"):
        Database(url)
