"""`campaign inbox poll` against a real Dovecot: the fixture corpus delivered by IMAP APPEND."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from email.message import EmailMessage

import pytest

from campaign_engine.core.config import Settings
from campaign_engine.store.db import Database
from tests.conftest import SmtpSink, free_port
from tests.dovecot import DOVECOT, PASSWORD, USER, Dovecot, running_dovecot
from tests.helpers import CAMPAIGN, campaign_cli, tick
from tests.inbound_expect import CORPUS, EMAIL_1, READ_AT, assert_engine_acted, kinds_recorded
from tests.inbound_fixtures import (
    DANA,
    inbound_config,
    launched_fixture,  # noqa: F401  (fixture)
)
from tests.inbound_mail import BAD_SUBJECT, fill, poison_bounce, refuse_events_noting

pytestmark = pytest.mark.skipif(
    not DOVECOT.exists(),
    reason="Dovecot is absent: `make test` installs Debian's dovecot-imapd when run as root",
)


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    with running_dovecot(free_port()) as server:
        yield server


@pytest.fixture(name="inbound_settings")
def imap_settings(settings: Settings, dovecot: Dovecot) -> Settings:
    return inbound_config(
        settings,
        host='"127.0.0.1"',
        port=str(dovecot.port),
        use_tls="false",
        username=f'"{USER}"',
        password=f'"{PASSWORD}"',
    )


def poll(settings: Settings) -> str:
    result = campaign_cli(settings, "inbox", "poll", "--now", READ_AT.isoformat())
    assert result.returncode == 0, result.stdout + result.stderr
    return " ".join(result.stdout.split())


def test_a_poll_handles_every_message_once_and_files_it_away(
    launched: str,
    db: Database,
    inbound_settings: Settings,
    smtp_sink: SmtpSink,
    dovecot: Dovecot,
) -> None:
    tick(db, inbound_settings, EMAIL_1)
    for name in CORPUS:
        dovecot.append(fill(db, name))
    subjects = dovecot.subjects("INBOX")

    output = poll(inbound_settings)
    assert "INBOX uid 1: reply ada@tiny.example (email 1, matched by in-reply-to)" in output
    assert "1 unmatched" in output and "4 reply" in output and "3 bounce" in output
    assert dovecot.subjects("INBOX") == []
    assert dovecot.subjects("Unmatched") == ["Re: Are you getting the most out of GitLab?"]
    processed = dovecot.subjects("Processed")
    assert len(processed) == len(CORPUS) - 1
    assert sorted([*processed, *dovecot.subjects("Unmatched")]) == subjects  # nothing deleted
    recorded = kinds_recorded(db)

    assert poll(inbound_settings) == "inbox: no new mail"  # a second poll changes nothing
    # Someone moves a handled message back: it is recognised and filed again, nothing repeats.
    with dovecot.mailbox() as box:
        box.folder.set("Processed")
        first = next(iter(box.uids()))
        box.move([first], "INBOX")
    assert "already handled" in poll(inbound_settings)
    assert dovecot.subjects("INBOX") == []
    assert kinds_recorded(db) == recorded
    assert_engine_acted(db, inbound_settings, smtp_sink)


def test_a_wrong_password_is_one_clear_line_and_nothing_is_read(
    launched: str, db: Database, inbound_settings: Settings, dovecot: Dovecot
) -> None:
    dovecot.append(b"From: a@b.example\r\nSubject: hello\r\nMessage-ID: <1@b>\r\n\r\nhi\r\n")
    doctor = " ".join(campaign_cli(inbound_settings, "doctor").stdout.split())
    assert f"ok inbox: replies@127.0.0.1:{dovecot.port} logs in; INBOX holds 1 message(s)" in doctor
    assert "ok reply_to: marketing mail replies to replies@gitlab-demo.example with a signed" in (
        doctor
    )
    assert "ok bounce_address: Return-Path bounces@gitlab-demo.example" in doctor
    config = inbound_settings.config_path
    config.write_text(config.read_text().replace(f'"{PASSWORD}"', '"not-the-password"'))
    doctor = " ".join(campaign_cli(inbound_settings, "doctor").stdout.split())
    assert "error inbox: inbox: 127.0.0.1 refused the login of 'replies'" in doctor
    result = campaign_cli(inbound_settings, "inbox", "poll")
    assert result.returncode == 1
    assert "refused the login of 'replies'" in result.stderr
    assert "CAMPAIGN_INBOX_PASSWORD" in result.stderr
    assert dovecot.subjects("INBOX") == ["hello"]
    assert kinds_recorded(db) == {}


def test_campaign_run_polls_the_inbox_and_the_rep_is_alerted(
    launched: str,
    db: Database,
    inbound_settings: Settings,
    smtp_sink: SmtpSink,
    dovecot: Dovecot,
) -> None:
    tick(db, inbound_settings, EMAIL_1)
    config = inbound_settings.config_path
    config.write_text(
        config.read_text().replace("[smtp]", "tick_seconds = 0.3\ninbox_poll_seconds = 0.3\n[smtp]")
    )
    dovecot.append(fill(db, "gmail-reply-en.eml"))
    env = {**os.environ, "CAMPAIGN_CONFIG": str(config)}
    process = subprocess.Popen(
        [CAMPAIGN, "run", "--no-web"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 30
        while not _alerts(smtp_sink) and time.monotonic() < deadline:
            time.sleep(0.1)
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)
    finally:
        process.kill()
    (alert,) = _alerts(smtp_sink)
    assert alert["Reply-To"].addresses[0].addr_spec == "ada@tiny.example"
    assert dovecot.subjects("Processed") == ["Re: Are you getting the most out of GitLab?"]
    assert kinds_recorded(db) == {"reply": 1}


def _alerts(sink: SmtpSink) -> list[EmailMessage]:
    return [m for m in sink.to(DANA) if m["X-Campaign-Alert"] == "contact_request"]


def test_a_message_that_cannot_be_handled_is_tried_3_times_then_moved_to_the_failed_folder(
    launched: str, db: Database, inbound_settings: Settings, dovecot: Dovecot
) -> None:
    tick(db, inbound_settings, EMAIL_1)
    refuse_events_noting(db, "poison")
    for raw in (BAD_SUBJECT, poison_bounce(db), fill(db, "gmail-reply-en.eml")):
        dovecot.append(raw)
    args = ["inbox", "poll", "--now", READ_AT.isoformat()]

    first = campaign_cli(inbound_settings, *args)
    assert first.returncode == 1
    (line,) = first.stderr.splitlines()
    assert line.startswith("INBOX uid 2: not handled, attempt 1 of 3 (")
    assert "the store refuses poison" in line
    assert line.endswith("; left in place for the next poll")
    assert "INBOX uid 3: reply ada@tiny.example" in " ".join(first.stdout.split())
    assert dovecot.subjects("Processed") == ["Re: Are you getting the most out of GitLab?"]
    assert kinds_recorded(db) == {"unmatched": 1, "reply": 1}  # the undecodable subject: read
    assert dovecot.subjects("INBOX") == ["Undelivered Mail Returned to Sender"]

    second = campaign_cli(inbound_settings, *args)
    assert "INBOX uid 2: not handled, attempt 2 of 3" in second.stderr
    assert dovecot.subjects("INBOX") == ["Undelivered Mail Returned to Sender"]
    third = campaign_cli(inbound_settings, *args)
    assert third.returncode == 1
    assert "INBOX uid 2: not handled after 3 attempts (" in third.stderr
    assert third.stderr.rstrip().endswith("; moved to Failed")
    assert dovecot.subjects("INBOX") == []
    assert dovecot.subjects("Failed") == ["Undelivered Mail Returned to Sender"]
    assert poll(inbound_settings) == "inbox: no new mail"
    assert kinds_recorded(db) == {"unmatched": 1, "reply": 1}
