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
from tests.conftest import SECRET
from tests.inbound_fixtures import BOUNCES, REPLIES

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
    return fill_text(db, (DATA / name).read_text(encoding="utf-8"))


def fill_text(db: Database, text: str) -> bytes:
    """A message's text with its placeholders filled, CRLF line ends."""
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

    return _PLACEHOLDER.sub(value, text).replace("\r\n", "\n").replace("\n", "\r\n").encode()


def refuse_events_noting(db: Database, word: str) -> None:
    """A fault in the store: the database refuses to record an event whose note has `word` (a
    trigger), so the mail that causes it cannot be handled however often it is tried."""
    with db.session() as session:
        connection = session.connection()
        if db.engine.dialect.name == "sqlite":
            connection.exec_driver_sql(
                f"CREATE TRIGGER refuse_{word} BEFORE INSERT ON event WHEN"
                f" instr(NEW.note, '{word}') > 0 BEGIN SELECT RAISE(ABORT, 'the store refuses {word}'); END"
            )
            return
        connection.exec_driver_sql(
            f"CREATE OR REPLACE FUNCTION refuse_{word}() RETURNS trigger AS $$ BEGIN IF"
            f" position('{word}' in NEW.note) > 0 THEN RAISE EXCEPTION 'the store refuses {word}'; END IF;"
            " RETURN NEW; END $$ LANGUAGE plpgsql"
        )
        connection.exec_driver_sql(
            f"CREATE TRIGGER refuse_{word} BEFORE INSERT ON event FOR EACH ROW"
            f" EXECUTE FUNCTION refuse_{word}()"
        )


def poison_bounce(db: Database) -> bytes:
    """A genuine bounce for gone@nowhere.example that the store will not record (see
    `refuse_events_noting(db, "poison")`)."""
    return fill(db, "postfix-dsn-hard.eml").replace(b"Recipient address", b"poison address")


BAD_SUBJECT = (
    b"From: someone@elsewhere.example\r\nTo: replies@gitlab-demo.example\r\n"
    b"Subject: =?x-unknown-charset?B?!!!notbase64?=\r\nMessage-ID: <bad-subject@elsewhere.example>"
    b"\r\n\r\nhello\r\n"
)
