"""delivery faults: the relay's pause, and when each message, alert and digest was first tried

Revision ID: 0011_delivery_faults
Revises: 20ea55885874
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import campaign_engine.store.models

revision = "0011_delivery_faults"
down_revision = "0010_console"
branch_labels = None
depends_on = None

_WHEN = campaign_engine.store.models.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "relay_pause",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("paused_since", _WHEN(), nullable=False),
        sa.Column("resume_at", _WHEN(), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("stage", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("detail", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("settings_fingerprint", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    for table in ("message", "alert", "digest"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("first_attempt_at", _WHEN(), nullable=True))


def downgrade() -> None:
    for table in ("digest", "alert", "message"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("first_attempt_at")
    op.drop_table("relay_pause")
