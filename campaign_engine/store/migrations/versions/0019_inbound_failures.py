"""Inbound failures: how often a message of the reply mailbox failed to be handled, so that it is
tried at most 3 times (issue 28)

Revision ID: 0019_inbound_failures
Revises: 0018_web_sessions
Create Date: 2026-12-06 03:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import campaign_engine.store.models

revision = "0019_inbound_failures"
down_revision = "0018_web_sessions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inboundfailure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mail_hash", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("failed_at", campaign_engine.store.models.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("mail_hash"),
    )


def downgrade() -> None:
    op.drop_table("inboundfailure")
