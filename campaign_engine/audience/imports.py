"""Contact and rep imports: check the file, validate every row, apply the valid ones.

Every data row is accounted for: created + updated + unchanged + rejected = rows. A file-level
problem (see csvfile) raises before anything is applied.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlmodel import Session, col, select

from campaign_engine.audience.accounts import Handover, log_handovers, record_assignment
from campaign_engine.audience.consent import record_consent
from campaign_engine.audience.contactrows import (
    CONTACT_ALIASES,
    CONTACT_COLUMNS,
    ContactCheck,
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
from campaign_engine.store.bulk import among, insert_rows, new_ids
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
_ACCOUNTS: sa.Table = Account.__table__  # type: ignore[attr-defined]
_REPS: sa.Table = Rep.__table__  # type: ignore[attr-defined]
_CONTACT_FIELDS = ("email", "first_name", "last_name", "title", "account_id", "outreach_mode",
                   "timezone")  # fmt: skip
_ACCOUNT_FIELDS = ("id", "name", "employees", "segment", "rep_id", "owner_email")
_RepRow = sa.Row[int, str]  # (id, email)
_NEW_ACCOUNT: dict[str, Any] = {"id": None, "employees": None, "rep_id": None, "owner_email": None}
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
    (a warning says how to move it); rows of one account that name another owner than its
    first row all import, the account keeps the first owner and each such row is a warning.
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
    records = csv_file.records(CONTACT_ALIASES, progress)
    checked = (check_contact(row.values, row.line, result.file) for row in records)
    with SeenRows[str]() as owners, SeenRows[int]() as emails:
        for batch in chunks(checked, _CHUNK_ROWS):  # the duplicate checks: two statements each
            yield from _new_rows(batch, owners, emails, result)


def _new_rows(
    checks: list[ContactCheck], owners: SeenRows[str], emails: SeenRows[int], result: ImportResult
) -> Iterator[ContactRow]:
    """The batch's valid rows not seen before in the file; every other row is accounted for
    (rejected, or unchanged when it repeats an earlier row exactly), in file order."""
    valid = [check.row for check in checks if check.row is not None]
    named = iter(
        owners.firsts([(r.account, r.line, r.owner_email) for r in valid if r.owner_email])
    )
    conflicts: dict[int, str] = {}  # line -> the warning of a row naming another owner
    for index, parsed in enumerate(valid):
        first = next(named) if parsed.owner_email else None
        if first is not None and first[1] != parsed.owner_email:
            conflicts[parsed.line] = owner_conflict(parsed.account, first[1], f"in line {first[0]}")
            valid[index] = replace(parsed, owner_email=first[1])
    fingerprints = [_fingerprint(parsed) for parsed in valid]
    earlier = iter(
        emails.firsts([(r.email, r.line, f) for r, f in zip(valid, fingerprints, strict=True)])
    )
    rows = iter(zip(valid, fingerprints, strict=True))
    for check in checks:
        result.warnings.extend(check.warnings)
        if check.row is None:
            assert check.error is not None
            result.rejected.append(check.error)
            continue
        parsed, fingerprint = next(rows)
        seen_at = next(earlier)
        if parsed.line in conflicts:
            result.warnings.append(
                RowError(result.file, parsed.line, "owner_email", conflicts[parsed.line])
            )
        if seen_at is None:
            yield parsed
        elif seen_at[1] != fingerprint:
            reason = f"{parsed.email} already appears on line {seen_at[0]} with other values"
            result.rejected.append(RowError(result.file, parsed.line, "email", reason))
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
    value = hash(tuple(row.__dict__.values())[1:]) & _HASH_MASK  # the line is the first field
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
    """Upsert the rows' accounts and contacts, as plain rows (no ORM object per row)."""
    connection = session.connection()
    accounts = _accounts(connection, rows, result, now)
    c = _CONTACTS.c
    found = connection.execute(
        sa.select(c.id, *(c[name] for name in _CONTACT_FIELDS)).where(
            among(connection, c.email, [r.email for r in rows])
        )
    )
    existing = {contact.email: contact for contact in found}
    new: list[dict[str, object]] = []
    updates: list[dict[str, object]] = []
    changed: dict[int, Changed] = {}
    for row in rows:
        wanted = {
            "first_name": row.first_name,
            "last_name": row.last_name,
            "title": row.title,
            "account_id": accounts[row.account],
            "outreach_mode": row.outreach_mode,
            "timezone": row.timezone,
        }
        contact = existing.get(row.email)
        if contact is None:
            new.append({"email": row.email, **wanted, "created_at": now, "updated_at": now})
            continue
        if not row.timezone:  # a file without zone data keeps the zone a contact has
            wanted["timezone"] = contact.timezone
        before = contact._mapping
        fields = {k: (before[k], v) for k, v in wanted.items() if before[k] != v}
        if fields:
            changed[contact.id] = fields
            updates.append(_new_values(contact.id, {**wanted, "updated_at": now}))
            result.updated += 1
        else:
            result.unchanged += 1
    if updates:
        connection.execute(_updating(_CONTACTS, (*_CONTACT_FIELDS[1:], "updated_at")), updates)
    created = new_ids(connection, _CONTACTS, len(new))  # recorded without reading them back
    for contact_id, values in zip(created, new, strict=True):
        values["id"] = contact_id
    insert_rows(connection, _CONTACTS, new)
    result.created += len(new)
    if result.import_id is not None:
        record_changes(session, result.import_id, created, changed)


