"""Applying an exclusion upload with its audit trail, and the campaigns' exclusion deadlines."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, col, select

from campaign_engine.audience.csvfile import Progress, open_csv
from campaign_engine.audience.exclusion_file import (
    EXCLUSION_ALIASES,
    EXCLUSION_COLUMNS,
    AlreadySent,
    DeadlineStatus,
    ExcludedContact,
    ExclusionEntry,
    ExclusionResult,
    Reverted,
    is_header,
    read_entries,
)
from campaign_engine.audience.imports import chunks
from campaign_engine.core.errors import InvalidInput, NotFound
from campaign_engine.core.kinds import EnrollmentStatus, MessageState, UploadState
from campaign_engine.store.db import Database
from campaign_engine.store.models import (
    Account,
    Campaign,
    Contact,
    Enrollment,
    Exclusion,
    ExclusionAudit,
    ExclusionDeadline,
    Message,
)
from campaign_engine.store.queries import campaign_by_name
from campaign_engine.store.upload_tables import ExclusionUpload

__all__ = [
    "apply_entries",
    "apply_preview",
    "deadline_statuses",
    "exclude_file",
    "is_late",
    "revert_upload",
    "set_deadline",
]

_CHUNK_ROWS = 500


def is_late(deadline: date, now: datetime, timezone: str) -> bool:
    """True once the deadline day is over in the campaign's time zone."""
    return now.astimezone(ZoneInfo(timezone)).date() > deadline


def exclude_file(
    db: Database,
    path: Path,
    now: datetime,
    campaign: str | None = None,
    by: str = "",
    dry_run: bool = False,
    strict: bool = False,
    encoding: str | None = None,
    progress: Progress | None = None,
    name: str | None = None,
) -> ExclusionResult:
    """Record the file's exclusions (one campaign or all); re-uploading adds nothing twice.

    `name` is what reports and the audit trail call the file (default: its path), e.g. the
    name of a web upload stored under a temporary path.
    """
    csv_file = open_csv(path, EXCLUSION_ALIASES, EXCLUSION_COLUMNS, encoding, is_header, name)
    result = ExclusionResult(file=csv_file.name, campaign=campaign, dry_run=dry_run)
    csv_file.fill(result)
    with Session(db.engine, expire_on_commit=False) as session:
        target = campaign_by_name(session, campaign) if campaign else None
        result.deadlines = deadline_statuses(session, now, target.id if target else None)
    if strict:  # validate the whole file first; a scratch result takes the counts
        probe = ExclusionResult(file=result.file, campaign=campaign)
        for _ in read_entries(csv_file, probe, None):
            pass
        if probe.rejected:
            result.rejected = probe.rejected
            result.applied = False
            return result
    campaign_id = target.id if target else None
    with Session(db.engine, expire_on_commit=False) as session:
        upload = ExclusionUpload(
            file=result.file, campaign_id=campaign_id, state=UploadState.APPLIED,
            created_by=by, created_at=now, applied_by=by, applied_at=now,
        )  # fmt: skip
        if not dry_run:
            session.add(upload)
            session.flush()
        contacts: set[int] = set()
        entries: list[ExclusionEntry] = []
        for chunk in chunks(read_entries(csv_file, result, progress), _CHUNK_ROWS):
            entries.extend(chunk)
            apply_entries(session, chunk, campaign_id, by, now, result, contacts, upload.id)
        result.contacts_excluded = len(contacts)
        result.excluded = _contacts_of(session, contacts)
        upload.rows, upload.added = result.rows, result.added
        if dry_run:  # what applying would do is known: keep only the entries, for `apply`
            session.rollback()
            result.applied = False
            upload.state, upload.applied_by, upload.applied_at, upload.added = (
                UploadState.PREVIEW,
                None,
                None,
                0,
            )
            upload.entries_json = json.dumps([_entry_json(e) for e in entries])
            session.add(upload)
        session.commit()
    result.upload_id = upload.id
    return result


