"""Raw mail bytes -> the facts the engine looks at (PURE: no database, no clock).

Headers that say who and what it answers, the RFC 3464 delivery status of a DSN, the RFC 5965
feedback report of a complaint, and the headers of the original message that both embed.
"""

from __future__ import annotations

import codecs
import hashlib
import html
import re
from dataclasses import dataclass, field
from email.errors import MessageError
from email.header import Header, decode_header
from email.message import Message
from email.parser import BytesParser, HeaderParser
from email.policy import compat32
from email.utils import getaddresses, parseaddr

__all__ = ["DsnRecipient", "Inbound", "parse_mail"]

_MSGID = re.compile(r"<[^<>\s]+>")
_RECIPIENT_HEADERS = ("to", "cc", "delivered-to", "x-original-to", "envelope-to")
_TAGS = re.compile(r"<[^>]*>")
_BLOCKS = re.compile(r"</?(p|div|br|tr|li|h\d|blockquote)\b[^>]*>", re.IGNORECASE)
_HIDDEN = re.compile(r"<(style|script|head)\b.*?</\1>", re.IGNORECASE | re.DOTALL)
_MAX_DEPTH = 32  # MIME nesting read; deeper mail is read by its headers alone
_MAX_KEY = 900  # bytes of a Message-ID used as the key (an index entry has a size limit)
_MAX_HEADER = 16_384  # characters of a header value decoded (no header we read is longer)


@dataclass(frozen=True)
class DsnRecipient:
    """One per-recipient block of a delivery status notification."""

    address: str
    action: str  # failed, delayed, delivered, relayed, expanded
    status: str  # enhanced status code, e.g. 5.1.1
    diagnostic: str = ""
    original: str = ""  # its Original-Recipient: the address as we sent to it


@dataclass(frozen=True)
class Inbound:
    """What one incoming message says, as far as the engine cares."""

    key: str  # its Message-ID, or sha256 of its bytes when it has none (or a huge one)
    message_id: str
    references: tuple[str, ...]  # In-Reply-To first, then References newest first
    from_address: str
    from_name: str
    recipients: tuple[str, ...]  # To, Cc, Delivered-To, X-Original-To (lower case)
    subject: str
    headers: dict[str, str]  # lower-cased name -> value, first occurrence
    return_path: str | None  # None when absent; "" for the null sender <>
    report_type: str  # "delivery-status", "feedback-report" or ""
    dsn: tuple[DsnRecipient, ...] = ()
    feedback: dict[str, str] = field(default_factory=dict)  # ARF fields, lower-cased names
    original_message_id: str = ""  # of the message a DSN or complaint is about
    original_recipients: tuple[str, ...] = ()
    text: str = ""  # the readable body (text part, or the HTML part as text)
    raw: bytes = b""


def parse_mail(raw: bytes) -> Inbound:
    """Parse one RFC 5322 message; never raises on malformed mail (fields are left empty)."""
    msg = _message(raw)
    headers = _fields(msg)
    message_id = _first_id(headers.get("message-id", ""))
    references = _ids(headers.get("in-reply-to", "")) + tuple(
        reversed(_ids(headers.get("references", "")))
    )
    name, address = parseaddr(headers.get("from", ""))
    recipients = tuple(
        dict.fromkeys(
            addr.lower()
            for _, addr in getaddresses([headers.get(h, "") for h in _RECIPIENT_HEADERS])
            if "@" in addr
        )
    )
    return_path = None
    if "return-path" in headers:
        return_path = parseaddr(headers["return-path"])[1] or ""
    report_type = ""
    if msg.get_content_type() == "multipart/report":
        report_type = str(msg.get_param("report-type") or "").lower()
    dsn, feedback, original = _reports(msg)
    original_id = _first_id(original.get("message-id", ""))
    original_to = tuple(
        addr.lower() for _, addr in getaddresses([original.get("to", "")]) if "@" in addr
    )
    arf_rcpt = _bare(feedback.get("original-rcpt-to", ""))
    if arf_rcpt:
        original_to = (arf_rcpt, *original_to)
    return Inbound(
        key=message_id if 0 < len(message_id.encode()) <= _MAX_KEY else _hash_key(raw),
        message_id=message_id,
        references=tuple(dict.fromkeys(references)),
        from_address=address.lower(),
        from_name=name,
        recipients=recipients,
        subject=" ".join(headers.get("subject", "").split()),
        headers=headers,
        return_path=return_path,
        report_type=report_type,
        dsn=dsn,
        feedback=feedback,
        original_message_id=original_id,
        original_recipients=original_to,
        text=_body_text(msg),
        raw=raw,
    )


def _hash_key(raw: bytes) -> str:
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def _message(raw: bytes) -> Message:
    """The parsed message; nested too deep (a message/rfc822 loop), only its headers."""
    parser = BytesParser(policy=compat32)
    try:
        msg = parser.parsebytes(raw)
    except RecursionError:
        return parser.parsebytes(raw, headersonly=True)
    return parser.parsebytes(raw, headersonly=True) if _depth(msg) > _MAX_DEPTH else msg


