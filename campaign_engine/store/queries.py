"""Queries several areas share: finding a campaign by the name an operator types."""

from __future__ import annotations

from sqlmodel import Session, col, select

from campaign_engine.core.errors import NotFound
from campaign_engine.store.models import Campaign

__all__ = ["campaign_by_name", "campaign_names"]


def campaign_by_name(session: Session, name: str) -> Campaign:
    campaign = session.exec(select(Campaign).where(Campaign.name == name)).first()
    if campaign is None:
        known = ", ".join(session.exec(select(Campaign.name)).all()) or "none yet"
        raise NotFound(f"no campaign named {name!r} (known: {known})")
    return campaign


def campaign_names(session: Session) -> list[str]:
    """Every campaign's name, alphabetically (for choosing one)."""
    return list(session.exec(select(Campaign.name).order_by(col(Campaign.name))).all())
