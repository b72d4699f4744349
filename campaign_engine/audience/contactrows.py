"""Row-by-row contact validation, independent of where the rows come from (CSV, API).

`validate_contacts(rows, source)` takes plain dict rows and returns, per row, the validated
contact or the rejection (`source:line: field: reason`), plus warnings for values that were
cleaned (line breaks folded, control characters removed).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from campaign_engine.audience.addresses import clean_email
from campaign_engine.audience.consent import parse_consent
from campaign_engine.audience.csvfile import RowError, RowRejected, fold_text
from campaign_engine.audience.segments import (
    is_enterprise_label,
    parse_outreach_mode,
    parse_segment,
    segment_for,
)
from campaign_engine.audience.timezones import country_code, parse_timezone, zone_for

__all__ = [
    "CONTACT_ALIASES",
    "CONTACT_COLUMNS",
    "MAX_EMPLOYEES",
    "ContactCheck",
    "ContactRow",
    "check_contact",
    "clean_email",
    "clean_text",
    "validate_contacts",
]

CONTACT_COLUMNS = frozenset(
    {
        "email",
        "first_name",
        "last_name",
        "title",
        "account",
        "employees",
        "segment",
        "owner_email",
        "outreach_mode",
        "consent",
        "timezone",
        "country",
        "region",
    }
)
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
_TEXT_FIELDS = ("first_name", "last_name", "title", "account")
MAX_EMPLOYEES = 10_000_000  # the largest employers have about 2 million
_EMPLOYEES_DIGITS = len(str(MAX_EMPLOYEES))
_owner_email = functools.lru_cache(maxsize=256)(clean_email)  # repeated on an account's rows
_TEXT_LIMIT = 200  # characters in a name, title or account
CLEANED = "control characters removed (line breaks and tabs became spaces)"
_ENT_WITHOUT_EMPLOYEES = (
    "ENT without an employee count: taken as Large (Strategic from 5,000 employees)"
)
NEEDS_SMTPUTF8 = (
    "a non-ASCII name before the @ needs SMTPUTF8 (RFC 6531): sent only if the relay supports it"
)


@dataclass(frozen=True)
class ContactRow:
    """A validated contact row."""

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
class ContactCheck:
    """One row's outcome: the contact, or the error; warnings either way."""

    row: ContactRow | None
    error: RowError | None = None
    warnings: list[RowError] = field(default_factory=list)


def clean_text(
    values: Mapping[str, str], name: str, where: tuple[str, int], warnings: list[RowError]
) -> str:
    """A free-text field folded to one clean line (a warning when control characters went),
    or RowRejected when it is too long."""
    value = values.get(name, "")
    if len(value) <= _TEXT_LIMIT and value.isprintable():  # most cells: nothing to fold
        return value.strip()
    value, stripped = fold_text(value)
    if stripped:
        warnings.append(RowError(where[0], where[1], name, CLEANED))
    if len(value) > _TEXT_LIMIT:
        raise RowRejected(name, f"is longer than {_TEXT_LIMIT} characters")
    return value


def validate_contacts(rows: Iterable[Mapping[str, str]], source: str) -> list[ContactCheck]:
    """Check each row (numbered from 1) on its own; duplicates across rows are not checked."""
    return [check_contact(values, line, source) for line, values in enumerate(rows, start=1)]


def check_contact(values: Mapping[str, str], line: int, source: str) -> ContactCheck:
    """Validate one row of canonical column names (see CONTACT_COLUMNS)."""
    warnings: list[RowError] = []
    try:
        row = _parse(values, line, (source, line), warnings)
    except RowRejected as exc:
        return ContactCheck(None, RowError(source, line, exc.field, exc.reason), warnings)
    return ContactCheck(row, None, warnings)


def _parse(
    values: Mapping[str, str], line: int, where: tuple[str, int], warnings: list[RowError]
) -> ContactRow:
    if "email" not in values:
        raise RowRejected("email", "no email column (expected a header row naming 'email')")
    email = _check("email", clean_email, values["email"])
    if not email.rpartition("@")[0].isascii():
        warnings.append(RowError(where[0], where[1], "email", NEEDS_SMTPUTF8))
    text = {name: clean_text(values, name, where, warnings) for name in _TEXT_FIELDS}
    if not text["account"]:
        raise RowRejected("account", "is empty")
    employees = _employees(values.get("employees", ""))
    label = values.get("segment", "").strip()
    if label:
        segment = _check("segment", lambda value: parse_segment(value, employees), label)
        if is_enterprise_label(label) and employees is None:
            warnings.append(RowError(where[0], where[1], "segment", _ENT_WITHOUT_EMPLOYEES))
    elif employees is not None:
        segment = segment_for(employees)
    else:
        raise RowRejected(
            "segment", "is blank and employees is blank: cannot tell SMB, MM, Large or Strategic"
        )
    owner = values.get("owner_email", "").strip()
    return ContactRow(
        line,
        email,
        employees=employees,
        segment=segment,
        owner_email=_check("owner_email", _owner_email, owner) if owner else None,
        outreach_mode=_check(
            "outreach_mode",
            lambda value: parse_outreach_mode(value, segment),
            values.get("outreach_mode", ""),
        ),
        consent=_check("consent", parse_consent, values.get("consent", "")),
        timezone=_timezone(values),
        **text,
    )


def _timezone(values: Mapping[str, str]) -> str:
    """The `timezone` cell, else the zone of `country` (+ `region` where a country has several)."""
    given = values.get("timezone", "")
    if given.strip():
        return _check("timezone", parse_timezone, given)
    country = _check("country", country_code, values.get("country", ""))
    return zone_for(country, values.get("region", "")) if country else ""


def _check(name: str, parse: Callable[[str], str], value: str) -> str:
    try:
        return parse(value)
    except ValueError as exc:
        raise RowRejected(name, str(exc)) from None


def _employees(value: str) -> int | None:
    if value.isdigit() and value.isascii() and len(value) < _EMPLOYEES_DIGITS:
        return int(value)  # the common cell: plain digits, below MAX_EMPLOYEES
    cleaned = value.strip().replace(",", "").replace("_", "").replace(" ", "")
    if not cleaned:
        return None
    if not (cleaned.isascii() and cleaned.isdigit()):
        raise RowRejected("employees", f"{value!r} is not a whole number")
    if len(cleaned.lstrip("0")) > _EMPLOYEES_DIGITS or int(cleaned) > MAX_EMPLOYEES:
        shown = cleaned if len(cleaned) <= 30 else f"a {len(cleaned)}-digit number"
        raise RowRejected("employees", f"{shown} is over {MAX_EMPLOYEES:,}")
    return int(cleaned)
