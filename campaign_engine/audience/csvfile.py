"""The one CSV reader: every file is checked whole before a row is applied.

`open_csv` reads the file once to find file-level problems (empty, binary, mixed encodings, a
quote left open, an oversized field): those raise UnreadableFile naming the line, before any
row reaches the database. `CsvFile.records()` then streams the rows with their start lines.
"""

from __future__ import annotations

import csv
import difflib
import itertools
import re
import unicodedata
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple, TextIO

from campaign_engine.audience.csvsniff import C1_ERRORS, Encoding, choose_encoding, refuse_binary
from campaign_engine.core.errors import UnreadableFile

__all__ = [
    "ERROR_COLUMNS",
    "CsvFile",
    "CsvRow",
    "FileReport",
    "Progress",
    "RowError",
    "RowRejected",
    "csv_safe",
    "fold_text",
    "normalise_header",
    "open_csv",
    "read_rows",
    "sniff_delimiter",
    "write_errors",
]

Progress = Callable[[int, int], None]  # (bytes read so far, file size in bytes)
ERROR_COLUMNS = ("file", "line", "field", "reason")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PROGRESS_EVERY = 1000  # records between progress callbacks
_DELIMITERS = (",", ";", "\t", "|")

_SAMPLE_BYTES = 64 * 1024
MAX_FIELD_CHARS = 10_000  # cells are cut here; validators reject long values anyway
_FIELD_LIMIT = csv.field_size_limit()  # a longer field is a broken file (a quote left open?)
# what str.splitlines() splits on (the "," joining cells is none of them)
_LINE_BREAK = re.compile("[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")
_FOLD = re.compile(r"\s*[\t\n\r\v\f\x85\u2028\u2029]+\s*")
# How alike an ignored header and a known column must be to suggest it: typos ("emial", "titel")
# reach 0.8; unrelated words of the same length ("state" for "title") reach 0.6.
_TYPO_SIMILARITY = 0.75
_HEADER_HINTS = {  # foreign or CRM headers we do not map, but can point at
    "prénom": "first_name",
    "prenom": "first_name",
    "vorname": "first_name",
    "nombre": "first_name",
    "nom": "last_name",
    "nachname": "last_name",
    "apellido": "last_name",
    "courriel": "email",
    "société": "account",
    "societe": "account",
    "entreprise": "account",
    "firma": "account",
    "empresa": "account",
    "titre": "title",
    "poste": "title",
    "funktion": "title",
}


class CsvRow(NamedTuple):
    line: int  # physical line where the record starts (1 = header)
    values: dict[str, str]


@dataclass(frozen=True)
class RowError:
    """One rejected row: file:line, the field at fault and why."""

    file: str
    line: int
    field: str
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}"
        return f"{where}: {self.field}: {self.reason}" if self.field else f"{where}: {self.reason}"


@dataclass
class FileReport:
    """What reading a file found: data rows, notes (encoding, ignored columns), per-row
    warnings (a value was cleaned, an owner is unknown) and rejected rows."""

    file: str
    rows: int = 0
    notes: list[str] = field(default_factory=list)
    warnings: list[RowError] = field(default_factory=list)
    rejected: list[RowError] = field(default_factory=list)


class RowRejected(Exception):
    """Raised by a row parser: this field of the row is wrong, and why (becomes a RowError)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def csv_safe(value: object) -> str:
    """A cell a spreadsheet will show as text, never run: "=HYPERLINK(...)" -> "'=HYPERLINK(...)"."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def write_errors(path: Path, errors: Iterable[RowError]) -> int:
    """Write rejected rows as CSV (file,line,field,reason), formula-safe; returns the count."""
    count = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(ERROR_COLUMNS)
        for error in errors:
            writer.writerow(
                [csv_safe(v) for v in (error.file, error.line, error.field, error.reason)]
            )
            count += 1
    return count


def fold_text(value: str) -> tuple[str, bool]:
    """One line of plain text: line breaks and tabs fold to a space, other control characters
    (NUL, C0, C1) are removed; the flag says whether any were: "Ada\x00\nB" -> ("Ada B", True)."""
    if value.isprintable():
        return value.strip(), False
    folded = _FOLD.sub(" ", value)
    cleaned = "".join(ch for ch in folded if unicodedata.category(ch) not in ("Cc", "Cs"))
    return cleaned.strip(), cleaned != folded


def normalise_header(name: str, aliases: dict[str, str]) -> str:
    """'E-mail Address ' -> 'email_address' -> the canonical name when it is a known alias."""
    text, _ = fold_text(name)
    key = "_".join(text.lower().replace("-", " ").replace("/", " ").split())
    return aliases.get(key, key)


