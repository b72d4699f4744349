"""shared send clock: the rate limit hands out evenly spaced send slots from one row instead of
counting sends per wall-clock second (which allowed bursts at each second's start) (issue 29)

Revision ID: 0022_shared_send_clock
Revises: 0021_message_on_wire
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022_shared_send_clock"
down_revision = "0021_message_on_wire"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sendclock",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("next_slot", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.drop_table("sendwindow")


def downgrade() -> None:
    op.create_table(
        "sendwindow",
        sa.Column("second", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("sent", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("second"),
    )
    op.drop_table("sendclock")
