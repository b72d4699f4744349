"""console: campaign pause flag, indexes for the console's pages

Revision ID: 0010_console
Revises: 20ea55885874
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import campaign_engine.store.models

revision = "0010_console"
down_revision = "0009_inbound_mail"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("campaign", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("paused", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("paused_at", campaign_engine.store.models.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(
            sa.Column("paused_by", sqlmodel.sql.sqltypes.AutoString(), nullable=True)
        )
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.create_index(
            "ix_message_campaign_status",
            ["campaign_id", "step", "state", "skip_reason"],
            unique=False,
        )
        batch_op.create_index("ix_message_campaign_sent", ["campaign_id", "sent_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_index("ix_message_campaign_sent")
        batch_op.drop_index("ix_message_campaign_status")
    with op.batch_alter_table("campaign", schema=None) as batch_op:
        batch_op.drop_column("paused_by")
        batch_op.drop_column("paused_at")
        batch_op.drop_column("paused")
