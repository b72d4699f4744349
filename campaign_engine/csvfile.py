"""Reading real-world CSV exports: encoding detected, separator sniffed, headers normalised."""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

__all__ = [
    "CsvRow",
    "RowError",
    "csv_safe",
    "detect_encoding",
    "normalise_header",
    "read_rows",
]

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


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: object) -> str:
    """A cell a spreadsheet shows as text: a leading = + - @ tab or CR gets a ' in front.

    Numbers are written as they are (a negative number is data, not a formula).

    >>> csv_safe("=HYPERLINK(\"http://x\")"), csv_safe(-3), csv_safe(None)
    ('\'=HYPERLINK("http://x")', '-3', '')
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


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
    path: Path, aliases: dict[str, str], encoding: str | None = None, header: bool = True
) -> Iterator[CsvRow]:
    """Yield each non-empty record with canonical column names; streams, so memory stays flat."""
    encoding = encoding or detect_encoding(path)
    errors = "replace" if encoding == "cp1252" else "strict"
    with path.open("r", encoding=encoding, errors=errors, newline="") as handle:
        sample = handle.read(_SAMPLE_BYTES)
        handle.seek(0)
        counter = _LineCounter(handle)
        reader = csv.reader(counter, _sniff(sample))
        columns: list[str] | None = None
        start = 1
        for record in reader:
            line, start = start, counter.lines + 1
            if not any(cell.strip() for cell in record):
                continue
            if columns is None:
                if header:
                    columns = [normalise_header(cell, aliases) for cell in record]
                    continue
                columns = ["value"]
            yield CsvRow(line, _row(columns, record))


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
