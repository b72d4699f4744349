"""pending account owners and per-user session versions

Revision ID: 0012_input_safety
Revises: 20ea55885874
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0012_input_safety"
down_revision = "0011_delivery_faults"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("owner_email", sqlmodel.sql.sqltypes.AutoString(), nullable=True)
        )
        batch_op.create_index(batch_op.f("ix_account_owner_email"), ["owner_email"], unique=False)
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("session_version", sa.Integer(), server_default="0", nullable=False)
        )
    # accounts imported before this version name their rep through rep_id
    op.execute(
        "UPDATE account SET owner_email = (SELECT email FROM rep WHERE rep.id = account.rep_id)"
        " WHERE rep_id IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.drop_column("session_version")
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_owner_email"))
        batch_op.drop_column("owner_email")