def apply_preview(db: Database, upload_id: int, by: str, now: datetime) -> ExclusionResult:
    """Apply a saved preview as it was read (no second upload); what it matches is counted now."""
    with Session(db.engine, expire_on_commit=False) as session:
        upload = _claim(session, upload_id, UploadState.PREVIEW, UploadState.APPLIED)
        campaign = session.get(Campaign, upload.campaign_id) if upload.campaign_id else None
        result = ExclusionResult(
            file=upload.file, campaign=campaign.name if campaign else None, rows=upload.rows
        )
        result.upload_id = upload_id
        contacts: set[int] = set()
        entries = [ExclusionEntry(*e) for e in json.loads(upload.entries_json)]
        for chunk in chunks(entries, _CHUNK_ROWS):
            apply_entries(session, chunk, upload.campaign_id, by, now, result, contacts, upload_id)
        result.contacts_excluded = len(contacts)
        result.excluded = _contacts_of(session, contacts)
        result.deadlines = deadline_statuses(session, now, upload.campaign_id)
        upload.applied_by, upload.applied_at, upload.added = by, now, result.added
        upload.entries_json = "[]"  # applied: the exclusions themselves name their file:line
        session.add(upload)
        session.commit()
    return result


def revert_upload(db: Database, upload_id: int, by: str, reason: str, now: datetime) -> Reverted:
    """Lift every exclusion an applied upload recorded that is still active, audited with who
    and why; ones lifted before stay as they were."""
    reason = " ".join(reason.split())
    if not reason:
        raise InvalidInput("say why the upload is reverted (--reason): it goes in the audit log")
    with Session(db.engine, expire_on_commit=False) as session:
        upload = _claim(session, upload_id, UploadState.APPLIED, UploadState.REVERTED)
        upload.reverted_by, upload.reverted_at, upload.revert_reason = by, now, reason
        session.add(upload)
        ids = list(
            session.exec(
                select(Exclusion.id).where(
                    Exclusion.upload_id == upload_id, col(Exclusion.removed_at).is_(None)
                )
            ).all()
        )
        why = f"revert of upload {upload_id} ({upload.file}): {reason}"
        for chunk in chunks(ids, _CHUNK_ROWS):
            session.execute(
                sa.update(Exclusion)
                .where(col(Exclusion.id).in_(chunk))
                .values(removed_at=now, removed_by=by)
            )
            session.execute(
                sa.insert(ExclusionAudit),
                [
                    {"exclusion_id": i, "action": "remove", "actor": by, "reason": why, "at": now}
                    for i in chunk
                ],
            )
        session.commit()
    return Reverted(upload_id, upload.file, len(ids), upload.added - len(ids))


def _claim(session: Session, upload_id: int, state: str, to: str) -> ExclusionUpload:
    """Move the upload from `state` to `to`, or say why not (once only, even when two people
    press the button at once)."""
    moved = session.execute(
        sa.update(ExclusionUpload)
        .where(col(ExclusionUpload.id) == upload_id, col(ExclusionUpload.state) == state)
        .values(state=to)
    )
    upload = session.get(ExclusionUpload, upload_id)
    if upload is None:
        raise NotFound(f"no exclusion upload {upload_id}; see `campaign exclusions uploads`")
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        raise InvalidInput(
            f"exclusion upload {upload_id} ({upload.file}) is {upload.state}, not {state}"
        )
    session.refresh(upload)
    return upload


def _entry_json(entry: ExclusionEntry) -> list[object]:
    return [entry.line, entry.email, entry.domain, entry.reason]


def _contacts_of(session: Session, ids: set[int]) -> list[ExcludedContact]:
    found: list[ExcludedContact] = []
    for chunk in chunks(sorted(ids), _CHUNK_ROWS):
        found.extend(
            ExcludedContact(email, f"{first} {last}".strip(), account)
            for email, first, last, account in session.exec(
                select(Contact.email, Contact.first_name, Contact.last_name, Account.name)
                .join(Account, col(Account.id) == Contact.account_id)
                .where(col(Contact.id).in_(chunk))
            ).all()
        )
    return sorted(found, key=lambda c: c.email)


def deadline_statuses(
    session: Session, now: datetime, campaign_id: int | None = None
) -> list[DeadlineStatus]:
    """Deadlines of one campaign, or of every campaign still sending when None; `passed` as of now.

    A finished campaign (no active enrollment left) has nothing a late upload could stop,
    so a global upload does not warn about it.
    """
    query = select(ExclusionDeadline, Campaign).join(
        Campaign, col(Campaign.id) == ExclusionDeadline.campaign_id
    )
    if campaign_id is not None:
        query = query.where(ExclusionDeadline.campaign_id == campaign_id)
    else:
        sending = select(Enrollment.campaign_id).where(Enrollment.status == EnrollmentStatus.ACTIVE)
        query = query.where(col(Campaign.id).in_(sending))
    return [
        DeadlineStatus(c.name, d.deadline, is_late(d.deadline, now, c.timezone))
        for d, c in session.exec(query.order_by(col(Campaign.name))).all()
    ]


