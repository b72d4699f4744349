"""local send windows and late joiners

Contacts get their own time zone; an enrollment remembers the zone and the local first day its
steps are planned from, and whether it joined after launch; a campaign keeps its sending
weekdays and its late-joiner rule.

Revision ID: 0013_local_time_and_late_joiners
Revises: 20ea55885874
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0013_local_time_and_late_joiners"
down_revision = "0012_input_safety"
branch_labels = None
depends_on = None


def upgrade() -> None:
    text = sqlmodel.sql.sqltypes.AutoString()
    with op.batch_alter_table("contact") as batch:
        batch.add_column(sa.Column("timezone", text, nullable=False, server_default=""))
    with op.batch_alter_table("campaign") as batch:
        batch.add_column(sa.Column("send_days", text, nullable=False, server_default=""))
        batch.add_column(
            sa.Column("late_joiners", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("enroll_until", sa.Date(), nullable=True))
    with op.batch_alter_table("enrollment") as batch:
        batch.add_column(sa.Column("timezone", text, nullable=False, server_default=""))
        batch.add_column(sa.Column("first_day", sa.Date(), nullable=True))
        batch.add_column(
            sa.Column("late_joiner", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("enrollment") as batch:
        batch.drop_column("late_joiner")
        batch.drop_column("first_day")
        batch.drop_column("timezone")
    with op.batch_alter_table("campaign") as batch:
        batch.drop_column("enroll_until")
        batch.drop_column("late_joiners")
        batch.drop_column("send_days")
    with op.batch_alter_table("contact") as batch:
        batch.drop_column("timezone")
