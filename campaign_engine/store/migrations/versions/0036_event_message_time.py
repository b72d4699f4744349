"""Events by message and time: ix_event_message_id becomes (message_id, occurred_at), so the
tracking writer's "every link at once" check reads only a message's recent events, however many
it has had (the index still serves every lookup by message)

Revision ID: 0036_event_message_time
Revises: 0035_engagement_counts
Create Date: 2026-12-06 14:40:00
"""

from __future__ import annotations

from alembic import op

revision = "0036_event_message_time"
down_revision = "0035_engagement_counts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.create_index("ix_event_message_time", ["message_id", "occurred_at"], unique=False)
        batch_op.drop_index("ix_event_message_id")


def downgrade() -> None:
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.create_index("ix_event_message_id", ["message_id"], unique=False)
        batch_op.drop_index("ix_event_message_time")
