"""Console indexes: when the email before each draft went out, from an index (issue 19)

Revision ID: 0016_console_indexes
Revises: 0015_report_indexes
Create Date: 2026-12-01 21:05:00
"""

from __future__ import annotations

from alembic import op

revision = "0016_console_indexes"
down_revision = "0015_report_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.create_index(
            "ix_message_thread_sent", ["enrollment_id", "step", "state", "sent_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_index("ix_message_thread_sent")
