"""Several relays: a pause per relay (the one relay of a plain [smtp] is "main"), and the relay
that took each message, for each relay's share of the sends (issue 31)

Revision ID: 0029_relay_pauses_and_shares
Revises: 0028_contact_requests
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import campaign_engine.store.models

revision = "0029_relay_pauses_and_shares"
down_revision = "0028_contact_requests"
branch_labels = None
depends_on = None

_WHEN = campaign_engine.store.models.UTCDateTime
_KEPT = ("paused_since", "resume_at", "failures", "stage", "reason", "detail")
_FINGERPRINT = "settings_fingerprint"


def _pause_table(key: sa.Column[object]) -> None:
    op.create_table(
        "relay_pause",
        key,
        sa.Column("paused_since", _WHEN(), nullable=False),
        sa.Column("resume_at", _WHEN(), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("stage", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("detail", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column(_FINGERPRINT, sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.PrimaryKeyConstraint(key.name),
    )


def _rows() -> list[dict[str, object]]:
    columns = ", ".join((*_KEPT, _FINGERPRINT))
    result = op.get_bind().execute(sa.text(f"SELECT {columns} FROM relay_pause"))
    return [dict(row._mapping) for row in result]


def _insert(key: str, value: object, rows: list[dict[str, object]]) -> None:
    names = [key, *_KEPT, _FINGERPRINT]
    table = sa.table("relay_pause", *(sa.column(name) for name in names))
    if rows:
        op.bulk_insert(table, [{key: value, **row} for row in rows])  # type: ignore[arg-type]


def upgrade() -> None:
    rows = _rows()  # the one relay's pause, if any, becomes relay "main"'s
    op.drop_table("relay_pause")
    _pause_table(sa.Column("relay", sqlmodel.sql.sqltypes.AutoString(), nullable=False))
    _insert("relay", "main", rows)
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("relay", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.create_index("ix_message_relay_sent", ["sent_at", "relay"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_index("ix_message_relay_sent")
        batch_op.drop_column("relay")
    rows = _rows()[:1]
    op.drop_table("relay_pause")
    _pause_table(sa.Column("id", sa.Integer(), autoincrement=False, nullable=False))
    _insert("id", 1, rows)