def set_deadline(db: Database, campaign: str, deadline: date, by: str, now: datetime) -> None:
    """Set (or move) the campaign's exclusion deadline."""
    with db.session() as session:
        target = campaign_by_name(session, campaign)
        row = session.exec(
            select(ExclusionDeadline).where(ExclusionDeadline.campaign_id == target.id)
        ).first()
        if row is None:
            assert target.id is not None
            row = ExclusionDeadline(campaign_id=target.id, deadline=deadline)
        row.deadline, row.set_by, row.set_at = deadline, by, now
        session.add(row)


def apply_entries(
    session: Session,
    entries: list[ExclusionEntry],
    campaign_id: int | None,
    by: str,
    now: datetime,
    result: ExclusionResult,
    contacts: set[int],
    upload_id: int | None = None,
) -> None:
    """Record each entry not already active (with its audit row) and note what it matches."""
    active = _active_targets(session, entries, campaign_id)
    matched = _matching_contacts(session, entries)
    for entry in entries:
        if not matched.get(entry.target):
            result.unmatched.append(entry)
        if entry.target in active:
            result.already_active += 1
            continue
        exclusion = Exclusion(
            email=entry.email,
            domain=entry.domain,
            campaign_id=campaign_id,
            reason=entry.reason,
            source_file=result.file,
            source_line=entry.line,
            created_by=by,
            created_at=now,
            upload_id=upload_id,
        )
        session.add(exclusion)
        session.flush()
        assert exclusion.id is not None
        session.add(
            ExclusionAudit(
                exclusion_id=exclusion.id,
                action="add",
                actor=by,
                reason=entry.reason,
                source_file=result.file,
                source_line=entry.line,
                at=now,
            )
        )
        result.added += 1
    new = {cid for ids in matched.values() for cid in ids} - contacts
    contacts.update(new)
    result.already_sent.extend(_sent_to(session, new, campaign_id))
    session.flush()


def _active_targets(
    session: Session, entries: list[ExclusionEntry], campaign_id: int | None
) -> set[str]:
    emails = [e.email for e in entries if e.email]
    domains = [e.domain for e in entries if e.domain]
    scope = (
        Exclusion.campaign_id == campaign_id
        if campaign_id is not None
        else col(Exclusion.campaign_id).is_(None)
    )
    rows = session.exec(
        select(Exclusion.email, Exclusion.domain).where(
            col(Exclusion.removed_at).is_(None),
            scope,
            sa.or_(col(Exclusion.email).in_(emails), col(Exclusion.domain).in_(domains)),
        )
    ).all()
    return {email or f"@{domain}" for email, domain in rows}


def _matching_contacts(session: Session, entries: list[ExclusionEntry]) -> dict[str, set[int]]:
    matched: dict[str, set[int]] = {}
    emails = [e.email for e in entries if e.email]
    for contact_id, email in session.exec(
        select(Contact.id, Contact.email).where(col(Contact.email).in_(emails))
    ).all():
        matched.setdefault(email, set()).add(contact_id or 0)
    for entry in entries:
        if entry.domain:
            ids = session.exec(
                select(Contact.id).where(
                    col(Contact.email).endswith(f"@{entry.domain}", autoescape=True)
                )
            ).all()
            matched[entry.target] = {i for i in ids if i is not None}
    return matched


def _sent_to(
    session: Session, contact_ids: Iterable[int], campaign_id: int | None
) -> list[AlreadySent]:
    ids = sorted(contact_ids)
    if not ids:
        return []
    query = (
        select(Contact.email, Campaign.name, Message.step, Message.subject, Message.sent_at)  # type: ignore[call-overload]
        .join(Contact, col(Contact.id) == Message.contact_id)
        .join(Campaign, col(Campaign.id) == Message.campaign_id)
        .where(col(Message.contact_id).in_(ids), Message.state == MessageState.SENT)
        .order_by(col(Contact.email), col(Message.sent_at))
    )
    if campaign_id is not None:
        query = query.where(Message.campaign_id == campaign_id)
    return [AlreadySent(*row) for row in session.exec(query).all()]
