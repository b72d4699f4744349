"""Contact and rep imports: check the file, validate every row, apply the valid ones.

Every data row is accounted for: created + updated + unchanged + rejected = rows. A file-level
problem (see csvfile) raises before anything is applied.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlmodel import Session, col, select

from campaign_engine.audience.accounts import record_assignment
from campaign_engine.audience.consent import record_consent
from campaign_engine.audience.contactrows import (
    CONTACT_ALIASES,
    CONTACT_COLUMNS,
    ContactRow,
    check_contact,
    clean_email,
    clean_text,
)
from campaign_engine.audience.csvfile import (
    CsvFile,
    FileReport,
    Progress,
    RowError,
    RowRejected,
    open_csv,
)
from campaign_engine.audience.import_undo import (
    Changed,
    finish_import,
    record_changes,
    start_import,
)
from campaign_engine.audience.seenrows import SeenRows
from campaign_engine.store.bulk import insert_rows
from campaign_engine.store.db import Database
from campaign_engine.store.models import Account, Contact, Rep

__all__ = [
    "CONTACT_ALIASES",
    "ContactRow",
    "ImportResult",
    "apply_contacts",
    "chunks",
    "clean_email",
    "import_contacts",
    "import_reps",
    "owner_conflict",
]

# the marketing target list also carries `exclude` and `reason` (read by `campaign exclude`)
_TARGET_LIST_COLUMNS = CONTACT_COLUMNS | {"exclude", "reason"}
_REP_ALIASES = {"rep_email": "email", "time_zone": "timezone"}
_REP_COLUMNS = frozenset({"email", "name", "title", "timezone"})
_CHUNK_ROWS = 500  # contacts applied (and committed) per transaction
_HASH_MASK = (1 << 64) - 1
_CONTACTS: sa.Table = Contact.__table__  # type: ignore[attr-defined]
T = TypeVar("T")


@dataclass
class ImportResult(FileReport):
    """Counts of what an import did, every rejected row, warnings and notes."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    applied: bool = True  # False when --strict refused the file
    import_id: int | None = None  # the record `campaign imports revert` undoes
    unknown_owners: set[str] = field(default_factory=set)  # warned about once each
    kept_owners: set[str] = field(default_factory=set)  # accounts warned about keeping their rep


def import_contacts(
    db: Database,
    path: Path,
    now: datetime,
    encoding: str | None = None,
    strict: bool = False,
    progress: Progress | None = None,
    name: str | None = None,
    by: str = "",
) -> ImportResult:
    """Upsert contacts (by lower-cased email) and their accounts; idempotent. The import is
    recorded (`result.import_id`) with what it created and changed, so it can be reverted.

    Streams the file and commits every `_CHUNK_ROWS` valid rows, so memory stays bounded.
    With `strict`, the whole file is validated first and nothing is applied if a row fails.
    An owner_email only fills an account that has no rep: a known rep is assigned (and
    logged), an unknown one is a warning and the account waits for that rep (no rep is
    invented) until `import reps` brings the address. An account that has a rep keeps it
    (a warning says how to move it); rows of one account that disagree on the owner are
    rejected.
    """
    csv_file = open_csv(path, CONTACT_ALIASES, _TARGET_LIST_COLUMNS, encoding, name=name)
    result = ImportResult(file=csv_file.name)
    csv_file.fill(result)
    if strict:
        probe = ImportResult(file=csv_file.name)
        for _ in _validated(csv_file, None, probe):
            pass
        if probe.rejected:
            result.rejected, result.warnings, result.applied = probe.rejected, probe.warnings, False
            return result
    with db.session() as session:
        result.import_id = start_import(session, result.file, by, now)
    for chunk in chunks(_validated(csv_file, progress, result), _CHUNK_ROWS):
        with db.session() as session:
            apply_contacts(session, chunk, now, result)
            record_consent(session, [(r.email, r.consent) for r in chunk], path.name, now)
    with db.session() as session:
        finish_import(session, result.import_id, result.rows, result.created, result.updated)
    return result