@dataclass(frozen=True)
class CsvFile:
    """A CSV file that passed the file-level checks; `records()` streams its rows."""

    path: Path
    name: str  # what messages call it (never a server path for uploads)
    encoding: Encoding
    delimiter: str
    header: bool | Callable[[list[str]], bool]
    rows: int = 0  # data rows (non-empty records after the header)
    ignored: tuple[str, ...] = ()  # header cells that name no known column
    suggestions: tuple[str, ...] = ()

    @property
    def notes(self) -> list[str]:
        """The encoding note and the ignored columns, for the command's output."""
        notes = [self.encoding.note] if self.encoding.note else []
        if self.ignored:
            note = f"{self.name}: ignored columns: {', '.join(self.ignored)}"
            if self.suggestions:
                note += f"; did you mean {', '.join(self.suggestions)}?"
            notes.append(note)
        return notes

    def fill(self, report: FileReport) -> None:
        """Copy the row count and the notes into a command's report."""
        report.rows, report.notes = self.rows, [*self.notes, *report.notes]

    def records(
        self, aliases: dict[str, str], progress: Progress | None = None
    ) -> Iterator[CsvRow]:
        """Every non-empty data row with canonical column names; streams, memory stays flat."""
        size = self.path.stat().st_size
        columns: list[str] | None = None
        unique = True  # no column name twice: a row is a plain zip of names and cells
        for count, (line, record, position) in enumerate(self._records()):
            if progress is not None and count % _PROGRESS_EVERY == 0:
                progress(min(position, size), size)
            if columns is None:
                columns = self._columns(record, aliases)
                header, columns = bool(columns), columns or ["value"]
                unique = len(set(columns)) == len(columns)
                if header:
                    continue
            if (
                unique
                and len(record) <= len(columns)
                and max(map(len, record), default=0) <= MAX_FIELD_CHARS
            ):
                yield CsvRow(line, dict(zip(columns, record, strict=False)))
            else:
                yield CsvRow(line, _row(columns, record))
        if progress is not None:
            progress(size, size)

    def _columns(self, record: list[str], aliases: dict[str, str]) -> list[str]:
        """Canonical column names when the record is a header row, else []."""
        is_header = self.header(record) if callable(self.header) else self.header
        return [normalise_header(cell, aliases) for cell in record] if is_header else []

    def _records(self) -> Iterator[tuple[int, list[str], int]]:
        """(start line, cells, bytes read) of every non-empty record."""
        with self._open() as handle:
            raw = handle.buffer
            reader = csv.reader(handle, _dialect(self.delimiter))  # line_num: physical lines
            while True:
                start = reader.line_num + 1
                try:
                    record = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    raise UnreadableFile(_field_problem(self.name, start, exc)) from None
                except UnicodeDecodeError as exc:
                    raise UnreadableFile(
                        f"{self.name}:{reader.line_num + 1}: not valid {self.encoding.codec} "
                        f"({exc.reason}); nothing was applied; try --encoding cp1252, or leave "
                        "--encoding out to detect it"
                    ) from None
                if "".join(record).strip():
                    yield start, record, raw.tell()

    def _text_from(self, line: int) -> str:
        """The file's text from physical line `line` to its end."""
        with self._open() as handle:
            return "".join(itertools.islice(handle, line - 1, None))

    def _open(self) -> TextIO:
        errors = C1_ERRORS if self.encoding.codec == "cp1252" else "strict"
        return self.path.open("r", encoding=self.encoding.codec, errors=errors, newline="")


def open_csv(
    path: Path,
    aliases: dict[str, str],
    known: Collection[str] = (),
    encoding: str | None = None,
    header: bool | Callable[[list[str]], bool] = True,
    name: str | None = None,
) -> CsvFile:
    """Check the whole file (see the module doc) and return it ready to stream.

    `known` lists the columns the caller uses: other header cells are reported as ignored.
    `header` may be a predicate given the first record: True when it is a header row, False
    when it is already data (a header-less file gets the single column name "value").
    """
    label = name or str(path)
    refuse_binary(path, label, encoding)
    chosen = choose_encoding(path, label, encoding)
    with path.open("r", encoding=chosen.codec, errors="replace", newline="") as handle:
        delimiter = sniff_delimiter(handle.read(_SAMPLE_BYTES))
    scanned = CsvFile(path, label, chosen, delimiter, header)
    rows, head, columns = 0, None, []
    last: tuple[int, list[str], int] | None = None
    previous: tuple[int, list[str]] | None = None  # checked once the next record is known
    for last in scanned._records():
        if head is None:
            head, columns = last[1], scanned._columns(last[1], aliases)
            if columns:
                continue
        rows += 1
        if previous is not None:
            _check_swallowed(label, delimiter, max(len(columns), 1), *previous)
        previous = last[0], last[1]
    if last is not None and _ends_inside_quotes(scanned._text_from(last[0]), delimiter):
        raise UnreadableFile(
            f"{label}:{last[0]}: a quote opened on this line is never closed (it runs to the end "
            "of the file); nothing was applied. Close the quote or remove it"
        )
    if previous is not None:
        _check_swallowed(label, delimiter, max(len(columns), 1), *previous)
    if head is None:
        raise UnreadableFile(f"{label}: the file is empty (expected a header row, then rows)")
    if rows == 0:
        raise UnreadableFile(f"{label}: only a header row, no data rows; nothing to apply")
    ignored = tuple(
        fold_text(cell)[0]
        for cell, key in zip(head, columns, strict=False)
        if known and key not in known and cell.strip()
    )
    suggestions = _suggest(ignored, known, aliases)
    return CsvFile(path, label, chosen, delimiter, header, rows, ignored, suggestions)


