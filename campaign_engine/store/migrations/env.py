"""Alembic environment: runs on the connection campaign_engine.db hands over."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

from campaign_engine.store import db as _db  # noqa: F401  (registers every table on the metadata)
from campaign_engine.store.schema import compared

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "run migrations through `campaign db upgrade`, which supplies the connection"
    )

context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things
    compare_type=True,
    include_object=compared,
)
with context.begin_transaction():
    context.run_migrations()
