"""Report indexes: message (id, campaign_id, step, contact_id), so the report meets events with
their messages from the index alone (a merge join in id order, no scan of the message rows)

Revision ID: 0015_report_indexes
Revises: 0014_api_webhooks
Create Date: 2026-12-01 20:05:00
"""

from __future__ import annotations

from alembic import op

revision = "0015_report_indexes"
down_revision = "0014_api_webhooks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.create_index(
            "ix_message_report", ["id", "campaign_id", "step", "contact_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_index("ix_message_report")
