"""Undoable uploads: exclusion uploads (previewed, applied, reverted as a whole) and contact
imports (each contact's values before the import), so both can be undone in one step (issue 30)

Revision ID: 0026_undoable_uploads
Revises: 0025_outreach_mode_defaults
Create Date: 2026-12-06 03:51:46
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import campaign_engine.store.models

revision = "0026_undoable_uploads"
down_revision = "0025_outreach_mode_defaults"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "contactimport",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("file", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", campaign_engine.store.models.UTCDateTime(), nullable=True),
        sa.Column("reverted_by", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("reverted_at", campaign_engine.store.models.UTCDateTime(), nullable=True),
        sa.Column("revert_reason", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "contactimportchange",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("created", sa.Boolean(), nullable=False),
        sa.Column("previous_json", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["contactimport.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("contactimportchange", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_contactimportchange_contact_id"), ["contact_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_contactimportchange_import_id"), ["import_id"], unique=False
        )

    op.create_table(
        "exclusionupload",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("file", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("entries_json", sa.Text(), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", campaign_engine.store.models.UTCDateTime(), nullable=True),
        sa.Column("applied_by", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("applied_at", campaign_engine.store.models.UTCDateTime(), nullable=True),
        sa.Column("added", sa.Integer(), nullable=False),
        sa.Column("reverted_by", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("reverted_at", campaign_engine.store.models.UTCDateTime(), nullable=True),
        sa.Column("revert_reason", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaign.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    # SQLite: ADD COLUMN with an inline REFERENCES; batch mode would copy the whole table, which
    # its foreign keys (exclusionaudit -> exclusion) refuse on a database with exclusions.
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "ALTER TABLE exclusion ADD COLUMN upload_id INTEGER REFERENCES exclusionupload (id)"
        )
    else:
        op.add_column("exclusion", sa.Column("upload_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            "fk_exclusion_upload_id", "exclusion", "exclusionupload", ["upload_id"], ["id"]
        )
    op.create_index("ix_exclusion_upload_id", "exclusion", ["upload_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("exclusion", schema=None) as batch_op:
        batch_op.drop_constraint("fk_exclusion_upload_id", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_exclusion_upload_id"))
        batch_op.drop_column("upload_id")

    op.drop_table("exclusionupload")
    with op.batch_alter_table("contactimportchange", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contactimportchange_import_id"))
        batch_op.drop_index(batch_op.f("ix_contactimportchange_contact_id"))

    op.drop_table("contactimportchange")
    op.drop_table("contactimport")
