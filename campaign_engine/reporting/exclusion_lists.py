"""The console's exclusions list: search and one page at a time, counted in SQL (the full list
of `exclusions.list_exclusions` is for the CLI)."""

from __future__ import annotations

from sqlmodel import Session, col, select

from campaign_engine.audience.exclusions import ExclusionView, exclusion_view
from campaign_engine.reporting.search import count_of, every_word_in
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
    query = every_word_in(
        query, text, Exclusion.email, Exclusion.domain, Exclusion.reason, Exclusion.source_file,
        Exclusion.created_by,
    )  # fmt: skip
    total = count_of(session, query)
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
        exclusion_view(e, c, removal.get(e.id or 0) if e.removed_at else None) for e, c in rows
    ], total
