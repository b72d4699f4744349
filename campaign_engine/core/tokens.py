"""Signed, opaque tracking tokens: nothing guessable, nothing enumerable.

A token carries (kind, message id, link index) and a truncated HMAC-SHA256 over them, so a
token for one message or link cannot be turned into another without the secret.

The same signed bytes also serve as address tags (`replies+TAG@`, `bounces+TAG@`): there they
are base32 in lower case, because mail systems may change the case of a local part.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import struct
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["TokenKind", "TokenPayload", "TokenSigner"]

_LAYOUT = struct.Struct(">cQH")  # kind, message id, link index
_MAC_BYTES = 16
_TOKEN_LENGTH = len(base64.urlsafe_b64encode(b"\0" * (_LAYOUT.size + _MAC_BYTES)).rstrip(b"="))
_TAG_LENGTH = len(base64.b32encode(b"\0" * (_LAYOUT.size + _MAC_BYTES)).rstrip(b"="))
_TAG = re.compile(rf"[a-z2-7]{{{_TAG_LENGTH}}}")


class TokenKind(StrEnum):
    OPEN = "o"
    CLICK = "t"
    CONTACT = "c"
    UNSUBSCRIBE = "u"
    REPLY = "r"  # the Reply-To sub-address of one message
    BOUNCE = "b"  # the VERP envelope sender of one message


@dataclass(frozen=True)
class TokenPayload:
    kind: TokenKind
    message_id: int
    link_index: int = 0


class TokenSigner:
    """Signs and verifies tokens with a key derived from the configured secret."""

    def __init__(self, secret: str) -> None:
        if not secret:
            raise ValueError("secret must not be empty")
        key = hashlib.sha256(b"campaign-engine/tokens/v1\0" + secret.encode()).digest()
        # Keyed once, copied per token: the one-shot hmac.digest() releases the GIL around
        # OpenSSL's call, so with another thread busy (the tracking writer, the send path's
        # group commits) every token waited to get it back: 2.4 ms a token instead of 1 us.
        self._keyed = hmac.new(key, digestmod=hashlib.sha256)

    def __repr__(self) -> str:
        return "TokenSigner(secret=***)"

    def sign(self, kind: TokenKind, message_id: int, link_index: int = 0) -> str:
        return (
            base64.urlsafe_b64encode(self._signed(kind, message_id, link_index))
            .rstrip(b"=")
            .decode()
        )

    def verify(self, token: str) -> TokenPayload | None:
        """The payload of a genuine token, or None for anything forged, truncated or malformed."""
        if len(token) != _TOKEN_LENGTH:
            return None
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            return None
        if base64.urlsafe_b64encode(raw).rstrip(b"=").decode() != token:
            return None  # one spelling only: '+', '/', stray bits are another token, not this
        return self._open(raw)

    def sign_tag(self, kind: TokenKind, message_id: int) -> str:
        """The token as an address tag: lower-case base32, safe in any local part."""
        return base64.b32encode(self._signed(kind, message_id, 0)).rstrip(b"=").decode().lower()

    def verify_tag(self, tag: str) -> TokenPayload | None:
        """The payload of a genuine address tag (any case), or None."""
        tag = tag.lower()
        if not _TAG.fullmatch(tag):
            return None
        try:
            raw = base64.b32decode(tag.upper() + "=" * (-len(tag) % 8))
        except (binascii.Error, ValueError):
            return None
        return self._open(raw)

    def _signed(self, kind: TokenKind, message_id: int, link_index: int) -> bytes:
        payload = _LAYOUT.pack(kind.value.encode(), message_id, link_index)
        return payload + self._mac(payload)

    def _open(self, raw: bytes) -> TokenPayload | None:
        payload, mac = raw[: _LAYOUT.size], raw[_LAYOUT.size :]
        if not hmac.compare_digest(mac, self._mac(payload)):
            return None
        kind, message_id, link_index = _LAYOUT.unpack(payload)
        try:
            return TokenPayload(TokenKind(kind.decode()), message_id, link_index)
        except (ValueError, UnicodeDecodeError):
            return None

    def _mac(self, payload: bytes) -> bytes:
        mac = self._keyed.copy()
        mac.update(payload)
        return mac.digest()[:_MAC_BYTES]
