"""What each message's events add up to (message_engagement: its marks and clicked links), kept
with the engagement counters so a tracked hit is counted without reading its contact's every
event; filled from the events there are.

Revision ID: 0037_message_engagement
Revises: 0036_event_message_time
Create Date: 2026-12-06 15:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

from campaign_engine.store import engagement_counts

revision = "0037_message_engagement"
down_revision = "0036_event_message_time"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "message_engagement",
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("marks", sa.Integer(), nullable=False),
        sa.Column("links", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.ForeignKeyConstraint(["message_id"], ["message.id"]),
        sa.PrimaryKeyConstraint("message_id"),
    )
    # The recount is the events' own grouping (bot rules, marks per contact, links per offer),
    # which lives in one place: the module that keeps the counters.
    engagement_counts.rebuild(op.get_bind())


def downgrade() -> None:
    op.drop_table("message_engagement")
