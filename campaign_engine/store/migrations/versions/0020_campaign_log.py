"""Campaign log: who launched, paused and resumed each campaign, and when

Revision ID: 0020_campaign_log
Revises: 0019_inbound_failures
Create Date: 2026-12-06 04:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import campaign_engine.store.models

revision = "0020_campaign_log"
down_revision = "0019_inbound_failures"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "campaign_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("at", campaign_engine.store.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaign.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("campaign_log", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_campaign_log_campaign_id"), ["campaign_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("campaign_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_campaign_log_campaign_id"))
    op.drop_table("campaign_log")
