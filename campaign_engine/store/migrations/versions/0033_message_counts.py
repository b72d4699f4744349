"""Messages per campaign, step and state kept as they change (message_count), filled from the
messages there are, so `campaign status` and the report read counters instead of counting; the
few messages with a reason to show (skipped, held back) indexed apart (ix_message_reasons)

Revision ID: 0033_message_counts
Revises: 0032_campaign_brakes
Create Date: 2026-12-06 07:35:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0033_message_counts"
down_revision = "0032_campaign_brakes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "message_count",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaign.id"]),
        sa.PrimaryKeyConstraint("campaign_id", "step", "state"),
    )
    reasons = sa.text("(state = 'skipped' OR skip_reason IS NOT NULL)")
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.create_index(
            "ix_message_reasons",
            ["campaign_id", "step", "state", "skip_reason"],
            unique=False,
            sqlite_where=reasons,
            postgresql_where=reasons,
        )
    op.execute(
        "INSERT INTO message_count (campaign_id, step, state, n)"
        " SELECT campaign_id, step, state, count(*) FROM message"
        " GROUP BY campaign_id, step, state"
    )


def downgrade() -> None:
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_index("ix_message_reasons")
    op.drop_table("message_count")
