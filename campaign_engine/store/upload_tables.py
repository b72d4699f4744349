"""Uploads that can be undone as a whole: exclusion files (previewed, applied, reverted) and
contact imports (with each contact's field values before the import)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from campaign_engine.store.models import UTCDateTime

__all__ = ["ContactImport", "ContactImportChange", "ExclusionUpload"]


class ExclusionUpload(SQLModel, table=True):
    """One exclusion file: a preview (its entries kept, so applying needs no second upload),
    then applied, and maybe reverted as a whole (by whom, when, why)."""

    id: int | None = Field(default=None, primary_key=True)
    file: str
    campaign_id: int | None = Field(default=None, foreign_key="campaign.id")
    state: str  # UploadState
    rows: int = 0
    entries_json: str = Field(default="[]", sa_type=sa.Text)  # [[line, email, domain, reason]]
    created_by: str = ""
    created_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    applied_by: str | None = None
    applied_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    added: int = 0  # exclusions this upload recorded when applied
    reverted_by: str | None = None
    reverted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revert_reason: str | None = None


class ContactImport(SQLModel, table=True):
    """One contact import, so it can be listed and reverted."""

    id: int | None = Field(default=None, primary_key=True)
    file: str
    state: str  # UploadState: applied or reverted
    rows: int = 0
    created: int = 0
    updated: int = 0
    created_by: str = ""
    created_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    reverted_by: str | None = None
    reverted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revert_reason: str | None = None


class ContactImportChange(SQLModel, table=True):
    """A contact an import created, or changed: its field values before (JSON)."""

    id: int | None = Field(default=None, primary_key=True)
    import_id: int = Field(foreign_key="contactimport.id", index=True)
    contact_id: int = Field(index=True)  # no foreign key: a reverted creation deletes the contact
    created: bool = False
    previous_json: str = Field(default="{}", sa_type=sa.Text)
