"""Contact and rep imports: validate every row, apply the valid ones, report the rest."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from sqlmodel import Session, col, select

from campaign_engine.audience.consent import parse_consent, record_consent
from campaign_engine.audience.csvfile import (
    CsvRow,
    Progress,
    RowError,
    RowRejected,
    SeenRows,
    read_rows,
)
from campaign_engine.audience.segments import parse_outreach_mode, parse_segment, segment_for
from campaign_engine.audience.timezones import country_code, parse_timezone, zone_for
from campaign_engine.store.db import Database
from campaign_engine.store.models import Account, Contact, Rep

__all__ = [
    "CONTACT_ALIASES",
    "ContactRow",
    "ImportResult",
    "chunks",
    "clean_email",
    "import_contacts",
    "import_reps",
    "rep_name_from_email",
]

CONTACT_ALIASES = {
    "e_mail": "email",
    "email_address": "email",
    "mail": "email",
    "first": "first_name",
    "firstname": "first_name",
    "given_name": "first_name",
    "last": "last_name",
    "lastname": "last_name",
    "surname": "last_name",
    "family_name": "last_name",
    "job_title": "title",
    "position": "title",
    "company": "account",
    "account_name": "account",
    "organization": "account",
    "organisation": "account",
    "employee_count": "employees",
    "number_of_employees": "employees",
    "headcount": "employees",
    "potential_ee_users": "employees",
    "sales_segment": "segment",
    "market_segment": "segment",
    "owner": "owner_email",
    "account_owner": "owner_email",
    "rep": "owner_email",
    "rep_email": "owner_email",
    "owner_e_mail": "owner_email",
    "mode": "outreach_mode",
    "outreach": "outreach_mode",
    "lawful_basis": "consent",
    "consent_source": "consent",
    "time_zone": "timezone",
    "tz": "timezone",
    "country_code": "country",
    "country_name": "country",
    "state": "region",
    "province": "region",
    "state_province": "region",
}
_TEXT_LIMIT = 200  # characters in a name, title or account
_CHUNK_ROWS = 250  # contacts applied (and committed) per transaction
_HASH_MASK = (1 << 64) - 1
_CONTACTS: sa.Table = Contact.__table__  # type: ignore[attr-defined]
T = TypeVar("T")


@dataclass(frozen=True)
class ContactRow:
    """A validated contacts-CSV row."""

    line: int
    email: str
    first_name: str
    last_name: str
    title: str
    account: str
    employees: int | None
    segment: str
    owner_email: str | None
    outreach_mode: str
    consent: str = ""  # lawful basis / consent source (customer, opt-in, ...); optional column
    timezone: str = ""  # IANA zone: the `timezone` column, else derived from country (+ region)


@dataclass
class ImportResult:
    """Counts of what an import did, and every rejected row."""

    file: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[RowError] = field(default_factory=list)
    applied: bool = True  # False when --strict refused the file


@functools.lru_cache(maxsize=256)  # owner addresses repeat on every row of their accounts
def clean_email(value: str) -> str:
    """The lower-cased, validated address, or ValueError saying what is wrong with it."""
    value = value.strip()
    if not value:
        raise ValueError("is empty")
    try:
        return validate_email(value, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ValueError(f"{value!r} is not a valid address: {exc}") from None


def rep_name_from_email(email: str) -> str:
    """'dana.reyes@x' -> 'Dana Reyes', until a reps import gives the real name."""
    local = email.split("@", 1)[0]
    return " ".join(part.capitalize() for part in local.replace("_", ".").split(".") if part)


def import_contacts(
    db: Database,
    path: Path,
    now: datetime,
    encoding: str | None = None,
    strict: bool = False,
    progress: Progress | None = None,
) -> ImportResult:
    """Upsert contacts (by lower-cased email), their accounts and reps; idempotent.

    Streams the file and commits every `_CHUNK_ROWS` valid rows, so memory stays bounded.
    With `strict`, the whole file is validated first and nothing is applied if a row fails.
    """
    result = ImportResult(file=str(path))
    if strict:
        probe = ImportResult(file=str(path))
        for _ in _validated(path, read_rows(path, CONTACT_ALIASES, encoding), probe):
            pass
        if probe.rejected:
            result.rejected, result.applied = probe.rejected, False
            return result
    rows = _validated(path, read_rows(path, CONTACT_ALIASES, encoding, progress=progress), result)
    for chunk in chunks(rows, _CHUNK_ROWS):
        with db.session() as session:
            _apply_contacts(session, chunk, now, result)
            record_consent(session, [(r.email, r.consent) for r in chunk], path.name, now)
    return result


def import_reps(db: Database, path: Path, encoding: str | None = None) -> ImportResult:
    """Upsert reps from `email,name,title,timezone`."""
    result = ImportResult(file=str(path))
    with db.session() as session:
        for row in read_rows(path, {"rep_email": "email", "time_zone": "timezone"}, encoding):
            try:
                email = clean_email(row.values.get("email", ""))
            except ValueError as exc:
                result.rejected.append(RowError(str(path), row.line, "email", str(exc)))
                continue
            timezone = row.values.get("timezone", "").strip() or "UTC"
            try:
                ZoneInfo(timezone)
            except (ZoneInfoNotFoundError, ValueError):
                result.rejected.append(
                    RowError(str(path), row.line, "timezone", f"unknown time zone {timezone!r}")
                )
                continue
            wanted = {
                "name": _one_line(row.values.get("name", "")) or rep_name_from_email(email),
                "title": _one_line(row.values.get("title", "")),
                "timezone": timezone,
            }
            rep = session.exec(select(Rep).where(Rep.email == email)).first()
            if rep is None:
                session.add(Rep.model_validate({"email": email, **wanted}))
                result.created += 1
            elif _assign(rep, wanted):
                result.updated += 1
            else:
                result.unchanged += 1
    return result


def _validated(path: Path, rows: Iterable[CsvRow], result: ImportResult) -> Iterator[ContactRow]:
    with SeenRows() as seen:
        for row in rows:
            try:
                parsed = _parse_contact(row)
            except RowRejected as exc:
                result.rejected.append(RowError(str(path), row.line, exc.field, exc.reason))
                continue
            fingerprint = _fingerprint(parsed)
            earlier = seen.first(parsed.email, row.line, fingerprint)
            if earlier is None:
                yield parsed
            elif earlier[1] != fingerprint:
                result.rejected.append(
                    RowError(
                        str(path),
                        row.line,
                        "email",
                        f"{parsed.email} already appears on line {earlier[0]} with other values",
                    )
                )
            # else: an exact duplicate row, harmless


def _parse_contact(row: CsvRow) -> ContactRow:
    values = row.values
    if "email" not in values:
        raise RowRejected("email", "no email column (expected a header row naming 'email')")
    email = _check("email", clean_email, values["email"])
    text = {name: _text(values, name) for name in ("first_name", "last_name", "title", "account")}
    if not text["account"]:
        raise RowRejected("account", "is empty")
    employees = _employees(values.get("employees", ""))
    label = values.get("segment", "").strip()
    if label:
        segment = _check("segment", parse_segment, label)
    elif employees is not None:
        segment = segment_for(employees)
    else:
        raise RowRejected("segment", "is blank and employees is blank: cannot tell SMB, MM or ENT")
    owner = values.get("owner_email", "").strip()
    return ContactRow(
        row.line,
        email,
        employees=employees,
        segment=segment,
        owner_email=_check("owner_email", clean_email, owner) if owner else None,
        outreach_mode=_check("outreach_mode", parse_outreach_mode, values.get("outreach_mode", "")),
        consent=_check("consent", parse_consent, values.get("consent", "")),
        timezone=_timezone(values),
        **text,
    )


def _timezone(values: dict[str, str]) -> str:
    """The `timezone` cell, else the zone of `country` (+ `region` where a country has several)."""
    given = values.get("timezone", "")
    if given.strip():
        return _check("timezone", parse_timezone, given)
    country = _check("country", country_code, values.get("country", ""))
    return zone_for(country, values.get("region", "")) if country else ""


def _check(field: str, parse: Callable[[str], str], value: str) -> str:
    try:
        return parse(value)
    except ValueError as exc:
        raise RowRejected(field, str(exc)) from None


def _text(values: dict[str, str], name: str) -> str:
    value = values.get(name, "").strip()
    if "\r" in value or "\n" in value:
        raise RowRejected(name, "contains a line break (it could inject mail headers)")
    if len(value) > _TEXT_LIMIT:
        raise RowRejected(name, f"is longer than {_TEXT_LIMIT} characters")
    return value


def _employees(value: str) -> int | None:
    cleaned = value.strip().replace(",", "").replace("_", "").replace(" ", "")
    if not cleaned:
        return None
    if not cleaned.isdigit():
        raise RowRejected("employees", f"{value!r} is not a whole number")
    return int(cleaned)


def _fingerprint(row: ContactRow) -> int:
    """A signed 64-bit hash of every value but the line (stable within one process)."""
    value = hash(tuple(v for k, v in row.__dict__.items() if k != "line")) & _HASH_MASK
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


def _apply_contacts(
    session: Session, rows: list[ContactRow], now: datetime, result: ImportResult
) -> None:
    reps = _reps(session, {r.owner_email for r in rows if r.owner_email})
    accounts = _accounts(session, rows, reps)
    existing = {
        c.email: c
        for c in session.exec(
            select(Contact).where(col(Contact.email).in_([r.email for r in rows]))
        )
    }
    new: list[dict[str, object]] = []
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
        elif _assign(contact, wanted):
            contact.updated_at = now
            result.updated += 1
        else:
            result.unchanged += 1
    if new:  # a Core insert: far fewer objects than one ORM instance per row
        session.connection().execute(sa.insert(_CONTACTS), new)
        result.created += len(new)
    session.flush()


def _reps(session: Session, emails: set[str]) -> dict[str, Rep]:
    reps = {r.email: r for r in session.exec(select(Rep).where(col(Rep.email).in_(emails)))}
    for email in emails - set(reps):
        reps[email] = Rep(email=email, name=rep_name_from_email(email))
        session.add(reps[email])
    session.flush()
    return reps


def _accounts(session: Session, rows: list[ContactRow], reps: dict[str, Rep]) -> dict[str, Account]:
    names = {r.account for r in rows}
    accounts = {
        a.name: a for a in session.exec(select(Account).where(col(Account.name).in_(names)))
    }
    for row in rows:  # the last row of an account wins, so a re-import changes nothing
        wanted = {"segment": row.segment}
        if row.employees is not None:
            wanted["employees"] = row.employees  # type: ignore[assignment]
        if row.owner_email:
            wanted["rep_id"] = reps[row.owner_email].id  # type: ignore[assignment]
        account = accounts.get(row.account)
        if account is None:
            accounts[row.account] = Account(name=row.account, **wanted)  # type: ignore[arg-type]
            session.add(accounts[row.account])
        else:
            _assign(account, wanted)
    session.flush()
    return accounts


def _assign(obj: object, values: Mapping[str, object]) -> bool:
    changed = False
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed = True
    return changed


def _one_line(value: str) -> str:
    return " ".join(value.split())
