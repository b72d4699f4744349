"""The lawful basis each contact was imported under (contacts CSV column `consent`)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlmodel import Session, col, select

from campaign_engine.store.compliance_tables import ConsentRecord

__all__ = ["parse_consent", "record_consent"]

_LIMIT = 100


def parse_consent(value: str) -> str:
    """'Opt In' -> 'opt-in'; ValueError when it cannot be a basis label."""
    basis = "-".join(value.strip().lower().replace("_", " ").split())
    if len(basis) > _LIMIT:
        raise ValueError(f"is longer than {_LIMIT} characters")
    return basis


def record_consent(
    session: Session, rows: Iterable[tuple[str, str]], source_file: str, now: datetime
) -> int:
    """Store (email, basis) pairs whose basis differs from the latest record; returns how many.

    Re-importing the same file records nothing new; a changed basis adds a row (history kept).
    """
    wanted = {email: basis for email, basis in rows if basis}
    if not wanted:
        return 0
    latest: dict[str, str] = {}
    query = (
        select(ConsentRecord.email, ConsentRecord.basis)
        .where(col(ConsentRecord.email).in_(list(wanted)))
        .order_by(col(ConsentRecord.id))
    )
    for email, basis in session.exec(query):
        latest[email] = basis
    added = 0
    for email, basis in wanted.items():
        if latest.get(email) != basis:
            session.add(
                ConsentRecord(email=email, basis=basis, source_file=source_file, recorded_at=now)
            )
            added += 1
    return added
