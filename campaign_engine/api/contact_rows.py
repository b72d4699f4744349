"""Contacts sent as JSON go through the contacts-CSV import's own row rules and upsert.

Each JSON object is handed to the import as a row (same validation: line breaks, lengths,
segments, modes, consent; an owner only fills an account without a rep, as in a CSV), so the API and the CSV
import can never disagree: rows are checked by the same `check_contact` and applied by the
same `apply_contacts`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from campaign_engine.audience.consent import record_consent
from campaign_engine.audience.contactrows import ContactRow, check_contact
from campaign_engine.audience.csvfile import RowRejected
from campaign_engine.audience.imports import ImportResult, apply_contacts, owner_conflict
from campaign_engine.store.db import Database

__all__ = ["RowProblem", "UpsertOutcome", "upsert_contacts"]


@dataclass(frozen=True)
class RowProblem:
    """Why a contact was rejected, or what was changed or is worth knowing about one applied."""

    index: int  # position in the request's list
    field: str
    reason: str


@dataclass
class UpsertOutcome:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    applied: bool = True  # False when strict and a row was rejected
    rejected: list[RowProblem] = field(default_factory=list)
    warnings: list[RowProblem] = field(default_factory=list)  # applied, but worth a look


def upsert_contacts(
    db: Database,
    rows: Sequence[Mapping[str, object]],
    now: datetime,
    source: str,
    strict: bool = False,
) -> UpsertOutcome:
    """Validate every row, then upsert the valid ones in one transaction (all or none if strict)."""
    outcome = UpsertOutcome()
    valid: list[ContactRow] = []
    first: dict[str, tuple[int, ContactRow]] = {}
    owners: dict[str, tuple[int, str]] = {}  # account -> the first row naming its owner
    for index, values in enumerate(rows):
        try:
            row = _parse(index, values, outcome.warnings)
        except RowRejected as exc:
            outcome.rejected.append(RowProblem(index, exc.field, exc.reason))
            continue
        if row.owner_email:
            named = owners.setdefault(row.account, (index, row.owner_email))
            if named[1] != row.owner_email:
                reason = owner_conflict(row.account, named[1], f"at index {named[0]}")
                outcome.warnings.append(RowProblem(index, "owner_email", reason))
                row = replace(row, owner_email=named[1])
        earlier = first.get(row.email)
        if earlier is None:
            first[row.email] = (index, row)
            valid.append(row)
        elif _same(earlier[1], row):
            continue  # an exact repeat, harmless (as in a CSV)
        else:
            reason = f"{row.email} already appears at index {earlier[0]} with other values"
            outcome.rejected.append(RowProblem(index, "email", reason))
    if (strict and outcome.rejected) or not valid:
        outcome.applied = not outcome.rejected
        return outcome
    result = ImportResult(file=source)
    with db.session() as session:
        apply_contacts(session, valid, now, result)
        outcome.warnings += [RowProblem(w.line, w.field, w.reason) for w in result.warnings]
        record_consent(session, [(r.email, r.consent) for r in valid], source, now)
    outcome.created, outcome.updated, outcome.unchanged = (
        result.created,
        result.updated,
        result.unchanged,
    )
    return outcome


def _parse(index: int, values: Mapping[str, object], warnings: list[RowProblem]) -> ContactRow:
    text = {key: "" if value is None else str(value) for key, value in values.items()}
    checked = check_contact(text, index, "api")
    warnings += [RowProblem(index, w.field, w.reason) for w in checked.warnings]
    if checked.row is None:
        assert checked.error is not None
        raise RowRejected(checked.error.field, checked.error.reason)
    return checked.row


def _same(a: ContactRow, b: ContactRow) -> bool:
    return {**a.__dict__, "line": 0} == {**b.__dict__, "line": 0}
