"""Trigram search: the console's contacts search (a substring of the email, the names or the
account) uses GIN trigram indexes on PostgreSQL; nothing on SQLite, nor where the pg_trgm
extension cannot be created (the search stays correct, only unindexed) (issue 19)

Revision ID: 0017_trigram_search
Revises: 0016_console_indexes
Create Date: 2026-12-02 21:40:00
"""

from __future__ import annotations

from alembic import op

from campaign_engine.store.schema import create_extension

revision = "0017_trigram_search"
down_revision = "0016_console_indexes"
branch_labels = None
depends_on = None

# index name: (table, column); the expression is the search's, lower(column) LIKE '%word%'
INDEXES = {
    "ix_contact_email_trgm": ("contact", "email"),
    "ix_contact_first_name_trgm": ("contact", "first_name"),
    "ix_contact_last_name_trgm": ("contact", "last_name"),
    "ix_account_name_trgm": ("account", "name"),
}


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql" or not create_extension(bind, "pg_trgm"):
        return
    for name, (table, column) in INDEXES.items():
        op.execute(f"CREATE INDEX {name} ON {table} USING gin (lower({column}) gin_trgm_ops)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in INDEXES:
            op.execute(f"DROP INDEX IF EXISTS {name}")
