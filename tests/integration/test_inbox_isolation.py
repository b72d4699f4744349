"""One bad message is that message's problem: the rest of the mailbox is handled, and it is tried
at most 3 times (`campaign inbox import`; `inbox poll` is in test_inbox_imap.py)."""

from __future__ import annotations

import mailbox
from pathlib import Path

from sqlmodel import select

from campaign_engine.core.config import Settings
from campaign_engine.inbound.actions import Handled
from campaign_engine.inbound.pipeline import process_isolated
from campaign_engine.store.db import Database
from campaign_engine.store.inbound_tables import InboundFailure
from campaign_engine.store.models import Enrollment, Suppression
from tests.helpers import campaign_cli, tick
from tests.inbound_expect import EMAIL_1, READ_AT, kinds_recorded
from tests.inbound_fixtures import (
    inbound_settings_fixture,  # noqa: F401  (fixture)
    launched_fixture,  # noqa: F401  (fixture)
)
from tests.inbound_mail import BAD_SUBJECT, fill, poison_bounce, refuse_events_noting
from tests.malformed_mail import malformed_corpus


def test_a_bad_message_in_an_mbox_is_named_once_and_the_reply_after_it_is_acted_on(
    launched: str, db: Database, inbound_settings: Settings, tmp_path: Path
) -> None:
    tick(db, inbound_settings, EMAIL_1)
    refuse_events_noting(db, "poison")
    box = mailbox.mbox(tmp_path / "inbox.mbox")
    for raw in (BAD_SUBJECT, poison_bounce(db), fill(db, "gmail-reply-en.eml")):
        box.add(raw)
    box.close()
    args = ["inbox", "import", str(tmp_path / "inbox.mbox"), "--now", READ_AT.isoformat()]

    result = campaign_cli(inbound_settings, *args)
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith("inbox.mbox #2: not handled, attempt 1 of 3 (")
    assert "the store refuses poison" in line
    assert "inbox.mbox #1: unmatched" in result.stdout
    assert "inbox.mbox #3: reply ada@tiny.example (email 1, matched by in-reply-to)" in (
        " ".join(result.stdout.split())
    )
    assert kinds_recorded(db) == {"unmatched": 1, "reply": 1}
    with db.session() as session:
        stopped = session.exec(select(Enrollment.stop_reason).where(Enrollment.status == "stopped"))
        assert stopped.all() == ["contact request"]
        assert session.exec(select(Suppression)).all() == []  # nothing half-done

    second = campaign_cli(inbound_settings, *args)
    assert "inbox.mbox #2: not handled, attempt 2 of 3" in second.stderr
    third = campaign_cli(inbound_settings, *args)
    assert "inbox.mbox #2: not handled after 3 attempts (" in third.stderr
    fourth = campaign_cli(inbound_settings, *args)  # not tried again
    assert (fourth.returncode, fourth.stderr) == (1, third.stderr)
    assert fourth.stdout.count("already handled") == 2
    with db.session() as session:
        (failure,) = session.exec(select(InboundFailure)).all()
    assert (failure.attempts, failure.source) == (3, "inbox.mbox #2")


def test_a_message_that_fails_once_and_then_succeeds_is_handled_and_forgotten(
    launched: str, db: Database, inbound_settings: Settings
) -> None:
    tick(db, inbound_settings, EMAIL_1)
    refuse_events_noting(db, "poison")
    raw = poison_bounce(db)
    failed = process_isolated(db, inbound_settings, raw, "a.eml", READ_AT)
    assert str(failed).startswith("not handled, attempt 1 of 3")
    with db.session() as session:
        session.connection().exec_driver_sql("DROP TRIGGER refuse_poison" + _on_event(db))
    handled = process_isolated(db, inbound_settings, raw, "a.eml", READ_AT)
    assert isinstance(handled, Handled) and handled.kind == "bounce"
    with db.session() as session:
        assert session.exec(select(InboundFailure)).all() == []


def test_every_malformed_message_is_handled_without_a_failure(
    launched: str, db: Database, inbound_settings: Settings
) -> None:
    outcomes = {
        name: process_isolated(db, inbound_settings, raw, name, READ_AT)
        for name, raw in malformed_corpus(count=120)
    }
    failed = {name: str(o) for name, o in outcomes.items() if not isinstance(o, Handled)}
    assert failed == {}


def _on_event(db: Database) -> str:
    return "" if db.engine.dialect.name == "sqlite" else " ON event"