def read_rows(
    path: Path,
    aliases: dict[str, str],
    encoding: str | None = None,
    header: bool | Callable[[list[str]], bool] = True,
    progress: Progress | None = None,
) -> Iterator[CsvRow]:
    """open_csv(...).records(...) in one call, for callers that need no notes."""
    yield from open_csv(path, aliases, (), encoding, header).records(aliases, progress)


def _field_problem(name: str, line: int, exc: csv.Error) -> str:
    if "field larger than field limit" in str(exc):
        return (
            f"{name}:{line}: a field starting on this line is longer than {_FIELD_LIMIT:,} "
            "characters (a quote left open?); nothing was applied"
        )
    return f"{name}:{line}: not a readable CSV record ({exc}); nothing was applied"


def _check_swallowed(name: str, delimiter: str, width: int, line: int, record: list[str]) -> None:
    """A quoted field whose later lines look like whole rows swallowed them: refuse the file."""
    cells = "\0".join(record)
    if width < 3 or cells.count(delimiter) < width - 1 or not _LINE_BREAK.search(cells):
        return  # no cell holds a row's worth of separators, or none has a second line
    for cell in record:
        for offset, part in enumerate(cell.splitlines()[1:], start=1):
            if part.count(delimiter) >= width - 1:
                raise UnreadableFile(
                    f"{name}:{line}: a quote opened on this line runs over {offset} more line(s) "
                    "that look like rows of their own; nothing was applied. Check the quotes"
                )


def _ends_inside_quotes(raw: str, delimiter: str) -> bool:
    """Whether the excel-dialect parse of one record's raw text ends inside a quoted field."""
    quoted, at_start, index = False, True, 0
    while index < len(raw):
        char = raw[index]
        if quoted:
            if char == '"':
                if raw[index + 1 : index + 2] == '"':
                    index += 1
                else:
                    quoted = False
        elif char == '"' and at_start:
            quoted = True
        at_start = not quoted and char in (delimiter, "\n", "\r")
        index += 1
    return quoted


def _suggest(
    ignored: Iterable[str], known: Collection[str], aliases: dict[str, str]
) -> tuple[str, ...]:
    """The known column each ignored header most likely meant (close spelling or a hint)."""
    names = sorted({*known, *aliases})
    found: list[str] = []
    for cell in ignored:
        key = normalise_header(cell, {})
        close = difflib.get_close_matches(key, names, 1, cutoff=_TYPO_SIMILARITY)
        guess = _HEADER_HINTS.get(key) or next(iter(close), "")
        guess = aliases.get(guess, guess)
        if guess and guess in known and guess not in found:
            found.append(guess)
    return tuple(found)


def _row(columns: list[str], record: list[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for index, cell in enumerate(record):
        name = columns[index] if index < len(columns) else f"extra_{index + 1}"
        values.setdefault(name, cell[:MAX_FIELD_CHARS])
    return values


def sniff_delimiter(sample: str) -> str:
    """The separator of the first non-blank line, counted outside quotes: 'a;b;"c,d"' -> ';'.

    csv.Sniffer guesses quoting too and gets "" escapes or multi-line fields wrong; exports
    always quote the excel way, so only the delimiter is guessed (',' when there is none).
    """
    first = next((line for line in sample.splitlines() if line.strip()), "")
    counts = dict.fromkeys(_DELIMITERS, 0)
    quoted = False
    for char in first:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    best = max(_DELIMITERS, key=lambda d: counts[d])  # ties: the first in _DELIMITERS
    return best if counts[best] else ","


def _dialect(delimiter: str) -> type[csv.Dialect]:
    class Export(csv.excel):
        pass

    Export.delimiter = delimiter
    return Export
