"""Reading real-world CSV exports: encoding detected, separator sniffed, headers normalised."""

from __future__ import annotations

import codecs
import csv
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from .errors import UnreadableFile

__all__ = [
    "ERROR_COLUMNS",
    "CsvRow",
    "Progress",
    "RowError",
    "csv_safe",
    "detect_encoding",
    "normalise_header",
    "read_rows",
    "write_errors",
]

Progress = Callable[[int, int], None]  # (bytes read so far, file size in bytes)
ERROR_COLUMNS = ("file", "line", "field", "reason")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PROGRESS_EVERY = 1000  # records between progress callbacks

_SAMPLE_BYTES = 64 * 1024
_CHUNK_BYTES = 1024 * 1024
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
        reader = csv.reader(counter, _sniff(sample))
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


def _sniff(sample: str) -> type[csv.Dialect] | csv.Dialect:
    first_lines = "\n".join(sample.splitlines()[:20])
    try:
        return csv.Sniffer().sniff(first_lines, delimiters=",;\t|")
    except csv.Error:
        return csv.excel


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
