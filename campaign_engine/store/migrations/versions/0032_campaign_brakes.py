"""Automatic brakes: why the brakes paused a campaign, when its window starts, and indexes for
the last sends of a campaign and of all of them (issue 31)

Revision ID: 0032_campaign_brakes
Revises: 0031_unassigned_digests
Create Date: 2026-12-06 07:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import campaign_engine.store.models

revision = "0032_campaign_brakes"
down_revision = "0031_unassigned_digests"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("campaign", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("pause_reason", sqlmodel.sql.sqltypes.AutoString(), nullable=True)
        )
        batch_op.add_column(
            sa.Column("brakes_since", campaign_engine.store.models.UTCDateTime(), nullable=True)
        )
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.create_index(
            "ix_message_campaign_attempted", ["campaign_id", "first_attempt_at"], unique=False
        )
        batch_op.create_index("ix_message_attempted", ["first_attempt_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_index("ix_message_attempted")
        batch_op.drop_index("ix_message_campaign_attempted")
    with op.batch_alter_table("campaign", schema=None) as batch_op:
        batch_op.drop_column("brakes_since")
        batch_op.drop_column("pause_reason")
