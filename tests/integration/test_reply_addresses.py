"""Replies and bounces come back to us: Reply-To and the VERP envelope sender of outgoing mail."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import col, select

from campaign_engine.audience.imports import import_contacts, import_reps
from campaign_engine.core.config import Settings, load_settings
from campaign_engine.core.tokens import TokenKind, TokenSigner
from campaign_engine.engine.launch import launch
from campaign_engine.reps.repsend import send_draft
from campaign_engine.sending.transport import make_transport
from campaign_engine.store.db import Database
from campaign_engine.store.models import Draft, Message
from tests.conftest import SmtpSink
from tests.helpers import campaign_cli, tick, write_csv
from tests.inbound_fixtures import (
    BOUNCES,
    CONTACTS,
    DANA,
    LAUNCH_TIME,
    START,
    inbound_settings_fixture,  # noqa: F401  (fixture)
    launched_fixture,  # noqa: F401  (fixture)
)

EMAIL_1 = datetime(2021, 4, 27, 9, tzinfo=UTC)


def tag(address: str, base: str) -> str:
    local, domain = address.split("@")
    prefix = base.split("@")[0] + "+"
    assert local.startswith(prefix) and domain == base.split("@")[1], address
    return local[len(prefix) :]


def message_id_of(db: Database, email: str) -> int:
    with db.session() as session:
        (message,) = session.exec(select(Message).where(Message.recipient == email)).all()
        assert message.id is not None
        return message.id


def test_automated_mail_replies_to_a_signed_subaddress_and_bounces_to_verp(
    launched: str, db: Database, inbound_settings: Settings, smtp_sink: SmtpSink
) -> None:
    tick(db, inbound_settings, EMAIL_1)
    signer = TokenSigner(inbound_settings.secret)
    (mail,) = smtp_sink.to("ada@tiny.example")
    (reply_to,) = mail["Reply-To"].addresses
    assert reply_to.display_name == "Dana Reyes"  # the rep who signs the email
    reply_tag = tag(reply_to.addr_spec, "replies@gitlab-demo.example")
    ada = message_id_of(db, "ada@tiny.example")
    assert signer.verify_tag(reply_tag) == signer.verify_tag(signer.sign_tag(TokenKind.REPLY, ada))
    (envelope,) = [e for e in smtp_sink.envelopes if e.rcpt_tos == ["ada@tiny.example"]]
    bounce = signer.verify_tag(tag(envelope.mail_from, BOUNCES))
    assert bounce is not None and (bounce.kind, bounce.message_id) == (TokenKind.BOUNCE, ada)
    # A tag names one message: grace's is another, and a reply tag is no bounce tag.
    (grace_mail,) = smtp_sink.to("grace@tiny.example")
    grace_tag = tag(grace_mail["Reply-To"].addresses[0].addr_spec, "replies@gitlab-demo.example")
    assert grace_tag != reply_tag
    assert signer.verify_tag(reply_tag.upper()) is not None  # a mail system may upper-case it
    assert signer.verify_tag(reply_tag[:-2] + "aa") is None


def test_without_a_reply_mailbox_automated_mail_replies_to_the_owning_rep(
    db: Database, settings: Settings, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    folder = tmp_path
    (folder / "reps.csv").write_text(f"email,name,title,timezone\n{DANA},Dana Reyes,AE,UTC\n")
    import_reps(db, folder / "reps.csv")
    import_contacts(db, write_csv(folder / "t.csv", CONTACTS[:1]), LAUNCH_TIME)
    launch(db, settings, "premium-to-ultimate", START, LAUNCH_TIME)
    tick(db, settings, EMAIL_1)
    (mail,) = smtp_sink.to("ada@tiny.example")
    assert str(mail["Reply-To"]) == f"Dana Reyes <{DANA}>"
    assert smtp_sink.envelopes[0].mail_from == "marketing@gitlab-demo.example"


def test_a_rep_draft_replies_to_the_mailbox_unless_the_rep_wants_replies_direct(
    launched: str, db: Database, inbound_settings: Settings, smtp_sink: SmtpSink
) -> None:
    with db.session() as session:
        drafts = session.exec(select(Draft).order_by(col(Draft.step))).all()
        first, second = drafts[0].id, drafts[1].id
    assert first is not None and second is not None

    async def send(draft: int) -> None:
        async with make_transport(inbound_settings) as transport:
            await send_draft(db, inbound_settings, transport, draft, None, EMAIL_1)

    asyncio.run(send(first))
    # the rep asks for replies straight to them, through the CLI
    sent = campaign_cli(
        inbound_settings, "drafts", "send", str(second), "--direct-replies",
        "--now", EMAIL_1.isoformat(),
    )  # fmt: skip
    assert sent.returncode == 0, sent.stderr
    via_mailbox, direct = smtp_sink.to("mia@midsize.example")
    assert via_mailbox["Reply-To"].addresses[0].display_name == "Tomás Herrera"
    assert via_mailbox["Reply-To"].addresses[0].addr_spec.startswith("replies+")
    assert direct["Reply-To"].addresses[0].addr_spec == "tomas.herrera@gitlab-demo.example"
    for envelope in smtp_sink.envelopes:
        assert envelope.mail_from.startswith("bounces+")
    assert load_settings(inbound_settings.config_path, environ={}).reply_subaddress
