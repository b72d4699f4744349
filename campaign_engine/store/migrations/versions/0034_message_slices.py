"""Each message carries the slice the report counts it in (its contact's segment, title and rep,
and the zone of its calendar, as when it was queued), and message_count counts per slice and
local day of the send too; each enrolment says whether a message of it was sent (emailed); all
filled from the rows there are.

Revision ID: 0034_message_slices
Revises: 0033_message_counts
Create Date: 2026-12-06 11:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0034_message_slices"
down_revision = "0033_message_counts"
branch_labels = None
depends_on = None

_STRING = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.add_column("message", sa.Column("segment", _STRING(), nullable=True))
    op.add_column("message", sa.Column("title", _STRING(), nullable=True))
    op.add_column("message", sa.Column("rep_id", sa.Integer(), nullable=True))
    op.add_column("message", sa.Column("zone", _STRING(), nullable=True))
    op.execute(
        "UPDATE message SET segment = a.segment, title = c.title, rep_id = a.rep_id,"
        " zone = COALESCE(NULLIF(e.timezone, ''), ca.timezone)"
        " FROM enrollment e, contact c, account a, campaign ca"
        " WHERE e.id = message.enrollment_id AND c.id = e.contact_id"
        " AND a.id = c.account_id AND ca.id = e.campaign_id"
    )
    op.add_column(
        "enrollment",
        sa.Column("emailed", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.execute(
        "UPDATE enrollment SET emailed = TRUE WHERE id IN (SELECT enrollment_id FROM message"
        " WHERE state = 'sent' AND sent_at IS NOT NULL)"
    )
    op.drop_index("ix_message_report", table_name="message")
    op.create_index(
        "ix_message_report",
        "message",
        ["id", "campaign_id", "step", "contact_id", "segment", "title", "rep_id"],
        unique=False,
    )
    _new_counts(
        sa.Column("origin", _STRING(), nullable=False),
        sa.Column("segment", _STRING(), nullable=False),
        sa.Column("title", _STRING(), nullable=False),
        sa.Column("rep_id", sa.Integer(), nullable=False),
        sa.Column("day", _STRING(), nullable=False),
    )
    zone = "COALESCE(NULLIF(zone, ''), 'UTC')"
    if op.get_bind().dialect.name == "postgresql":
        day = f"to_char(timezone({zone}, timezone('UTC', sent_at)), 'YYYY-MM-DD')"
    else:
        day = f"local_date(sent_at, {zone})"  # the engine's SQLite function (sql_dates)
    keys = (
        "campaign_id, step, state, origin, COALESCE(segment, ''), COALESCE(title, ''),"
        f" COALESCE(rep_id, 0), COALESCE({day}, '')"
    )
    op.execute(
        "INSERT INTO message_count"
        " (campaign_id, step, state, origin, segment, title, rep_id, day, n)"
        f" SELECT {keys}, count(*) FROM message GROUP BY {keys}"
    )


def downgrade() -> None:
    _new_counts()
    op.execute(
        "INSERT INTO message_count (campaign_id, step, state, n)"
        " SELECT campaign_id, step, state, count(*) FROM message"
        " GROUP BY campaign_id, step, state"
    )
    op.drop_index("ix_message_report", table_name="message")
    op.create_index(
        "ix_message_report", "message", ["id", "campaign_id", "step", "contact_id"], unique=False
    )
    with op.batch_alter_table("enrollment", schema=None) as batch_op:
        batch_op.drop_column("emailed")
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_column("zone")
        batch_op.drop_column("rep_id")
        batch_op.drop_column("title")
        batch_op.drop_column("segment")


def _new_counts(*slice_columns: sa.Column[object]) -> None:
    """message_count made anew, per campaign, step, state and these columns."""
    op.drop_table("message_count")
    keys = ["campaign_id", "step", "state", *(column.name for column in slice_columns)]
    op.create_table(
        "message_count",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("state", _STRING(), nullable=False),
        *slice_columns,
        sa.Column("n", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaign.id"]),
        sa.PrimaryKeyConstraint(*keys),
    )
