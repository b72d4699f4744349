"""Global, permanent suppression: unsubscribes, hard bounces and complaints stop ALL marketing mail.

Every campaign's send-time check reads these rows (dispatcher.suppression_reasons), so a new row
takes effect at the next tick. Contact imports never touch them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlmodel import Session, col, select

from campaign_engine.audience.csvfile import FileReport, RowError, open_csv
from campaign_engine.audience.imports import clean_email
from campaign_engine.core.errors import ImportRejected
from campaign_engine.store.db import Database
from campaign_engine.store.models import Suppression

__all__ = [
    "SuppressionImport",
    "add_suppression",
    "import_suppressions",
    "list_suppressions",
    "remove_suppression",
]

# Feedback-loop and bounce reports name the address in one of these columns.
_ALIASES = {
    "recipient": "email",
    "rcpt": "email",
    "rcpt_to": "email",
    "original_rcpt_to": "email",
    "original_recipient": "email",
    "final_recipient": "email",
    "address": "email",
    "email_address": "email",
    "e_mail": "email",
}


@dataclass
class SuppressionImport(FileReport):
    """added + already + rejected = rows."""

    added: int = 0
    already: int = 0


def add_suppression(session: Session, email: str, reason: str, source: str, now: datetime) -> bool:
    """Suppress `email` (already clean); False when it was suppressed before (first reason kept)."""
    if session.exec(select(Suppression.id).where(Suppression.email == email)).first() is not None:
        return False
    session.add(Suppression(email=email, reason=reason, source=source, created_at=now))
    session.flush()
    return True


def remove_suppression(db: Database, email: str) -> bool:
    """Lift a suppression (e.g. the person asked to be mailed again). False when there was none."""
    with db.session() as session:
        row = session.exec(select(Suppression).where(Suppression.email == email)).first()
        if row is None:
            return False
        session.delete(row)
        return True


def list_suppressions(db: Database, reason: str | None = None) -> list[Suppression]:
    with db.session() as session:
        query = select(Suppression).order_by(col(Suppression.created_at), col(Suppression.id))
        if reason:
            query = query.where(Suppression.reason == reason)
        rows = list(session.exec(query).all())
        for row in rows:
            session.expunge(row)
        return rows


def import_suppressions(
    db: Database,
    path: Path,
    reason: str,
    now: datetime,
    encoding: str | None = None,
    name: str | None = None,
) -> SuppressionImport:
    """Suppress every address of a feedback-loop / bounce report: a CSV with an `email` (or
    `recipient`, ARF style) column. Bad rows are reported; the good ones are applied."""
    csv_file = open_csv(path, _ALIASES, ("email",), encoding, name=name)
    result = SuppressionImport(file=csv_file.name)
    csv_file.fill(result)
    source = f"{reason} report {Path(csv_file.name).name}"
    with db.session() as session:
        for row in csv_file.records(_ALIASES):
            if "email" not in row.values:
                raise _missing(csv_file.name)
            try:
                email = clean_email(_strip_angle(row.values["email"]))
            except ValueError as exc:
                result.rejected.append(RowError(result.file, row.line, "email", str(exc)))
                continue
            if add_suppression(session, email, reason, source, now):
                result.added += 1
            else:
                result.already += 1
    return result


def _missing(name: str) -> ImportRejected:
    return ImportRejected(
        f"{name}: no email column; name it 'email' or 'recipient' (feedback-loop reports)"
    )


def _strip_angle(value: str) -> str:
    """'rfc822; <a@b>' (ARF Original-Rcpt-To style) -> 'a@b'."""
    value = value.strip()
    if ";" in value:
        value = value.split(";", 1)[1].strip()
    return value.strip("<>").strip()
