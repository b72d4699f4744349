"""The console's exclusions list: search and one page at a time, counted in SQL (the full list
of `exclusions.list_exclusions` is for the CLI)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, col, or_, select

from campaign_engine.audience.exclusions import ExclusionView
from campaign_engine.store.models import Campaign, Exclusion, ExclusionAudit

__all__ = ["search_exclusions"]


def search_exclusions(
    session: Session, text: str, removed: bool, offset: int, limit: int
) -> tuple[list[ExclusionView], int]:
    """Active (or removed) exclusions whose target, reason, file or author contains `text`,
    newest first; one page of them and how many match."""
    query = select(Exclusion, Campaign).join(
        Campaign, col(Campaign.id) == Exclusion.campaign_id, isouter=True
    )
    removed_at = col(Exclusion.removed_at)
    query = query.where(removed_at.is_not(None) if removed else removed_at.is_(None))
    for word in text.strip().lower().split()[:5]:
        like = f"%{word.lstrip('@').replace('%', '').replace('_', '')}%"
        query = query.where(
            or_(
                col(Exclusion.email).like(like),
                col(Exclusion.domain).like(like),
                sa.func.lower(Exclusion.reason).like(like),
                sa.func.lower(Exclusion.source_file).like(like),
                sa.func.lower(Exclusion.created_by).like(like),
            )
        )
    total = session.exec(select(sa.func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(col(Exclusion.id).desc()).offset(offset).limit(limit)).all()
    ids = [e.id for e, _ in rows if e.removed_at is not None]
    removal = (
        dict(
            session.exec(
                select(ExclusionAudit.exclusion_id, ExclusionAudit.reason)
                .where(ExclusionAudit.action == "remove", col(ExclusionAudit.exclusion_id).in_(ids))
                .order_by(col(ExclusionAudit.id))
            ).all()
        )
        if ids
        else {}
    )
    return [
        ExclusionView(
            id=e.id or 0,
            target=e.email or f"@{e.domain}",
            scope=c.name if c else "all campaigns",
            reason=e.reason,
            source=f"{e.source_file}:{e.source_line}" if e.source_line else e.source_file,
            created_by=e.created_by,
            created_at=e.created_at,
            removed_at=e.removed_at,
            removed_by=e.removed_by,
            removal_reason=removal.get(e.id or 0) if e.removed_at else None,
        )
        for e, c in rows
    ], total
