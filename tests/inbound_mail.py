"""Fixture mail of tests/data/inbound: placeholders filled with what the engine really sent.

`{{ID:addr}}` the Message-ID of the first email to addr, `{{REPLY:addr}}` / `{{BOUNCE:addr}}`
its signed Reply-To / VERP addresses, `{{UNSUB:addr}}` its unsubscribe token,
`{{FORGED:addr}}` a reply address with a tag for that message signed with the wrong secret.
"""

from __future__ import annotations

import re
from pathlib import Path

from sqlmodel import col, select

from campaign_engine.core.tokens import TokenKind, TokenSigner
from campaign_engine.sending.reply_addresses import tagged
from campaign_engine.store.db import Database
from campaign_engine.store.models import Message
from tests.inbound_fixtures import BOUNCES, REPLIES, SECRET

DATA = Path(__file__).resolve().parent / "data" / "inbound"
_PLACEHOLDER = re.compile(r"\{\{(ID|REPLY|BOUNCE|UNSUB|FORGED):([^}]+)\}\}")


def first_message(db: Database, address: str) -> Message:
    with db.session() as session:
        message = session.exec(
            select(Message).where(Message.recipient == address).order_by(col(Message.step))
        ).first()
        assert message is not None, f"nothing was sent to {address}"
        session.expunge(message)
        return message


def fill(db: Database, name: str) -> bytes:
    signer = TokenSigner(SECRET)

    def value(match: re.Match[str]) -> str:
        kind, address = match.groups()
        message = first_message(db, address)
        assert message.id is not None
        if kind == "ID":
            return message.message_id_header
        if kind == "REPLY":
            return tagged(REPLIES, signer.sign_tag(TokenKind.REPLY, message.id))
        if kind == "BOUNCE":
            return tagged(BOUNCES, signer.sign_tag(TokenKind.BOUNCE, message.id))
        if kind == "UNSUB":
            return signer.sign(TokenKind.UNSUBSCRIBE, message.id)
        forged = TokenSigner("not-our-secret").sign_tag(TokenKind.REPLY, message.id)
        return tagged(REPLIES, forged)

    text = (DATA / name).read_text(encoding="utf-8")
    return _PLACEHOLDER.sub(value, text).replace("\r\n", "\n").replace("\n", "\r\n").encode()
