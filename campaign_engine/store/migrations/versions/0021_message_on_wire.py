"""message.on_wire: a claimed message cleared for the relay, so a dead worker's claim leaves
only those `uncertain` and puts the rest back in the queue (issue 29)

Revision ID: 0021_message_on_wire
Revises: 0020_campaign_log
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021_message_on_wire"
down_revision = "0020_campaign_log"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("on_wire", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_column("on_wire")