def _accounts(
    connection: sa.Connection, rows: list[ContactRow], result: ImportResult, now: datetime
) -> dict[str, int]:
    """Create or update the rows' accounts; name -> id."""
    wanted: dict[str, dict[str, object]] = {}
    owners: dict[str, ContactRow] = {}  # the rows of one account agree on it (checked above)
    for row in rows:  # the last row of an account wins, so a re-import changes nothing
        values = wanted.setdefault(row.account, {})
        values["segment"] = row.segment
        if row.employees is not None:
            values["employees"] = row.employees
        if row.owner_email:
            owners.setdefault(row.account, row)
    a = _ACCOUNTS.c
    found = {
        account.name: dict(account._mapping)
        for account in connection.execute(
            sa.select(*(a[name] for name in _ACCOUNT_FIELDS)).where(
                among(connection, a.name, list(wanted))
            )
        )
    }
    accounts: dict[str, dict[str, Any]] = {
        name: {**found.get(name, _NEW_ACCOUNT), "name": name, **values}
        for name, values in wanted.items()
    }
    reps = _reps(connection, owners.values())
    given = {  # account -> (rep, actor): the handovers to log once the account has an id
        name: handover
        for name, row in owners.items()
        if (
            handover := _own(
                connection, accounts[name], row, reps.get(row.owner_email or ""), result
            )
        )
    }
    new = [
        {k: v for k, v in values.items() if k != "id"}
        for values in accounts.values()
        if values["id"] is None
    ]
    if new:
        for account_id, name in connection.execute(
            sa.insert(_ACCOUNTS).returning(a.id, a.name), new
        ):
            accounts[name]["id"] = account_id
    updates = [
        _new_values(values["id"], {k: values[k] for k in _ACCOUNT_FIELDS[2:]})
        for name, values in accounts.items()
        if name in found and values != found[name]
    ]
    if updates:
        connection.execute(_updating(_ACCOUNTS, _ACCOUNT_FIELDS[2:]), updates)
    log_handovers(
        connection,
        [Handover(accounts[name]["id"], name, rep.id, rep.email, None, actor)
         for name, (rep, actor) in given.items()],
        now,
    )  # fmt: skip
    return {name: values["id"] for name, values in accounts.items()}


def _reps(connection: sa.Connection, rows: Iterable[ContactRow]) -> dict[str, _RepRow]:
    """The known reps the rows name, by email (no rep is invented for an unknown owner)."""
    emails = {r.owner_email for r in rows if r.owner_email}
    if not emails:
        return {}
    r = _REPS.c
    return {
        rep.email: rep
        for rep in connection.execute(
            sa.select(r.id, r.email).where(among(connection, r.email, emails))
        )
    }


def _own(
    connection: sa.Connection,
    account: dict[str, Any],
    row: ContactRow,
    rep: _RepRow | None,
    result: ImportResult,
) -> tuple[_RepRow, str] | None:
    """The row's owner fills an account without a rep (then the rep and the actor to log are
    returned); it never replaces one."""
    owner = row.owner_email or ""
    name = account["name"]
    if account["rep_id"] is None and rep is not None:
        account["rep_id"], account["owner_email"] = rep.id, rep.email
        return rep, f"import {Path(result.file).name}:{row.line}"
    if account["rep_id"] is None:
        account["owner_email"] = owner  # waits for that rep
        if owner not in result.unknown_owners:
            result.unknown_owners.add(owner)  # one warning per owner, at its first line
            reason = (
                f"no rep {owner} yet (this row and every later one naming it): the account "
                "gets this rep when `campaign import reps` lists the address"
            )
            result.warnings.append(RowError(result.file, row.line, "owner_email", reason))
    elif (rep is None or rep.id != account["rep_id"]) and name not in result.kept_owners:
        result.kept_owners.add(name)
        rep_id = account["rep_id"]
        keeper = connection.execute(sa.select(_REPS.c.email).where(_REPS.c.id == rep_id)).scalar()
        reason = (
            f"account {name} keeps its rep {keeper or f'rep {rep_id}'}; to give it to {owner},"
            f" run `campaign accounts assign '{name}' {owner}`"
        )
        result.warnings.append(RowError(result.file, row.line, "owner_email", reason))
    return None


def _updating(table: sa.Table, names: Iterable[str]) -> sa.Update:
    """UPDATE table SET name = :new_name, ... WHERE id = :_id (executed with `_new_values`)."""
    return (
        sa.update(table)
        .where(table.c.id == sa.bindparam("_id"))
        .values({name: sa.bindparam(f"new_{name}") for name in names})
    )


def _new_values(row_id: int, values: Mapping[str, object]) -> dict[str, object]:
    return {"_id": row_id, **{f"new_{name}": value for name, value in values.items()}}


def _assign(obj: object, values: Mapping[str, object]) -> bool:
    changed = False
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed = True
    return changed
