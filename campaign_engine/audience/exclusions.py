"""Ops exclusions by CSV upload: parse, record with an audit trail, report what they stop."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, col, select

from campaign_engine.audience.contactrows import CONTACT_ALIASES, CONTACT_COLUMNS, clean_email
from campaign_engine.audience.csvfile import (
    CsvFile,
    CsvRow,
    FileReport,
    Progress,
    RowError,
    RowRejected,
    fold_text,
    open_csv,
)
from campaign_engine.audience.imports import chunks
from campaign_engine.core.errors import NotFound
from campaign_engine.core.kinds import EnrollmentStatus, MessageState
from campaign_engine.store.db import Database
from campaign_engine.store.models import (
    Campaign,
    Contact,
    Enrollment,
    Exclusion,
    ExclusionAudit,
    ExclusionDeadline,
    Message,
)
from campaign_engine.store.queries import campaign_by_name

__all__ = [
    "EXCLUDE_NO",
    "EXCLUDE_YES",
    "AlreadySent",
    "DeadlineStatus",
    "ExclusionEntry",
    "ExclusionResult",
    "ExclusionView",
    "deadline_statuses",
    "exclude_file",
    "exclusion_view",
    "is_late",
    "list_exclusions",
    "parse_target",
    "remove_exclusion",
    "set_deadline",
]

EXCLUDE_YES = frozenset({"y", "yes", "x", "true", "1"})
EXCLUDE_NO = frozenset({"", "n", "no", "false", "0"})
EXCLUSION_ALIASES = {
    **{k: v for k, v in CONTACT_ALIASES.items() if v == "email"},
    "exclude?": "exclude",
    "excluded": "exclude",
    "exclusion": "exclude",
    "exclusion_reason": "reason",
    "comment": "reason",
    "comments": "reason",
    "note": "reason",
    "notes": "reason",
    "account_domain": "domain",
    "email_domain": "domain",
}
_COLUMNS = frozenset({"email", "domain", "exclude", "reason", "value"}) | {
    c for c in CONTACT_COLUMNS if c != "email"
}  # a target list carries the contact columns too: not worth a note
_CLEANED = "control characters removed (line breaks and tabs became spaces)"
_DOMAIN = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$")
_REASON_LIMIT = 500  # characters
_CHUNK_ROWS = 500


@dataclass(frozen=True)
class ExclusionEntry:
    """One row to exclude: an address or a whole domain, with the rep's reason."""

    line: int
    email: str | None
    domain: str | None
    reason: str

    @property
    def target(self) -> str:
        return self.email or f"@{self.domain}"


@dataclass(frozen=True)
class AlreadySent:
    """An email that went out before the exclusion arrived."""

    email: str
    campaign: str
    step: int
    subject: str
    sent_at: datetime | None


@dataclass(frozen=True)
class DeadlineStatus:
    campaign: str
    deadline: date
    passed: bool


@dataclass
class ExclusionResult(FileReport):
    """What an upload did (or would do, with --dry-run) and every rejected row."""

    campaign: str | None = None
    dry_run: bool = False
    applied: bool = True  # False when --strict refused the file or --dry-run
    added: int = 0  # new exclusion records
    already_active: int = 0  # rows that repeat an active exclusion
    kept_rows: int = 0  # rows the rep marked "keep" (blank/n/no)
    duplicate_rows: int = 0  # the same target again in this file
    contacts_excluded: int = 0  # distinct known contacts these rows exclude
    unmatched: list[ExclusionEntry] = field(default_factory=list)  # no contact (yet)
    already_sent: list[AlreadySent] = field(default_factory=list)
    deadlines: list[DeadlineStatus] = field(default_factory=list)

    @property
    def late(self) -> list[DeadlineStatus]:
        return [d for d in self.deadlines if d.passed]


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


