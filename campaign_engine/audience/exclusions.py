"""Listing ops exclusions and removing them (marked removed and audited, never deleted)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from campaign_engine.audience.exclusion_file import parse_target
from campaign_engine.core.errors import NotFound
from campaign_engine.store.db import Database
from campaign_engine.store.models import Campaign, Exclusion, ExclusionAudit
from campaign_engine.store.queries import campaign_by_name
from campaign_engine.store.upload_tables import ExclusionUpload

__all__ = [
    "ExclusionView",
    "UploadView",
    "exclusion_view",
    "list_exclusions",
    "list_uploads",
    "remove_exclusion",
]


@dataclass(frozen=True)
class ExclusionView:
    """One exclusion as `exclusions list` shows it."""

    id: int
    target: str
    scope: str
    reason: str
    source: str
    created_by: str
    created_at: datetime | None
    removed_at: datetime | None
    removed_by: str | None
    removal_reason: str | None


@dataclass(frozen=True)
class UploadView:
    """One exclusion upload as `exclusions uploads` and the console list it."""

    id: int
    file: str
    scope: str
    state: str
    rows: int
    added: int
    created_by: str
    created_at: datetime | None
    applied_by: str | None
    applied_at: datetime | None
    reverted_by: str | None
    reverted_at: datetime | None
    revert_reason: str | None


def list_uploads(session: Session, limit: int, offset: int = 0) -> tuple[list[UploadView], int]:
    """Exclusion uploads newest first, a page of them, and how many there are."""
    total = session.exec(select(func.count()).select_from(ExclusionUpload)).one()
    rows = session.exec(
        select(ExclusionUpload, Campaign.name)
        .join(Campaign, col(Campaign.id) == ExclusionUpload.campaign_id, isouter=True)
        .order_by(col(ExclusionUpload.id).desc())
        .offset(offset)
        .limit(limit)
    ).all()
    views = [
        UploadView(
            id=u.id or 0,
            file=u.file,
            scope=name or "all campaigns",
            state=u.state,
            rows=u.rows,
            added=u.added,
            created_by=u.created_by,
            created_at=u.created_at,
            applied_by=u.applied_by,
            applied_at=u.applied_at,
            reverted_by=u.reverted_by,
            reverted_at=u.reverted_at,
            revert_reason=u.revert_reason,
        )
        for u, name in rows
    ]
    return views, total


def list_exclusions(
    db: Database, campaign: str | None = None, include_removed: bool = False
) -> list[ExclusionView]:
    """Exclusions newest first; with a campaign, its own and the global ones (both apply)."""
    with db.session() as session:
        query = select(Exclusion, Campaign).join(
            Campaign, col(Campaign.id) == Exclusion.campaign_id, isouter=True
        )
        if campaign:
            cid = campaign_by_name(session, campaign).id
            query = query.where(
                sa.or_(col(Exclusion.campaign_id) == cid, col(Exclusion.campaign_id).is_(None))
            )
        if not include_removed:
            query = query.where(col(Exclusion.removed_at).is_(None))
        rows = session.exec(query.order_by(col(Exclusion.id).desc())).all()
        removal = dict(
            session.exec(
                select(ExclusionAudit.exclusion_id, ExclusionAudit.reason)
                .where(ExclusionAudit.action == "remove")
                .order_by(col(ExclusionAudit.id))
            ).all()
        )
    return [exclusion_view(e, c, removal.get(e.id or 0) if e.removed_at else None) for e, c in rows]


def exclusion_view(
    e: Exclusion, campaign: Campaign | None, removal_reason: str | None
) -> ExclusionView:
    """One exclusion as the CLI and the console show it (`campaign`: its scope, None = all)."""
    return ExclusionView(
        id=e.id or 0,
        target=e.email or f"@{e.domain}",
        scope=campaign.name if campaign else "all campaigns",
        reason=e.reason,
        source=f"{e.source_file}:{e.source_line}" if e.source_line else e.source_file,
        created_by=e.created_by,
        created_at=e.created_at,
        removed_at=e.removed_at,
        removed_by=e.removed_by,
        removal_reason=removal_reason,
    )


def remove_exclusion(
    db: Database,
    target: str,
    now: datetime,
    campaign: str | None = None,
    by: str = "",
    reason: str = "",
) -> int:
    """Mark the active exclusion of TARGET (in that scope) removed and log it; never deletes."""
    try:
        email, domain = parse_target(target)
    except ValueError as exc:
        raise NotFound(f"cannot remove {target!r}: {exc}") from None
    with db.session() as session:
        cid = campaign_by_name(session, campaign).id if campaign else None
        rows = session.exec(
            select(Exclusion).where(
                col(Exclusion.removed_at).is_(None),
                Exclusion.email == email if email else Exclusion.domain == domain,
                Exclusion.campaign_id == cid if cid else col(Exclusion.campaign_id).is_(None),
            )
        ).all()
        if not rows:
            scope = f"campaign {campaign!r}" if campaign else "all campaigns (no --campaign)"
            raise NotFound(
                f"no active exclusion of {target!r} for {scope}; "
                "see `campaign exclusions list --all`"
            )
        for row in rows:
            row.removed_at, row.removed_by = now, by
            session.add(row)
            assert row.id is not None
            session.add(
                ExclusionAudit(
                    exclusion_id=row.id, action="remove", actor=by, reason=reason, at=now
                )
            )
        return len(rows)
