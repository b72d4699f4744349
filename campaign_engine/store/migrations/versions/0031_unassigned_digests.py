"""Digests of engagement no rep owns: a digest (and its items) without a rep is the one sent to
the unassigned fallback (issue 27)

Revision ID: 0031_unassigned_digests
Revises: 0030_provider_pace
Create Date: 2026-12-06 07:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0031_unassigned_digests"
down_revision = "0030_provider_pace"
branch_labels = None
depends_on = None

_TABLES = ("digestitem", "digest")  # items first: they point at their digest


def upgrade() -> None:
    for table in reversed(_TABLES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column("rep_id", existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM digestitem WHERE rep_id IS NULL")  # the items of those digests
    op.execute("DELETE FROM digest WHERE rep_id IS NULL")
    for table in _TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column("rep_id", existing_type=sa.Integer(), nullable=False)
