"""What a file is before it is read as CSV: binary or text, and its one encoding.

A file is read in exactly one encoding, never guessed row by row: a UTF-16 or UTF-32 byte order
mark (Excel's "Unicode text") says which; valid UTF-8 (with or without BOM) is UTF-8; a file with
high bytes but no valid multi-byte UTF-8 sequence is Windows-1252, unless it reads as
Central European text garbled (ISO-8859-2 or Windows-1250 "Śląsk" read as Windows-1252 is
"¦l±sk" or "Œl¹sk"): then it is refused, naming the line, until --encoding says which; a file
with both is refused, naming the first line that is not UTF-8.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from pathlib import Path

from campaign_engine.core.errors import UnreadableFile

__all__ = ["C1_ERRORS", "Encoding", "choose_encoding", "refuse_binary"]

_CHUNK_BYTES = 64 * 1024
_HEAD_BYTES = 8 * 1024
_CONTROL_SHARE = 0.05  # more control bytes than this in the first 8 KB: not text
_MAGIC = (
    (b"PK\x03\x04", "a ZIP archive"),
    (b"%PDF", "a PDF document"),
    (b"\xd0\xcf\x11\xe0", "an old Excel (.xls) or Office document"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
)
_EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods", ".numbers")
_SAVE_AS_CSV = "open it in your spreadsheet and save it as CSV UTF-8 (File > Save As)"
_NOT_UTF8 = re.compile("[\udc80-\udcff]")  # bytes that were not UTF-8 (surrogateescape)
_MULTIBYTE = re.compile("[^\x00-\x7f\udc80-\udcff]")  # a character UTF-8 needed 2+ bytes for
_LONE_CR = re.compile(r"\r(?!\n)")
# byte order marks, longest first (UTF-32 LE's begins with UTF-16 LE's)
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Windows-1252 symbols standing where ISO-8859-2 and Windows-1250 have letters (ą ł ś ż ź ľ Ł
# Ś Ż...): inside a word, or opening one, they are a Central European file read wrongly.
_GARBLED = "£¥¦©ª¬®¯±³µ¶¹º¼¾¿"
_LETTER = "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u00ff"
_GARBLED_WORD = re.compile(
    rf"[{_LETTER}]*(?:(?<=[{_LETTER}])[{_GARBLED}](?=[{_LETTER}])"
    rf"|(?<![^\s,;|\t\"'])[{_GARBLED}](?=[a-z\u00df-\u00ff]))[{_LETTER}{_GARBLED}]*"
)

C1_ERRORS = "campaign-c1"  # Windows-1252's five unassigned bytes decode as C1 controls


def _c1(exc: UnicodeError) -> tuple[str, int]:
    assert isinstance(exc, UnicodeDecodeError)
    return chr(exc.object[exc.start]), exc.start + 1


codecs.register_error(C1_ERRORS, _c1)


@dataclass(frozen=True)
class Encoding:
    """The codec a file is read with and, when not plain UTF-8, the sentence saying so."""

    codec: str
    note: str = ""


def refuse_binary(path: Path, name: str, wanted: str | None = None) -> None:
    """UnreadableFile for an empty file, a spreadsheet, an archive or random bytes (a UTF-16 or
    UTF-32 file, by its byte order mark or `wanted`, is text)."""
    with path.open("rb") as handle:
        head = handle.read(_HEAD_BYTES)
    wide = _bom_codec(head) or (wanted if wanted and _is_wide(wanted) else None)
    if wide:
        text = head.decode(wide, errors="replace").lstrip("\ufeff")
        if not text.strip():
            raise UnreadableFile(f"{name}: the file is empty (expected a header row, then rows)")
        if not _looks_like_text(text):
            raise UnreadableFile(f"{name}: not a CSV file: it looks like binary data, not text")
        return
    if not head.strip():
        raise UnreadableFile(f"{name}: the file is empty (expected a header row, then rows)")
    kind = next((label for magic, label in _MAGIC if head.startswith(magic)), None)
    excel = name.lower().endswith(_EXCEL_SUFFIXES) or b"[Content_Types].xml" in head
    if excel and (kind is not None or not _looks_like_text(head.decode("latin-1"))):
        raise UnreadableFile(f"{name}: not a CSV file: it looks like XLSX (Excel); {_SAVE_AS_CSV}")
    if kind is not None:
        raise UnreadableFile(f"{name}: not a CSV file: it looks like {kind}")
    if not _looks_like_text(head.decode("latin-1")):
        raise UnreadableFile(f"{name}: not a CSV file: it looks like binary data, not text")


def _looks_like_text(head: str) -> bool:
    controls = sum(1 for char in head if (char < " " and char not in "\t\n\r") or char == "\x7f")
    return controls <= len(head) * _CONTROL_SHARE


def _bom_codec(head: bytes) -> str | None:
    return next((codec for bom, codec in _BOMS if head.startswith(bom)), None)


def _is_wide(wanted: str) -> bool:
    try:
        return codecs.lookup(wanted).name.startswith(("utf-16", "utf-32"))
    except LookupError:
        return False


def choose_encoding(path: Path, name: str, wanted: str | None) -> Encoding:
    """The one encoding of the file (see the module doc); `wanted` (--encoding) overrides it."""
    if wanted:
        try:
            codec = codecs.lookup(wanted).name
        except LookupError:
            raise UnreadableFile(
                f"unknown encoding {wanted!r}; use utf-8, utf-8-sig, utf-16, cp1252, cp1250,"
                " iso-8859-2 or latin-1"
            ) from None
        _check_decodes(path, name, codec)
        return Encoding(codec, f"{name}: read as {wanted} (--encoding)")
    with path.open("rb") as handle:
        head = handle.read(4)
    wide = _bom_codec(head)
    if wide:
        _check_decodes(path, name, wide)
        return Encoding(wide, f"{name}: read as {wide.upper()} (byte order mark)")
    bom = head.startswith(codecs.BOM_UTF8)
    first_bad, multibyte = _scan_utf8(path)
    if first_bad is None:
        return Encoding("utf-8-sig" if bom else "utf-8")
    if multibyte or bom:
        raise UnreadableFile(
            f"{name}:{first_bad}: mixes encodings: this line is not UTF-8 but the file has UTF-8 "
            "text elsewhere; nothing was applied. Save the whole file as CSV UTF-8, or choose "
            "one with --encoding cp1252"
        )
    _refuse_garbled(path, name)
    return Encoding("cp1252", f"{name}: not UTF-8, read as Windows-1252 (--encoding to change)")


def _refuse_garbled(path: Path, name: str) -> None:
    """UnreadableFile naming the first line that reads, in Windows-1252, as garbled Central
    European text (see the module doc)."""
    with path.open("r", encoding="cp1252", errors=C1_ERRORS, newline="") as handle:
        for number, line in enumerate(handle, 1):
            found = _GARBLED_WORD.search(line)
            if found is not None:
                raise UnreadableFile(
                    f"{name}:{number}: {found.group()!r} is not Windows-1252 text: the file looks"
                    " Central European; nothing was applied. Say its encoding: --encoding"
                    " iso-8859-2 or --encoding cp1250 (--encoding cp1252 reads it as it is)"
                )


def _scan_utf8(path: Path) -> tuple[int | None, bool]:
    """(line of the first byte that is not UTF-8 or None, whether any multi-byte UTF-8 is there)."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="surrogateescape")
    first_bad: int | None = None
    multibyte = False
    lines = 1
    pending = ""  # a CR at the end of a chunk may be half of a CRLF
    with path.open("rb") as handle:
        while True:
            chunk = handle.read(_CHUNK_BYTES)
            text = pending + decoder.decode(chunk, final=not chunk)
            pending = ""
            if chunk and text.endswith("\r"):
                text, pending = text[:-1], "\r"
            if first_bad is None and (bad := _NOT_UTF8.search(text)) is not None:
                first_bad = lines + _line_breaks(text[: bad.start()])
            multibyte = multibyte or _MULTIBYTE.search(text) is not None
            if (first_bad is not None and multibyte) or not chunk:
                return first_bad, multibyte
            lines += _line_breaks(text)


def _line_breaks(text: str) -> int:
    return text.count("\n") + len(_LONE_CR.findall(text))


def _check_decodes(path: Path, name: str, codec: str) -> None:
    """UnreadableFile naming the first line that does not decode in `codec` (--encoding)."""
    errors = C1_ERRORS if codec == "cp1252" else "strict"
    decoder = codecs.getincrementaldecoder(codec)(errors=errors)
    lines = 1
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK_BYTES):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                line = lines + _byte_breaks(chunk[: max(exc.start, 0)])
                raise UnreadableFile(
                    f"{name}:{line}: not valid {codec} ({exc.reason}); nothing was applied; "
                    "try --encoding cp1252, or leave --encoding out to detect it"
                ) from None
            lines += _byte_breaks(chunk)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            raise UnreadableFile(
                f"{name}:{lines}: not valid {codec} ({exc.reason}); nothing was applied"
            ) from None


def _byte_breaks(data: bytes) -> int:
    return data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")