def parse_target(value: str) -> tuple[str | None, str | None]:
    """'Ada@X.example' -> ('ada@x.example', None); '@x.example' or 'x.example' -> (None, 'x.example').

    Raises ValueError saying what is wrong.
    """
    value = value.strip()
    if value.startswith("@") or ("@" not in value and value):
        domain = value.lstrip("@").strip().lower().rstrip(".")
        if not _DOMAIN.match(domain):
            raise ValueError(f"{value!r} is neither an address nor a domain like acme.example")
        return None, domain
    return clean_email(value), None


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
    csv_file = open_csv(path, EXCLUSION_ALIASES, _COLUMNS, encoding, _is_header, name)
    result = ExclusionResult(file=csv_file.name, campaign=campaign, dry_run=dry_run)
    csv_file.fill(result)
    with Session(db.engine, expire_on_commit=False) as session:
        target = campaign_by_name(session, campaign) if campaign else None
        result.deadlines = deadline_statuses(session, now, target.id if target else None)
    if strict:  # validate the whole file first; a scratch result takes the counts
        probe = ExclusionResult(file=result.file, campaign=campaign)
        for _ in _entries(csv_file, probe, None):
            pass
        if probe.rejected:
            result.rejected = probe.rejected
            result.applied = False
            return result
    campaign_id = target.id if target else None
    with Session(db.engine, expire_on_commit=False) as session:
        contacts: set[int] = set()
        for chunk in chunks(_entries(csv_file, result, progress), _CHUNK_ROWS):
            _apply(session, chunk, campaign_id, by, now, result, contacts)
        result.contacts_excluded = len(contacts)
        if dry_run:
            session.rollback()
            result.applied = False
        else:
            session.commit()
    return result


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


# -- parsing -------------------------------------------------------------------------------


def _entries(
    csv_file: CsvFile, result: ExclusionResult, progress: Progress | None
) -> Iterator[ExclusionEntry]:
    seen: set[str] = set()
    for row in csv_file.records(EXCLUSION_ALIASES, progress):
        try:
            entry = _parse(row, result)
        except RowRejected as exc:
            result.rejected.append(RowError(result.file, row.line, exc.field, exc.reason))
            continue
        if entry is None:
            result.kept_rows += 1
        elif entry.target in seen:
            result.duplicate_rows += 1
        else:
            seen.add(entry.target)
            yield entry


def _is_header(record: list[str]) -> bool:
    first = next((cell for cell in record if cell.strip()), "")
    try:
        parse_target(first)
    except ValueError:
        return True
    return False


def _parse(row: CsvRow, result: ExclusionResult) -> ExclusionEntry | None:
    values = row.values
    if "exclude" in values:
        flag = values["exclude"].strip().lower()
        if flag in EXCLUDE_NO:
            return None
        if flag not in EXCLUDE_YES:
            raise RowRejected(
                "exclude", f"{values['exclude']!r} is not y/yes/x/true/1 (exclude) or blank/n/no"
            )
    reason, stripped = fold_text(values.get("reason", values.get("extra_2", "")))
    if stripped:
        result.warnings.append(RowError(result.file, row.line, "reason", _CLEANED))
    if len(reason) > _REASON_LIMIT:
        raise RowRejected("reason", f"is longer than {_REASON_LIMIT} characters")
    for name in ("email", "domain", "value"):
        value = values.get(name, "").strip()
        if not value:
            continue
        try:
            if name == "email":
                return ExclusionEntry(row.line, _email_cell(value), None, reason)
            email, domain = parse_target(value)
        except ValueError as exc:
            raise RowRejected(name, str(exc)) from None
        if name == "domain" and email is not None:
            raise RowRejected(name, f"{value!r} is an address, not a domain")
        return ExclusionEntry(row.line, email, domain, reason)
    raise RowRejected(
        "email",
        "is empty (expected an email or domain column, or a single column of addresses)",
    )


def _email_cell(value: str) -> str:
    """An address from the email column; a domain there gets a hint at the domain column."""
    if value.startswith("@") or "@" not in value:
        try:
            _, domain = parse_target(value)
        except ValueError:
            domain = None
        if domain is not None:
            raise ValueError(
                f"{value!r} is a domain, not an address: put domains in a 'domain' column "
                "(or a file with a single column of addresses and domains)"
            )
    return clean_email(value)


# -- applying ------------------------------------------------------------------------------


def _apply(
    session: Session,
    entries: list[ExclusionEntry],
    campaign_id: int | None,
    by: str,
    now: datetime,
    result: ExclusionResult,
    contacts: set[int],
) -> None:
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
