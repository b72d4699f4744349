"""Reading an ops exclusion CSV: its columns, targets and rows, parsed into entries."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime

from campaign_engine.audience.contactrows import (
    CLEANED,
    CONTACT_ALIASES,
    CONTACT_COLUMNS,
    clean_email,
)
from campaign_engine.audience.csvfile import (
    CsvFile,
    CsvRow,
    FileReport,
    Progress,
    RowError,
    RowRejected,
    fold_text,
)

__all__ = [
    "EXCLUDE_NO",
    "EXCLUDE_YES",
    "EXCLUSION_ALIASES",
    "EXCLUSION_COLUMNS",
    "AlreadySent",
    "DeadlineStatus",
    "ExcludedContact",
    "ExclusionEntry",
    "ExclusionResult",
    "Reverted",
    "is_header",
    "parse_target",
    "read_entries",
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
EXCLUSION_COLUMNS = frozenset({"email", "domain", "exclude", "reason", "value"}) | {
    c for c in CONTACT_COLUMNS if c != "email"
}  # a target list carries the contact columns too: not worth a note
_DOMAIN = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$")
_REASON_LIMIT = 500  # characters


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
class ExcludedContact:
    """A known contact an upload excludes (or would, in a preview)."""

    email: str
    name: str
    account: str


@dataclass(frozen=True)
class Reverted:
    """What reverting an upload did: exclusions lifted, and ones someone had lifted already."""

    upload_id: int
    file: str
    lifted: int
    lifted_before: int


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
    excluded: list[ExcludedContact] = field(default_factory=list)  # the known contacts
    upload_id: int | None = None  # the preview to apply, or the applied upload to revert

    @property
    def late(self) -> list[DeadlineStatus]:
        return [d for d in self.deadlines if d.passed]


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


def read_entries(
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


def is_header(record: list[str]) -> bool:
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
        result.warnings.append(RowError(result.file, row.line, "reason", CLEANED))
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
