"""A generated corpus of malformed mail: what a reply mailbox receives from broken or hostile
senders. Deterministic (seeded), so a failure names the same message every run."""

from __future__ import annotations

import random
from collections.abc import Iterator

__all__ = ["malformed_corpus"]

_BAD_WORDS = [
    "=?x-unknown-charset?B?!!!notbase64?=",
    "=?utf-8?B?!!!notbase64?=",
    "=?utf-8?Q?=ZZ=?=",
    "=?utf-8?B?w6k?=",  # base64 without its padding
    "=?iso-2022-jp?B?GyRCJCIbKEI?==?utf-8?B?",
    "=?utf-16?B?2D3eAA==?=",  # a lone surrogate
    "=??B?aGk=?=",
    "=?utf-8*de?Q?x?=",
]
_GARBAGE = [
    b"\xff\xfe\x00\x00\x80\x81",
    b"\x00\x00\x00",
    b"\xc3\x28\xa0\xa1\xe2\x28\xa1",
    bytes(range(256)),
    b"\r\r\n\n\r",
]
_HEADERS = ["From", "To", "Cc", "Subject", "Message-ID", "In-Reply-To", "References",
            "Return-Path", "Content-Type", "Content-Transfer-Encoding", "Delivered-To",
            "Auto-Submitted", "X-Failed-Recipients", "Date"]  # fmt: skip
_ADDRESSES = ["", "<>", "<<<>>>", "a@", "@b", "\"unterminated <x@y>", "x@y.example, , ,",
              "=?utf-8?B?!!?= <a@b.example>", "rfc822;", "group: a@b.example, c@d;", "<@>"]  # fmt: skip
_TYPES = ["multipart/mixed", "multipart/report; report-type=feedback-report",
          "multipart/report; report-type=delivery-status", "message/rfc822",
          "message/delivery-status", "message/feedback-report", "text/rfc822-headers",
          "text/plain; charset=x-unknown", "text/html; charset=\"", "multipart/alternative;"
          " boundary=", "application/octet-stream", ";;;", "multipart/report; boundary=\"b\""
          "; report-type"]  # fmt: skip


def malformed_corpus(count: int = 300, seed: int = 28) -> Iterator[tuple[str, bytes]]:
    """(what it is, raw bytes): hand-made cases first, then `count` random mixtures."""
    yield (
        "unknown charset, bad base64 subject",
        (
            b"From: a@b.example\r\nSubject: =?x-unknown-charset?B?!!!notbase64?=\r\n"
            b"Message-ID: <bad-subject@b.example>\r\n\r\nhi\r\n"
        ),
    )
    yield "empty", b""
    yield "no headers", b"\r\n\r\njust a body\r\n"
    yield "8-bit garbage only", bytes(range(256)) * 8
    yield (
        "missing boundary",
        (b"From: a@b.example\r\nContent-Type: multipart/mixed\r\n\r\n--x\r\nhi\r\n--x--\r\n"),
    )
    yield (
        "boundary never closed",
        (
            b"From: a@b.example\r\nContent-Type: multipart/report; report-type=delivery-status; "
            b'boundary="q"\r\n\r\n--q\r\nContent-Type: message/delivery-status\r\n\r\n'
            b"Final-Recipient: rfc822\r\nStatus: \r\n\r\nAction:\r\n--q\r\nContent-Type: message/rfc822"
        ),
    )
    yield "nested message/rfc822, 400 deep", _nested(400)
    yield "nested multipart, 400 deep", _nested_multipart(400)
    yield "a 2 MB header", b"From: a@b.example\r\nSubject: " + b"x" * 2_000_000 + b"\r\n\r\nhi"
    yield (
        "a 50,000 encoded words",
        (b"From: a@b.example\r\nSubject: " + b"=?utf-8?B?!!?= " * 50_000 + b"\r\n\r\nhi"),
    )
    yield (
        "a 3,000-byte Message-ID",
        (b"From: a@b.example\r\nMessage-ID: <" + "é".encode() * 1500 + b"@b>\r\n\r\nhi"),
    )
    yield "NUL bytes everywhere", b"From: a\x00@b.example\r\nSubject: a\x00b\r\n\r\nx\x00y"
    yield "100,000 headers", b"X-A: 1\r\n" * 100_000 + b"\r\nhi"
    yield (
        "ARF with garbage report",
        (
            b"From: fbl@isp.example\r\nContent-Type: multipart/report; report-type=feedback-report;"
            b' boundary="b"\r\n\r\n--b\r\nContent-Type: message/feedback-report\r\n'
            b"Content-Transfer-Encoding: base64\r\n\r\n!!!!\r\n--b\r\n"
            b"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
            b"\xff\xfe=ZZ\r\n--b--\r\n"
        ),
    )
    rng = random.Random(seed)
    for number in range(count):
        yield f"random mixture {number}", _random_message(rng)


def _nested(depth: int) -> bytes:
    inner = b"From: a@b.example\r\nSubject: bottom\r\n\r\nhi\r\n"
    for _ in range(depth):
        inner = b"Content-Type: message/rfc822\r\n\r\n" + inner
    return b"From: a@b.example\r\n" + inner


def _nested_multipart(depth: int) -> bytes:
    body = b"Content-Type: text/plain\r\n\r\nbottom\r\n"
    for level in range(depth):
        mark = f"b{level}".encode()
        body = (
            b'Content-Type: multipart/mixed; boundary="' + mark + b'"\r\n\r\n--' + mark + b"\r\n"
            + body + b"\r\n--" + mark + b"--\r\n"
        )  # fmt: skip
    return b"From: a@b.example\r\n" + body


def _random_message(rng: random.Random) -> bytes:
    lines: list[bytes] = []
    for _ in range(rng.randint(0, 12)):
        name = rng.choice(_HEADERS)
        value = rng.choice([rng.choice(_BAD_WORDS), rng.choice(_ADDRESSES), rng.choice(_TYPES),
                            rng.choice(_GARBAGE).decode("latin-1"), "<" * rng.randint(1, 50)])  # fmt: skip
        lines.append(f"{name}: {value}".encode("utf-8", "surrogateescape"))
    boundary = rng.choice([b"b", b"", b"--", b'"'])
    lines.append(
        b"Content-Type: " + rng.choice(_TYPES).encode() + b'; boundary="' + boundary + b'"'
    )
    body = [b""]
    for _ in range(rng.randint(0, 6)):
        body.append(b"--" + boundary + rng.choice([b"", b"--", b"\x00"]))
        body.append(b"Content-Type: " + rng.choice(_TYPES).encode())
        body.append(rng.choice([b"Content-Transfer-Encoding: base64", b"Content-Transfer-Encoding:"
                                b" quoted-printable", b"Content-Transfer-Encoding: x-uue", b""]))  # fmt: skip
        body.append(b"")
        body.append(rng.choice(_GARBAGE) + rng.choice(_BAD_WORDS).encode())
        body.append(b"Final-Recipient: " + rng.choice(_ADDRESSES).encode())
        body.append(b"Original-Rcpt-To: " + rng.choice(_ADDRESSES).encode())
        body.append(b"Status: " + rng.choice([b"5.1.1", b"", b"x", b"4"]))
    newline = rng.choice([b"\r\n", b"\n", b"\r"])
    return newline.join(lines + body)
