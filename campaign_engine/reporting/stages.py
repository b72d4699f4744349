"""Opportunity sales stages: recorded by ops per contact (CLI or CSV), kept as a history."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TypeVar

from sqlmodel import Session, select

from campaign_engine.audience.csvfile import RowError, open_csv
from campaign_engine.audience.imports import ImportResult, clean_email
from campaign_engine.core.errors import CampaignEngineError, NotFound
from campaign_engine.store.db import Database
from campaign_engine.store.models import Contact, StageChange

__all__ = [
    "SAO_STAGE",
    "STAGES",
    "StageRecord",
    "import_stages",
    "parse_stage",
    "parse_stage_date",
    "record_stage",
    "stage_label",
]

# The opportunity stages of the enterprise sales process (seeds/engage-and-educate.md).
STAGES: tuple[str, ...] = (
    "Pending Acceptance",
    "Discovery",
    "Scoping",
    "Technical Evaluation",
    "Proposal",
    "Negotiating",
    "Awaiting Signature",
    "Closed Won",
    "Lost",
)
SAO_STAGE = 1  # reaching Discovery makes the opportunity a Sales Accepted Opportunity
LOST_STAGE = 8
STAGE_ALIASES = {"sao": 1, "sales accepted opportunity": 1, "won": 7, "closed lost": 8}
_T = TypeVar("_T")
_STAGE_ALIASES = {"email_address": "email", "e_mail": "email", "on": "date", "changed_on": "date"}
_STAGE_COLUMNS = frozenset({"email", "stage", "date"})


@dataclass(frozen=True)
class StageRecord:
    """What `record_stage` did: the contact, the stage and whether the row is new."""

    email: str
    stage: int
    changed_on: date
    created: bool

    def __str__(self) -> str:
        what = "recorded" if self.created else "already recorded"
        return f"{self.email}: {stage_label(self.stage)} on {self.changed_on.isoformat()} ({what})"


def stage_label(stage: int) -> str:
    """'1 - Discovery'."""
    return f"{stage} - {STAGES[stage]}"


def parse_stage(value: str) -> int:
    """'1', '1 - Discovery', '1-Discovery', 'discovery', 'SAO' -> 1; ValueError names the choices."""
    text = " ".join(value.strip().lower().split())
    match = re.fullmatch(r"(\d+)\s*(?:[-–.:]\s*(.*))?", text)
    if match:
        number = int(match.group(1))
        if 0 <= number < len(STAGES) and (
            not match.group(2) or match.group(2) == STAGES[number].lower()
        ):
            return number
    for number, name in enumerate(STAGES):
        if text == name.lower():
            return number
    if text in STAGE_ALIASES:
        return STAGE_ALIASES[text]
    choices = ", ".join(stage_label(n) for n in range(len(STAGES)))
    raise ValueError(f"{value.strip()!r} is not a sales stage (one of: {choices})")


def parse_stage_date(value: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"{value.strip()!r} is not a date (YYYY-MM-DD)") from None


def record_stage(
    db: Database, email: str, stage: int, on: date, now: datetime, source: str = "cli"
) -> StageRecord:
    """Record that the contact's opportunity reached `stage` on `on`; the same fact twice is kept once."""
    try:
        address = clean_email(email)
    except ValueError as exc:
        raise CampaignEngineError(f"email {exc}") from None
    with db.session() as session:
        contact_id = _contact_id(session, address)
        if contact_id is None:
            raise NotFound(f"no contact {address!r}: import it first (campaign import contacts)")
        created = _add(session, contact_id, stage, on, now, source)
    return StageRecord(address, stage, on, created)


def import_stages(
    db: Database, path: Path, now: datetime, encoding: str | None = None, name: str | None = None
) -> ImportResult:
    """Apply `email,stage,date` rows; rejected rows are listed as file:line, the rest applied.
    A file-level problem (see csvfile) raises before anything is applied."""
    csv_file = open_csv(path, _STAGE_ALIASES, _STAGE_COLUMNS, encoding, name=name)
    result = ImportResult(file=csv_file.name)
    csv_file.fill(result)
    with db.session() as session:
        for row in csv_file.records(_STAGE_ALIASES):
            try:
                address = _field(row.values, "email", clean_email)
                stage = _field(row.values, "stage", parse_stage)
                on = _field(row.values, "date", parse_stage_date)
            except _Rejected as exc:
                result.rejected.append(RowError(result.file, row.line, exc.field, exc.reason))
                continue
            contact_id = _contact_id(session, address)
            if contact_id is None:
                reason = f"no contact {address!r} (import contacts first)"
                result.rejected.append(RowError(result.file, row.line, "email", reason))
                continue
            source = f"{Path(result.file).name}:{row.line}"
            if _add(session, contact_id, stage, on, now, source):
                result.created += 1
            else:
                result.unchanged += 1
    return result


class _Rejected(Exception):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field, self.reason = field, reason


def _field(values: dict[str, str], name: str, parse: Callable[[str], _T]) -> _T:
    raw = values.get(name, "")
    if not raw.strip():
        raise _Rejected(name, "is empty" if name in values else "column is missing")
    try:
        return parse(raw)
    except ValueError as exc:
        raise _Rejected(name, str(exc)) from None


def _contact_id(session: Session, address: str) -> int | None:
    return session.exec(select(Contact.id).where(Contact.email == address)).first()


def _add(
    session: Session, contact_id: int, stage: int, on: date, now: datetime, source: str
) -> bool:
    exists = session.exec(
        select(StageChange.id).where(
            StageChange.contact_id == contact_id,
            StageChange.stage == stage,
            StageChange.changed_on == on,
        )
    ).first()
    if exists is not None:
        return False
    session.add(
        StageChange(
            contact_id=contact_id, stage=stage, changed_on=on, source=source, recorded_at=now
        )
    )
    session.flush()
    return True
