"""Where replies and bounces to a marketing email go: Reply-To and the VERP envelope sender.

`replies+TAG@example.com` and `bounces+TAG@example.com` carry a signed tag naming the message
(core.tokens), so whatever comes back identifies what we sent even when it quotes nothing,
and a made-up tag matches nothing.
"""

from __future__ import annotations

from email.utils import parseaddr
from functools import lru_cache

from campaign_engine.core.config import Settings
from campaign_engine.core.tokens import TokenKind, TokenSigner
from campaign_engine.sending.mime import format_address

__all__ = ["SEPARATOR", "envelope_sender", "reply_to_header", "tag_of", "tagged"]

SEPARATOR = "+"  # sub-address separator (Postfix recipient_delimiter, Gmail, Dovecot)


def tagged(address: str, tag: str) -> str:
    """'replies@example.com' + tag -> 'replies+tag@example.com'."""
    local, _, domain = address.rpartition("@")
    return f"{local}{SEPARATOR}{tag}@{domain}"


def tag_of(address: str, base: str) -> str | None:
    """The tag of `address` when it is `base` with a sub-address ('replies+TAG@...'), else None."""
    if not base or "@" not in address:
        return None
    local, _, domain = address.strip().lower().rpartition("@")
    base_local, _, base_domain = base.lower().rpartition("@")
    prefix = base_local + SEPARATOR
    if domain != base_domain or not local.startswith(prefix):
        return None
    return local[len(prefix) :] or None


def reply_to_header(
    settings: Settings,
    signer: TokenSigner,
    message_id: int,
    rep_name: str,
    rep_email: str,
) -> str | None:
    """Reply-To of one marketing email: the reply mailbox (tagged when sub-addressing is on),
    shown with the rep's name; without a reply mailbox, the owning rep; None when neither."""
    if settings.reply_to:
        address = settings.reply_to
        if settings.reply_subaddress:
            address = tagged(address, signer.sign_tag(TokenKind.REPLY, message_id))
        return format_address(address, rep_name) if rep_name else address
    if rep_email:
        return format_address(rep_email, rep_name)
    return None


def envelope_sender(settings: Settings, signer: TokenSigner, message_id: int) -> str:
    """The envelope sender (Return-Path): bounces+TAG@... when `bounce_address` is set, else
    the From address."""
    if settings.bounce_address:
        return tagged(settings.bounce_address, signer.sign_tag(TokenKind.BOUNCE, message_id))
    return _bare_address(settings.from_address)


@lru_cache(maxsize=16)
def _bare_address(address: str) -> str:
    """'Name <a@b>' -> 'a@b', parsed once per configured address rather than per message."""
    return parseaddr(address)[1]