def import_reps(
    db: Database,
    path: Path,
    encoding: str | None = None,
    name: str | None = None,
    now: datetime | None = None,
) -> ImportResult:
    """Upsert reps from `email,name,title,timezone`; accounts waiting for them get them."""
    now = now or datetime.now(UTC)
    csv_file = open_csv(path, _REP_ALIASES, _REP_COLUMNS, encoding, name=name)
    result = ImportResult(file=csv_file.name)
    csv_file.fill(result)
    with db.session() as session:
        for row in csv_file.records(_REP_ALIASES):
            try:
                email, wanted = _parse_rep(row.values, (result.file, row.line), result.warnings)
            except RowRejected as exc:
                result.rejected.append(RowError(result.file, row.line, exc.field, exc.reason))
                continue
            rep = session.exec(select(Rep).where(Rep.email == email)).first()
            if rep is None:
                rep = Rep(email=email, name=wanted["name"], title=wanted["title"])
                rep.timezone = wanted["timezone"]
                session.add(rep)
                result.created += 1
            elif _assign(rep, wanted):
                result.updated += 1
            else:
                result.unchanged += 1
            session.flush()
            _adopt_accounts(session, rep, f"import reps {Path(result.file).name}", now)
    return result


def _parse_rep(
    values: dict[str, str], where: tuple[str, int], warnings: list[RowError]
) -> tuple[str, dict[str, str]]:
    try:
        email = clean_email(values.get("email", ""))
    except ValueError as exc:
        raise RowRejected("email", str(exc)) from None
    timezone = values.get("timezone", "").strip() or "UTC"
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise RowRejected(
            "timezone", f"unknown time zone {timezone!r} (expected an IANA name like Europe/Paris)"
        ) from None
    name = clean_text(values, "name", where, warnings) or _name_from_email(email)
    title = clean_text(values, "title", where, warnings)
    return email, {"name": name, "title": title, "timezone": timezone}


def _name_from_email(email: str) -> str:
    """'dana.reyes@x' -> 'Dana Reyes': a rep listed in a reps file without a name."""
    local = email.split("@", 1)[0]
    return " ".join(part.capitalize() for part in local.replace("_", ".").split(".") if part)


def _adopt_accounts(session: Session, rep: Rep, actor: str, now: datetime) -> None:
    """Accounts whose owner_email named this rep before it existed get it now."""
    for account in session.exec(
        select(Account).where(Account.owner_email == rep.email, col(Account.rep_id).is_(None))
    ).all():
        record_assignment(session, account, rep, actor, now)


def _validated(
    csv_file: CsvFile, progress: Progress | None, result: ImportResult
) -> Iterator[ContactRow]:
    with SeenRows() as seen:
        for row in csv_file.records(CONTACT_ALIASES, progress):
            check = check_contact(row.values, row.line, result.file)
            result.warnings.extend(check.warnings)
            if check.row is None:
                assert check.error is not None
                result.rejected.append(check.error)
                continue
            parsed = check.row
            if parsed.owner_email:
                named = seen.first_owner(parsed.account, row.line, parsed.owner_email)
                if named is not None and named[1] != parsed.owner_email:
                    conflict = owner_conflict(parsed.account, named[1], f"in line {named[0]}")
                    result.warnings.append(RowError(result.file, row.line, "owner_email", conflict))
                    parsed = replace(parsed, owner_email=named[1])
            fingerprint = _fingerprint(parsed)
            earlier = seen.first(parsed.email, row.line, fingerprint)
            if earlier is None:
                yield parsed
            elif earlier[1] != fingerprint:
                result.rejected.append(
                    RowError(
                        result.file,
                        row.line,
                        "email",
                        f"{parsed.email} already appears on line {earlier[0]} with other values",
                    )
                )
            else:  # an exact duplicate row: harmless, changes nothing
                result.unchanged += 1


def owner_conflict(account: str, owner: str, where: str) -> str:
    """A row naming another owner for `account` than an earlier row (`where`): the contact is
    imported, the account keeps the owner named first (CRM exports often carry per-contact
    owners; one cell must not strip the account of its rep, nor the contact be left out)."""
    return (
        f"account {account} already owned by {owner} {where}: the contact is imported,"
        f" the account keeps {owner}"
    )


def _fingerprint(row: ContactRow) -> int:
    """A signed 64-bit hash of every value but the line (stable within one process)."""
    values = row.__dict__.copy()
    del values["line"]
    value = hash(tuple(values.values())) & _HASH_MASK
    return value - (1 << 64) if value >= 1 << 63 else value


