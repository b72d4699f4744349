"""Events on messages counted per report slice (engagement_count), kept as events are stored,
filled from the events by 0037.

Revision ID: 0035_engagement_counts
Revises: 0034_message_slices
Create Date: 2026-12-06 14:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0035_engagement_counts"
down_revision = "0034_message_slices"
branch_labels = None
depends_on = None

_STRING = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "engagement_count",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("segment", _STRING(), nullable=False),
        sa.Column("title", _STRING(), nullable=False),
        sa.Column("rep_id", sa.Integer(), nullable=False),
        sa.Column("day", _STRING(), nullable=False),
        sa.Column("link", _STRING(), nullable=False),
        sa.Column("measure", _STRING(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaign.id"]),
        sa.PrimaryKeyConstraint(
            "campaign_id", "step", "segment", "title", "rep_id", "day", "link", "measure"
        ),
    )
    # Filled by 0037_message_engagement, with the messages' marks the counters are kept from.


def downgrade() -> None:
    op.drop_table("engagement_count")
