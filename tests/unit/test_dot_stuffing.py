"""The content written after DATA: CRLF line ends and leading dots doubled (RFC 5321 4.5.2)."""

from __future__ import annotations

import random
import re

import pytest

from campaign_engine.sending.smtp_client import _dot_stuffed


def _by_regex(raw: bytes) -> bytes:
    return re.sub(rb"(?m)^\.", b"..", re.sub(rb"\r\n|\r|\n", b"\r\n", raw))


@pytest.mark.parametrize(
    ("raw", "wire"),
    [
        (b"a\r\nb\r\n", b"a\r\nb\r\n"),
        (b".a\r\n.\r\nb", b"..a\r\n..\r\nb"),
        (b"a\nb\rc\r\n", b"a\r\nb\r\nc\r\n"),
        (b"a\n.b", b"a\r\n..b"),
        (b"a\r.b", b"a\r\n..b"),
    ],
)
def test_line_ends_and_leading_dots(raw: bytes, wire: bytes) -> None:
    assert _dot_stuffed(raw) == wire


def test_same_as_substituting_every_line() -> None:
    rng = random.Random(5)
    pieces = [b"a", b".", b"..", b"\r\n", b"\r", b"\n", b" ", b"\r\n."]
    for _ in range(3000):
        raw = b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 20)))
        assert _dot_stuffed(raw) == _by_regex(raw), raw
