"""Segments: the play's ENT accounts become Large (750-4,999 employees) or Strategic (5,000+)

Revision ID: 0024_segments_large_strategic
Revises: 0023_inbound_review
Create Date: 2026-12-06 04:20:00
"""

from __future__ import annotations

from alembic import op

revision = "0024_segments_large_strategic"
down_revision = "0023_inbound_review"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "UPDATE account SET segment = CASE WHEN employees >= 5000 THEN 'Strategic' ELSE 'Large' END"
        " WHERE segment = 'ENT'"
    )


def downgrade() -> None:
    op.execute("UPDATE account SET segment = 'ENT' WHERE segment IN ('Large', 'Strategic')")
