"""Per-provider pacing: each mailbox provider's rate and send clock, shared by every worker
(issue 31)

Revision ID: 0030_provider_pace
Revises: 0029_relay_pauses_and_shares
Create Date: 2026-12-06 07:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import campaign_engine.store.models

revision = "0030_provider_pace"
down_revision = "0029_relay_pauses_and_shares"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "provider_pace",
        sa.Column("provider", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("rate", sa.Float(), nullable=False),
        sa.Column("next_slot", campaign_engine.store.models.UTCDateTime(), nullable=True),
        sa.Column("deferrals", sa.Text(), nullable=False),
        sa.Column("slowed_at", campaign_engine.store.models.UTCDateTime(), nullable=True),
        sa.Column("slowdowns", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("provider"),
    )


def downgrade() -> None:
    op.drop_table("provider_pace")