def chunks(rows: Iterable[T], size: int) -> Iterator[list[T]]:
    """[1, 2, 3, 4, 5] by 2 -> [1, 2], [3, 4], [5]: apply a stream in bounded batches."""
    chunk: list[T] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def apply_contacts(
    session: Session, rows: list[ContactRow], now: datetime, result: ImportResult
) -> None:
    reps = _reps(session, rows)
    accounts = _accounts(session, rows, reps, result, now)
    existing = {
        c.email: c
        for c in session.exec(
            select(Contact).where(col(Contact.email).in_([r.email for r in rows]))
        )
    }
    new: list[dict[str, object]] = []
    changed: dict[int, Changed] = {}
    for row in rows:
        account = accounts[row.account]
        wanted = {
            "first_name": row.first_name,
            "last_name": row.last_name,
            "title": row.title,
            "account_id": account.id,
            "outreach_mode": row.outreach_mode,
        }
        if row.timezone:  # a file without zone data keeps the zone a contact has
            wanted["timezone"] = row.timezone
        contact = existing.get(row.email)
        if contact is None:
            new.append(
                {"email": row.email, "timezone": "", "created_at": now, "updated_at": now, **wanted}
            )
        else:
            before = {name: getattr(contact, name) for name in wanted}
            if _assign(contact, wanted):
                contact.updated_at = now
                result.updated += 1
                assert contact.id is not None
                changed[contact.id] = {
                    k: (v, wanted[k]) for k, v in before.items() if v != wanted[k]
                }
            else:
                result.unchanged += 1
    if new:  # a bulk insert: far fewer objects than one ORM instance per row
        insert_rows(session.connection(), _CONTACTS, new)
        result.created += len(new)
    session.flush()
    if result.import_id is not None:
        emails = [r["email"] for r in new]
        created = session.exec(select(Contact.id).where(col(Contact.email).in_(emails))).all()
        record_changes(session, result.import_id, [i for i in created if i], changed)


def _reps(session: Session, rows: list[ContactRow]) -> dict[str, Rep]:
    """The known reps the rows name (no rep is invented for an unknown owner)."""
    emails = {r.owner_email for r in rows if r.owner_email}
    return {r.email: r for r in session.exec(select(Rep).where(col(Rep.email).in_(emails)))}


def _accounts(
    session: Session,
    rows: list[ContactRow],
    reps: dict[str, Rep],
    result: ImportResult,
    now: datetime,
) -> dict[str, Account]:
    names = {r.account for r in rows}
    accounts = {
        a.name: a for a in session.exec(select(Account).where(col(Account.name).in_(names)))
    }
    wanted: dict[str, dict[str, object]] = {}
    owners: dict[str, ContactRow] = {}  # the rows of one account agree on it (checked above)
    for row in rows:  # the last row of an account wins, so a re-import changes nothing
        values = wanted.setdefault(row.account, {})
        values["segment"] = row.segment
        if row.employees is not None:
            values["employees"] = row.employees
        if row.owner_email:
            owners.setdefault(row.account, row)
    for name, values in wanted.items():
        account = accounts.get(name)
        if account is None:
            account = accounts[name] = Account(name=name)
        _assign(account, values)
        session.add(account)
    session.flush()
    for name, row in owners.items():
        _own(session, accounts[name], row, reps.get(row.owner_email or ""), result, now)
    session.flush()
    return accounts


def _own(
    session: Session,
    account: Account,
    row: ContactRow,
    rep: Rep | None,
    result: ImportResult,
    now: datetime,
) -> None:
    """The row's owner fills an account without a rep; it never replaces one."""
    owner = row.owner_email or ""
    if account.rep_id is None and rep is not None:
        record_assignment(session, account, rep, f"import {Path(result.file).name}:{row.line}", now)
    elif account.rep_id is None:
        account.owner_email = owner  # waits for that rep
        session.add(account)
        if owner not in result.unknown_owners:
            result.unknown_owners.add(owner)  # one warning per owner, at its first line
            reason = (
                f"no rep {owner} yet (this row and every later one naming it): the account "
                "gets this rep when `campaign import reps` lists the address"
            )
            result.warnings.append(RowError(result.file, row.line, "owner_email", reason))
    elif (rep is None or rep.id != account.rep_id) and account.name not in result.kept_owners:
        result.kept_owners.add(account.name)
        current = session.get(Rep, account.rep_id)
        keeper = current.email if current else f"rep {account.rep_id}"
        reason = (
            f"account {account.name} keeps its rep {keeper}; to give it to {owner}, run "
            f"`campaign accounts assign '{account.name}' {owner}`"
        )
        result.warnings.append(RowError(result.file, row.line, "owner_email", reason))


def _assign(obj: object, values: Mapping[str, object]) -> bool:
    changed = False
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed = True
    return changed
