"""Outreach modes: a contact outside SMB left in mode C by the old default gets B, its new default

Mode C now puts an MM, Large or Strategic contact on the automated channel (the play's option C);
before, C was every blank cell's default and did nothing outside SMB. So that no such contact
starts getting marketing email, they keep the outreach they had: B, sales direct.

Revision ID: 0025_outreach_mode_defaults
Revises: 0024_segments_large_strategic
Create Date: 2026-12-06 04:50:00
"""

from __future__ import annotations

from alembic import op

revision = "0025_outreach_mode_defaults"
down_revision = "0024_segments_large_strategic"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "UPDATE contact SET outreach_mode = 'B' WHERE outreach_mode = 'C'"
        " AND account_id IN (SELECT id FROM account WHERE segment <> 'SMB')"
    )


def downgrade() -> None:
    """Nothing to undo: B was as good as C outside SMB before this revision."""
