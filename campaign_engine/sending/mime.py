"""Fast MIME assembly for multipart/alternative mail.

The stdlib `email` package costs milliseconds a message; building the few headers and two
quoted-printable parts directly is what lets the send loop keep up with SMTP.
"""

from __future__ import annotations

import binascii
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from email.header import Header
from email.utils import formataddr, parseaddr, quote

from email_validator import EmailNotValidError, validate_email

__all__ = [
    "WireAddress",
    "build_mime",
    "check_header_value",
    "format_address",
    "list_headers",
    "wire_address",
]

CRLF = "\r\n"
_PART_HEAD = (
    b"Content-Type: text/%s; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
)
_LINES: dict[str, bytes] = {}  # body line -> its quoted-printable lines, CRLF-ended
_LINES_KEPT = 8192


def check_header_value(name: str, value: str) -> str:
    """Refuse CR/LF in a header value: it would let data inject headers of its own."""
    if "\r" in value or "\n" in value:
        raise ValueError(f"header {name} contains a line break: {value!r}")
    return value


@dataclass(frozen=True)
class WireAddress:
    """An address as it goes on the wire: the domain as A-labels (IDNA), and whether the local
    part is not ASCII, which only a relay that offers SMTPUTF8 (RFC 6531) can carry."""

    address: str
    smtputf8: bool = False


def wire_address(address: str) -> WireAddress:
    """'josé@bücher.example' -> WireAddress('josé@xn--bcher-kva.example', smtputf8=True)."""
    if address.isascii():
        return WireAddress(address)
    try:
        valid = validate_email(address, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError as exc:
        raise ValueError(f"address {address!r} cannot be sent: {exc}") from exc
    if valid.ascii_email:
        return WireAddress(valid.ascii_email)
    return WireAddress(f"{valid.local_part}@{valid.ascii_domain}", smtputf8=True)


def format_address(address: str, name: str | None = None) -> str:
    """'Name <addr>' with the display name RFC 2047-encoded when it is not plain ASCII.

    With `name`, `address` is a bare address and is not parsed again (the fast path). An IDN
    domain is written as A-labels; a non-ASCII local part stays UTF-8, and then so does the
    name (RFC 6532: such a message only travels with SMTPUTF8).
    """
    if name is None:
        name, address = parseaddr(check_header_value("address", address))
    check_header_value("name", name)
    if address.isascii():
        return _named(name, address)
    wire = wire_address(address)
    if not wire.smtputf8:
        return _named(name, wire.address)
    return f'"{quote(name)}" <{wire.address}>' if name else wire.address


def _named(name: str, address: str) -> str:
    if name.isascii():
        return formataddr((name, address))  # quoted where it needs to be
    return f"{_encode('name', name)} <{address}>"


def build_mime(
    *,
    from_header: str,
    to_header: str,
    subject: str,
    html: str,
    text: str,
    message_id: str,
    date: str,
    extra_headers: Iterable[tuple[str, str]] = (),
) -> bytes:
    """A complete RFC 5322 message (CRLF line ends) with a text and an HTML part.

    Every header is on one line (never folded), so a DKIM signature over it cannot be broken
    by a refold between here and the relay.

    `from_header` and `to_header` are formatted addresses (see `format_address`).
    """
    boundary = "=_" + secrets.token_hex(12)
    headers = [
        ("From", from_header),
        ("To", to_header),
        ("Subject", _encode("Subject", subject)),
        ("Date", date),
        ("Message-ID", message_id),
        *extra_headers,
        ("MIME-Version", "1.0"),
        ("Content-Type", f'multipart/alternative; boundary="{boundary}"'),
    ]
    lines = [f"{name}: {check_header_value(name, value)}" for name, value in headers]
    head = CRLF.join([*lines, "", f"--{boundary}", ""])
    delimiter = f"\r\n--{boundary}".encode("ascii")
    return b"".join(
        [
            head.encode("utf-8"),  # ASCII but for an SMTPUTF8 address (format_address)
            _PART_HEAD % b"plain",
            _quoted_printable(text.replace("\r\n", "\n")),
            delimiter + b"\r\n",
            _PART_HEAD % b"html",
            _quoted_printable(html.replace("\r\n", "\n")),
            delimiter + b"--\r\n",
        ]
    )


def list_headers(
    unsubscribe_url: str, list_key: str, domain: str, mailto: str = ""
) -> list[tuple[str, str]]:
    """RFC 2369 / RFC 8058 headers of a marketing email: unsubscribe targets and List-Id.

    The mailto target (when an address is configured) carries the unsubscribe token in its
    subject, so whoever processes that mailbox can tell which message it answers.
    """
    targets = f"<{unsubscribe_url}>"
    if mailto:
        token = unsubscribe_url.rsplit("/", 1)[-1]
        targets += f", <mailto:{mailto}?subject=unsubscribe%20{token}>"
    return [
        ("List-Unsubscribe", targets),
        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        ("List-Id", f"{list_key} <{list_key}.{domain}>"),
    ]


def _quoted_printable(body: str) -> bytes:
    """`quopri.encodestring` of the UTF-8 body, with CRLF line ends, made line by line.

    Quoted-printable encodes each line on its own (its soft breaks and the escaping of its
    trailing space depend on that line alone), so the lines that are the same in every message
    of a step, most of them, are encoded once and looked up after that. A body with a CR left
    in it is encoded whole: there, the encoder reads the line ends.
    """
    if "\r" in body:
        return _encoded(body)
    lines = body.split("\n")
    last = lines.pop()
    if len(_LINES) > _LINES_KEPT:
        _LINES.clear()  # a recipient's own lines add up; the step's come back with the next
    encoded = [_LINES.get(line) or _LINES.setdefault(line, _encoded(line + "\n")) for line in lines]
    encoded.append(_encoded(last))
    return b"".join(encoded)


def _encoded(text: str) -> bytes:
    return binascii.b2a_qp(text.encode("utf-8")).replace(b"\n", b"\r\n")


def _encode(field: str, value: str) -> str:
    """`value` as is when ASCII, else RFC 2047 encoded words of at most 75 characters each
    (a Subject, a display name), on ONE line: separated by a space rather than folded, so the
    header is signed and checked exactly as it is sent."""
    check_header_value(field, value)
    if value.isascii():
        return value
    return Header(value, "utf-8", maxlinelen=75).encode(linesep="\n").replace("\n ", " ")