def _depth(msg: Message) -> int:
    deepest, stack = 0, [(msg, 1)]
    while stack:
        part, depth = stack.pop()
        deepest = max(deepest, depth)
        payload = part.get_payload()
        if isinstance(payload, list) and depth <= _MAX_DEPTH:
            stack.extend((sub, depth + 1) for sub in payload if isinstance(sub, Message))
    return deepest


def _reports(msg: Message) -> tuple[tuple[DsnRecipient, ...], dict[str, str], dict[str, str]]:
    dsn: list[DsnRecipient] = []
    feedback: dict[str, str] = {}
    original: dict[str, str] = {}
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype in ("message/delivery-status", "message/global-delivery-status"):
            blocks = _field_blocks(part)
            dsn.extend(_recipient(block) for block in blocks[1:] if _recipient(block).address)
        elif ctype == "message/feedback-report":
            blocks = _field_blocks(part)
            feedback = blocks[0] if blocks else {}
        elif ctype in ("message/rfc822", "message/global", "text/rfc822-headers") and not original:
            original = _embedded_headers(part)
    return tuple(dsn), feedback, original


def _field_blocks(part: Message) -> list[dict[str, str]]:
    """The header blocks of a message/delivery-status or feedback-report part."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return [_fields(p) for p in payload if isinstance(p, Message)]
    text = payload if isinstance(payload, str) else ""
    blocks = re.split(r"\r?\n\s*\r?\n", text.strip())
    parser = HeaderParser()
    return [_fields(parser.parsestr(block + "\n")) for block in blocks]


def _recipient(block: dict[str, str]) -> DsnRecipient:
    original = _bare(block.get("original-recipient", ""))
    address = _bare(block.get("final-recipient", "")) or original
    status = block.get("status", "").split()[0] if block.get("status", "").split() else ""
    return DsnRecipient(
        address=address,
        action=block.get("action", "").strip().lower(),
        status=status,
        diagnostic=" ".join(block.get("diagnostic-code", "").split()),
        original=original,
    )


def _embedded_headers(part: Message) -> dict[str, str]:
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        return _fields(payload[0])
    text = part.get_payload(decode=True)
    if isinstance(text, bytes):
        parsed = HeaderParser().parsestr(text.decode("utf-8", "replace"))
        return _fields(parsed)
    return {}


def _body_text(msg: Message) -> str:
    """The first text/plain part not inside an attached message, else the first HTML as text."""
    plain = html_part = None
    for part in _own_parts(msg):
        ctype = part.get_content_type()
        if ctype == "text/plain" and plain is None:
            plain = part
        elif ctype == "text/html" and html_part is None:
            html_part = part
    if plain is not None:
        return _decoded(plain)
    if html_part is not None:
        return _html_to_text(_decoded(html_part))
    return ""


def _own_parts(msg: Message) -> list[Message]:
    if msg.get_content_maintype() == "message":
        return []
    if not msg.is_multipart():
        return [msg]
    parts: list[Message] = []
    for sub in msg.get_payload():
        if isinstance(sub, Message) and sub.get("Content-Disposition", "").startswith("attachment"):
            continue
        if isinstance(sub, Message):
            parts.extend(_own_parts(sub))
    return parts


def _decoded(part: Message) -> str:
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        return ""
    try:
        text = data.decode(_charset(part.get_content_charset()), "replace")
    except LookupError:  # a codec that is not a text encoding ("base64", "zlib")
        text = data.decode("utf-8", "replace")
    return text.replace("\x00", "")


def _html_to_text(markup: str) -> str:
    markup = _HIDDEN.sub("", markup)
    markup = _BLOCKS.sub("\n", markup)
    lines = (" ".join(line.split()) for line in html.unescape(_TAGS.sub("", markup)).splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _text(value: object) -> str:
    """A header value as text, RFC 2047 words decoded (raw 8-bit bytes read as UTF-8), on one
    line. A word that does not decode (bad base64, unknown charset) is kept as it was written."""
    written = str(value)[:_MAX_HEADER]
    try:
        parts = decode_header(value if isinstance(value, Header) else written)
        raw = "".join(
            text.decode(_charset(charset), "replace") if isinstance(text, bytes) else text
            for text, charset in parts
        )
    except (ValueError, LookupError, MessageError):
        raw = written
    return " ".join(raw[:_MAX_HEADER].replace("\x00", "").split())


def _charset(name: str | None) -> str:
    if not name or name == "unknown-8bit":
        return "utf-8"
    try:
        codecs.lookup(name)
    except LookupError:
        return "utf-8"
    return name


def _fields(msg: Message) -> dict[str, str]:
    """Header name (lower case) -> decoded value; the first occurrence wins."""
    return {name.lower(): _text(value) for name, value in reversed(msg.items())}


def _ids(value: str) -> tuple[str, ...]:
    return tuple(_MSGID.findall(value))


def _first_id(value: str) -> str:
    ids = _ids(value)
    return ids[0] if ids else ""


def _bare(value: str) -> str:
    """'rfc822; <a@b>' or 'rfc822;a@b' (DSN and ARF address fields) -> 'a@b'."""
    if ";" in value:
        value = value.split(";", 1)[1]
    return value.strip().strip("<>").strip().lower()
