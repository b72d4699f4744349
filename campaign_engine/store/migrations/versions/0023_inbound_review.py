"""Inbound review and the per-domain limit: reports without proof, over the per-domain limit, and replies naming nothing we
sent, held for a person to apply or dismiss (issue 28)

Revision ID: 0023_inbound_review
Revises: 0022_shared_send_clock
Create Date: 2026-12-06 04:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import campaign_engine.store.models

revision = "0023_inbound_review"
down_revision = "0022_shared_send_clock"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inboundmail", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "sender_domain",
                sqlmodel.sql.sqltypes.AutoString(),
                nullable=False,
                server_default="",
            )
        )
        batch_op.create_index(
            batch_op.f("ix_inboundmail_sender_domain"), ["sender_domain"], unique=False
        )
    op.create_table(
        "inboundreview",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mail_key", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("address", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("sender", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("subject", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", campaign_engine.store.models.UTCDateTime(), nullable=True),
        sa.Column("decided_by", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("decided_at", campaign_engine.store.models.UTCDateTime(), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["message_id"], ["message.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("mail_key"),
    )
    with op.batch_alter_table("inboundreview", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_inboundreview_status"), ["status"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_inboundreview_received_at"), ["received_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("inboundreview", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inboundreview_received_at"))
        batch_op.drop_index(batch_op.f("ix_inboundreview_status"))
    op.drop_table("inboundreview")
    with op.batch_alter_table("inboundmail", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inboundmail_sender_domain"))
        batch_op.drop_column("sender_domain")
