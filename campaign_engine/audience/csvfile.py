"""Reading real-world CSV exports: encoding detected, separator sniffed, headers normalised."""

from __future__ import annotations

import codecs
import csv
import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from campaign_engine.core.errors import UnreadableFile

__all__ = [
    "ERROR_COLUMNS",
    "CsvRow",
    "Progress",
    "RowError",
    "RowRejected",
    "SeenRows",
    "csv_safe",
    "detect_encoding",
    "normalise_header",
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
_CHUNK_BYTES = 64 * 1024  # bytes decoded at a time while detecting the encoding
MAX_FIELD_CHARS = 10_000  # a longer cell is a broken file, not data


@dataclass(frozen=True)
class CsvRow:
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


class RowRejected(Exception):
    """Raised by a row parser: this field of the row is wrong, and why (becomes a RowError)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class SeenRows:
    """Which keys (emails) a file already had, on which line and with which values.

    Kept in a throw-away SQLite file, so a file of any size is checked for conflicting
    duplicates in bounded memory. Use as a context manager; the file is deleted on exit.
    """

    _CACHE_KIB = 1024  # SQLite page cache

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="campaign-seen-")
        self._db = sqlite3.connect(Path(self._dir.name) / "seen.db")
        self._db.execute(f"PRAGMA cache_size=-{self._CACHE_KIB}")
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute(
            "CREATE TABLE seen (key TEXT PRIMARY KEY, line INTEGER, fingerprint INTEGER)"
        )

    def __enter__(self) -> SeenRows:
        return self

    def __exit__(self, *exc: object) -> None:
        self._db.close()
        self._dir.cleanup()

    def first(self, key: str, line: int, fingerprint: int) -> tuple[int, int] | None:
        """Remember the key; if it was seen before, return that (line, fingerprint) instead."""
        row = self._db.execute(
            "SELECT line, fingerprint FROM seen WHERE key = ?", (key,)
        ).fetchone()
        if row is not None:
            return int(row[0]), int(row[1])
        self._db.execute("INSERT INTO seen VALUES (?, ?, ?)", (key, line, fingerprint))
        return None


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


def detect_encoding(path: Path) -> str:
    """utf-8-sig when the file starts with a BOM, utf-8 when it all decodes, else cp1252."""
    with path.open("rb") as handle:
        head = handle.read(3)
        if head == codecs.BOM_UTF8:
            return "utf-8-sig"
        decoder = codecs.getincrementaldecoder("utf-8")()
        chunk = head
        try:
            while chunk:
                decoder.decode(chunk)
                chunk = handle.read(_CHUNK_BYTES)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "cp1252"
    return "utf-8"


def normalise_header(name: str, aliases: dict[str, str]) -> str:
    """'E-mail Address ' -> 'email_address' -> the canonical name when it is a known alias."""
    key = "_".join(name.strip().lower().replace("-", " ").replace("/", " ").split())
    return aliases.get(key, key)


def read_rows(
    path: Path,
    aliases: dict[str, str],
    encoding: str | None = None,
    header: bool | Callable[[list[str]], bool] = True,
    progress: Progress | None = None,
) -> Iterator[CsvRow]:
    """Yield each non-empty record with canonical column names; streams, so memory stays flat.

    `header` may be a predicate given the first record: True when it is a header row, False
    when it is already data (a header-less file gets the single column name "value").
    """
    chosen = encoding or detect_encoding(path)
    try:
        yield from _read(path, aliases, chosen, header, progress)
    except UnicodeDecodeError as exc:
        raise UnreadableFile(
            f"{path}: not valid {chosen} ({exc.reason}); rows before the bad byte may have "
            "been applied; try --encoding cp1252 (or leave --encoding out to detect it)"
        ) from None
    except csv.Error as exc:
        raise UnreadableFile(f"{path}: not a readable CSV file: {exc}") from None
    except LookupError:
        raise UnreadableFile(
            f"unknown encoding {chosen!r}; use utf-8, utf-8-sig, cp1252 or latin-1"
        ) from None


def _read(
    path: Path,
    aliases: dict[str, str],
    encoding: str,
    header: bool | Callable[[list[str]], bool],
    progress: Progress | None,
) -> Iterator[CsvRow]:
    errors = "replace" if encoding == "cp1252" else "strict"
    size = path.stat().st_size
    with path.open("r", encoding=encoding, errors=errors, newline="") as handle:
        sample = handle.read(_SAMPLE_BYTES)
        handle.seek(0)
        counter = _LineCounter(handle)
        reader = csv.reader(counter, _dialect(sample))
        columns: list[str] | None = None
        start = 1
        for count, record in enumerate(reader):
            if progress is not None and count % _PROGRESS_EVERY == 0:
                progress(min(handle.buffer.tell(), size), size)
            line, start = start, counter.lines + 1
            if not any(cell.strip() for cell in record):
                continue
            if columns is None:
                is_header = header(record) if callable(header) else header
                if is_header:
                    columns = [normalise_header(cell, aliases) for cell in record]
                    continue
                columns = ["value"]
            yield CsvRow(line, _row(columns, record))
        if progress is not None:
            progress(size, size)


def _row(columns: list[str], record: list[str]) -> dict[str, str]:
    values = {}
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


def _dialect(sample: str) -> type[csv.Dialect]:
    class Export(csv.excel):
        delimiter = sniff_delimiter(sample)

    return Export


class _LineCounter:
    """Wraps a text file for csv.reader and counts physical lines, so records keep file:line."""

    def __init__(self, handle: TextIO) -> None:
        self.handle = handle
        self.lines = 0

    def __iter__(self) -> _LineCounter:
        return self

    def __next__(self) -> str:
        line = self.handle.readline()
        if not line:
            raise StopIteration
        self.lines += 1
        return line
