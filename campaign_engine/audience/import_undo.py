"""Contact imports that can be undone: each import's record, the contacts it created and the
field values it changed (before and after), and reverting one as a whole."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, SQLModel, col, func, select

from campaign_engine.core.errors import InvalidInput, NotFound
from campaign_engine.core.kinds import UploadState
from campaign_engine.store.bulk import insert_rows
from campaign_engine.store.db import Database
from campaign_engine.store.models import Contact
from campaign_engine.store.upload_tables import ContactImport, ContactImportChange

__all__ = [
    "ImportReverted",
    "ImportView",
    "finish_import",
    "import_details",
    "list_imports",
    "record_changes",
    "revert_import",
    "start_import",
]

_CHUNK = 500
_CHANGES: sa.Table = ContactImportChange.__table__  # type: ignore[attr-defined]
Changed = dict[str, tuple[object, object]]  # field -> (before, after)


@dataclass(frozen=True)
class ImportView:
    """One contact import as `campaign imports list` shows it."""

    id: int
    file: str
    state: str
    rows: int
    created: int
    updated: int
    created_by: str
    created_at: datetime | None
    reverted_by: str | None
    reverted_at: datetime | None
    revert_reason: str | None


@dataclass
class ImportReverted:
    """What reverting an import did, and what it kept and why."""

    import_id: int
    file: str
    restored: int = 0  # contacts whose fields went back to their values before the import
    removed: int = 0  # contacts the import created, deleted
    kept: list[tuple[str, str]] = field(default_factory=list)  # (email, why it was kept)


def start_import(session: Session, file: str, by: str, now: datetime) -> int:
    """Record that an import of `file` begins; its changes are recorded as it goes."""
    row = ContactImport(file=file, state=UploadState.APPLIED, created_by=by, created_at=now)
    session.add(row)
    session.flush()
    assert row.id is not None
    return row.id


def record_changes(
    session: Session,
    import_id: int,
    created: Iterable[int],
    changed: Mapping[int, Changed],
) -> None:
    """The contacts one chunk of the import created, and the fields it changed in others."""
    rows = [
        {"import_id": import_id, "contact_id": cid, "created": True, "previous_json": "{}"}
        for cid in created
    ] + [
        {"import_id": import_id, "contact_id": cid, "created": False,
         "previous_json": json.dumps(fields)}
        for cid, fields in changed.items()
    ]  # fmt: skip
    insert_rows(session.connection(), _CHANGES, rows)  # one stream: an import records many


def finish_import(session: Session, import_id: int, rows: int, created: int, updated: int) -> None:
    session.execute(
        sa.update(ContactImport)
        .where(col(ContactImport.id) == import_id)
        .values(rows=rows, created=created, updated=updated)
    )


def import_details(session: Session, import_id: int) -> Iterator[tuple[str, str, str]]:
    """(outcome, email, detail) of each contact the import created or changed, in file order:
    "created", or "updated" with each changed field as `field: before -> after`."""
    rows = session.exec(
        select(ContactImportChange, Contact.email)
        .outerjoin(Contact, col(Contact.id) == ContactImportChange.contact_id)
        .where(ContactImportChange.import_id == import_id)
        .order_by(col(ContactImportChange.id))
    )
    for change, email in rows:
        if change.created:
            yield "created", email or "", ""
            continue
        fields: dict[str, list[object]] = json.loads(change.previous_json)
        detail = "; ".join(
            f"{name}: {before!r} -> {after!r}" for name, (before, after) in fields.items()
        )
        yield "updated", email or "", detail


def list_imports(session: Session, limit: int, offset: int = 0) -> tuple[list[ImportView], int]:
    """Contact imports newest first, a page of them, and how many there are."""
    total = session.exec(select(func.count()).select_from(ContactImport)).one()
    rows = session.exec(
        select(ContactImport).order_by(col(ContactImport.id).desc()).offset(offset).limit(limit)
    ).all()
    return [
        ImportView(i.id or 0, i.file, i.state, i.rows, i.created, i.updated, i.created_by,
                   i.created_at, i.reverted_by, i.reverted_at, i.revert_reason)
        for i in rows
    ], total  # fmt: skip


def revert_import(
    db: Database, import_id: int, by: str, reason: str, now: datetime
) -> ImportReverted:
    """Put back the field values the import changed (where nothing changed them since), and
    delete the contacts it created that nothing references; say what was kept and why."""
    reason = " ".join(reason.split())
    if not reason:
        raise InvalidInput("say why the import is reverted (--reason): it is kept with the import")
    with db.session() as session:
        record = _claim(session, import_id)
        record.reverted_by, record.reverted_at, record.revert_reason = by, now, reason
        session.add(record)
        done = ImportReverted(import_id, record.file)
        changes = session.exec(
            select(ContactImportChange).where(ContactImportChange.import_id == import_id)
        ).all()
        updated = [c for c in changes if not c.created]
        created = [c.contact_id for c in changes if c.created]
        for start in range(0, len(updated), _CHUNK):
            _restore(session, updated[start : start + _CHUNK], now, done)
        for start in range(0, len(created), _CHUNK):
            _remove(session, created[start : start + _CHUNK], done)
    return done


def _claim(session: Session, import_id: int) -> ContactImport:
    moved = session.execute(
        sa.update(ContactImport)
        .where(col(ContactImport.id) == import_id, col(ContactImport.state) == UploadState.APPLIED)
        .values(state=UploadState.REVERTED)
    )
    record = session.get(ContactImport, import_id)
    if record is None:
        raise NotFound(f"no contact import {import_id}; see `campaign imports list`")
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        raise InvalidInput(f"contact import {import_id} ({record.file}) is already reverted")
    session.refresh(record)
    return record


def _restore(
    session: Session, changes: list[ContactImportChange], now: datetime, done: ImportReverted
) -> None:
    contacts = {
        c.id: c
        for c in session.exec(
            select(Contact).where(col(Contact.id).in_([c.contact_id for c in changes]))
        )
    }
    for change in changes:
        contact = contacts.get(change.contact_id)
        if contact is None:
            continue  # erased since (privacy): nothing to put back
        fields: dict[str, list[object]] = json.loads(change.previous_json)
        moved = [name for name, (_, after) in fields.items() if getattr(contact, name) != after]
        if moved:
            done.kept.append((contact.email, f"changed since the import: {', '.join(moved)}"))
            continue
        for name, (before, _) in fields.items():
            setattr(contact, name, before)
        contact.updated_at = now
        session.add(contact)
        done.restored += 1
    session.flush()


def _remove(session: Session, ids: list[int], done: ImportReverted) -> None:
    used = _referenced(session, ids)
    emails = dict(
        session.exec(select(Contact.id, Contact.email).where(col(Contact.id).in_(ids))).all()
    )
    for contact_id, why in sorted(used.items()):
        if contact_id in emails:
            done.kept.append((emails[contact_id], f"created by the import, kept: has {why}"))
    gone = [i for i in ids if i in emails and i not in used]
    if gone:
        session.execute(sa.delete(Contact).where(col(Contact.id).in_(gone)))
        done.removed += len(gone)


def _referenced(session: Session, ids: list[int]) -> dict[int, str]:
    """Contact id -> the records that name it ("messages, enrollments"), for those named."""
    found: dict[int, list[str]] = {}
    for table, column in _references():
        for (contact_id,) in session.execute(
            sa.select(column).where(column.in_(ids)).distinct()
        ).all():
            found.setdefault(contact_id, []).append(table)
    return {cid: ", ".join(sorted(set(names))) for cid, names in found.items()}


def _references() -> Iterator[tuple[str, sa.Column[int]]]:
    """Every column with a foreign key to contact.id, as (table name, column)."""
    contact_id = Contact.__table__.c.id  # type: ignore[attr-defined]
    for table in SQLModel.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column is contact_id:
                yield table.name, fk.parent
