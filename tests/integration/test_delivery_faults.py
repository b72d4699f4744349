"""A misbehaving relay never costs a contact an email and never suppresses anyone by mistake.

Each test runs a small SMB campaign against tests/faultrelay.py and checks what a user would
notice: what arrived at the relay, the message states, the suppression list, the pause line.
The faults at each stage of a transaction are met both ways the client talks to a relay: with
MAIL, RCPT and DATA in one write (the relay offers PIPELINING) and one command at a time.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from campaign_engine.core.config import Settings
from campaign_engine.core.kinds import MessageState
from campaign_engine.sending.relay_state import current_pause, describe_pause
from campaign_engine.store.db import Database
from campaign_engine.store.models import Message
from tests.delivery_setup import (
    DAY1,
    launch_smb,
    point_at,
    queue_rep_alert,
    state_of,
    states,
    suppressed,
)
from tests.faultrelay import fault_relay
from tests.helpers import tick

EMAILS = [f"c{i}@smb.example" for i in range(6)]


@pytest.fixture(params=[True, False], ids=["pipelined", "stepwise"])
def pipelining(request: pytest.FixtureRequest) -> bool:
    """Whether the relay offers PIPELINING (RFC 2920)."""
    return bool(request.param)


def pause_line(db: Database, settings: Settings) -> str:
    return describe_pause(current_pause(db), settings, DAY1)


def test_a_wrong_password_pauses_sending_and_the_fix_sends_everything_once(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    with fault_relay(username="ops", password="right") as relay:
        wrong = point_at(settings, relay.port, username="ops", password="wrong")
        launch_smb(db, wrong, EMAILS, tmp_path)
        queue_rep_alert(db)
        tick(db, wrong, DAY1)
        tick(db, wrong, DAY1 + timedelta(hours=1))  # still paused: no second failed login

        assert relay.received == []
        assert relay.logins["failed"] == 1
        # The alert goes first and meets the wrong password: no campaign email left the queue
        # (rep mail is served ahead of campaign batches, so they may not be queued yet).
        assert set(states(db)) <= {MessageState.QUEUED}
        with db.session() as session:
            assert all(m.attempts == 0 for m in session.exec(select(Message)).all())
        assert suppressed(db) == set()
        assert pause_line(db, wrong).startswith(
            "sending paused since 09:00: relay rejected login (535 5.7.8"
        )

        fixed = point_at(settings, relay.port, username="ops", password="right")
        tick(db, fixed, DAY1 + timedelta(hours=2))

        assert sorted(relay.arrived()) == sorted([*EMAILS, "rep@gitlab-demo.example"])
        assert set(relay.arrived().values()) == {1}
        assert states(db) == {MessageState.SENT: len(EMAILS)}
        assert current_pause(db) is None


def test_a_sender_refused_at_mail_from_pauses_with_backoff_and_resumes_by_itself(
    settings: Settings, db: Database, tmp_path: Path, pipelining: bool
) -> None:
    with fault_relay(
        mail_reply="553 5.1.8 sender domain has no MX", pipelining=pipelining
    ) as relay:
        settings = point_at(settings, relay.port)
        launch_smb(db, settings, EMAILS, tmp_path)
        tick(db, settings, DAY1)
        pause = current_pause(db)
        assert pause is not None and pause.resume_at is not None
        assert "relay rejected our sender (MAIL FROM) (553 5.1.8" in pause_line(db, settings)
        assert states(db) == {MessageState.QUEUED: len(EMAILS)}
        assert suppressed(db) == set()

        relay.mail_reply = ""
        tick(db, settings, DAY1 + timedelta(minutes=5))
        assert sorted(relay.arrived()) == EMAILS
        assert current_pause(db) is None


def test_a_policy_refusal_at_mail_from_waits_for_the_operator(
    settings: Settings, db: Database, tmp_path: Path, pipelining: bool
) -> None:
    with fault_relay(mail_reply="550 5.7.1 sender not authorised", pipelining=pipelining) as relay:
        settings = point_at(settings, relay.port)
        launch_smb(db, settings, EMAILS, tmp_path)
        tick(db, settings, DAY1)
        relay.mail_reply = ""
        tick(db, settings, DAY1 + timedelta(days=1))  # lasting: time alone does not lift it
        assert relay.received == []
        assert "campaign relay resume" in pause_line(db, settings)


def test_a_relay_that_is_down_or_says_421_loses_nobody(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    with fault_relay(greeting="421 4.3.2 service shutting down") as relay:
        settings = point_at(settings, relay.port)
        launch_smb(db, settings, EMAILS, tmp_path)
        for minutes in range(0, 180, 30):  # hours of ticks while it is down
            tick(db, settings, DAY1 + timedelta(minutes=minutes))
        assert states(db) == {MessageState.QUEUED: len(EMAILS)}
        relay.greeting = ""
        tick(db, settings, DAY1 + timedelta(hours=4))
        assert sorted(relay.arrived()) == EMAILS
        assert suppressed(db) == set()


def test_recipient_replies_bounce_fail_or_retry_by_their_enhanced_code(
    settings: Settings, db: Database, tmp_path: Path, pipelining: bool
) -> None:
    gone, unknown, policy, busy, fine = (f"{n}@smb.example" for n in "abcde")
    replies = {
        gone: "550 5.1.1 no such mailbox",
        unknown: "550 user unknown",
        policy: "550 5.7.1 message refused as spam",
        busy: "452 4.2.2 mailbox full, try later",
    }
    with fault_relay(rcpt_replies=dict(replies), pipelining=pipelining) as relay:
        settings = point_at(settings, relay.port)
        launch_smb(db, settings, [gone, unknown, policy, busy, fine], tmp_path)
        tick(db, settings, DAY1)
        assert state_of(db, gone).state == MessageState.BOUNCED
        assert state_of(db, unknown).state == MessageState.BOUNCED
        assert state_of(db, policy).state == MessageState.FAILED
        assert "5.7.1" in (state_of(db, policy).error or "")
        assert state_of(db, busy).state == MessageState.RETRY
        assert suppressed(db) == {gone, unknown}  # not the policy refusal

        del relay.rcpt_replies[busy]
        tick(db, settings, DAY1 + timedelta(minutes=11))  # retry_base_seconds is 600 here
        assert state_of(db, busy).state == MessageState.SENT
        assert sorted(relay.arrived()) == [busy, fine]


def test_a_4xx_is_retried_for_days_then_given_up_and_the_contact_waits(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    with fault_relay(rcpt_reply_all="451 4.3.0 temporary failure") as relay:
        settings = point_at(settings, relay.port)
        launch_smb(db, settings, EMAILS[:1], tmp_path)
        tick(db, settings, DAY1)
        moment = DAY1
        while state_of(db, EMAILS[0]).state != MessageState.FAILED:
            moment += timedelta(minutes=30)
            tick(db, settings, moment)
        message = state_of(db, EMAILS[0])
        assert (message.error or "").startswith("gave up after 1 hour: 451 4.3.0")
        assert message.attempts >= 3
        relay.rcpt_reply_all = ""
        tick(db, settings, moment + timedelta(days=14))  # step 2 is due by now, but not planned
        assert states(db) == {MessageState.FAILED: 1}
        assert relay.received == []


def test_many_recipients_refused_with_one_57x_code_is_a_block_list_not_their_fault(
    settings: Settings, db: Database, tmp_path: Path, pipelining: bool
) -> None:
    # Slow replies and 120 recipients: the outcomes are committed in many small groups while
    # the batch runs, and the run of refusals is judged across them.
    emails = [f"b{i}@smb.example" for i in range(120)]
    with fault_relay(
        rcpt_reply_all="554 5.7.1 client host blocked using zen.spamhaus.org",
        delay=0.01,
        pipelining=pipelining,
    ) as relay:
        settings = point_at(settings, relay.port)
        launch_smb(db, settings, emails, tmp_path)
        tick(db, settings, DAY1)
        assert states(db) == {MessageState.QUEUED: len(emails)}
        assert "relay refuses every recipient with 5.7.1" in pause_line(db, settings)
        assert suppressed(db) == set()


def test_a_relay_that_wants_a_login_pauses_a_small_batch_and_fails_nobody(
    settings: Settings, db: Database, tmp_path: Path, pipelining: bool
) -> None:
    emails = [f"s{i}@smb.example" for i in range(7)]  # fewer than a block list's run of 10
    with fault_relay(
        username="ops", password="right", relay_after_auth=True, pipelining=pipelining
    ) as relay:
        no_login = point_at(settings, relay.port)  # [smtp] username left empty
        launch_smb(db, no_login, emails, tmp_path)
        tick(db, no_login, DAY1)
        tick(db, no_login, DAY1 + timedelta(days=1))  # lasting: time alone does not lift it

        assert relay.received == []
        assert states(db) == {MessageState.QUEUED: len(emails)}
        assert all(state_of(db, e).attempts == 0 for e in emails)
        assert suppressed(db) == set()
        line = pause_line(db, no_login)
        assert "the relay refuses to relay for us (554 5.7.1" in line, line
        fix = "check [smtp] username and password (CAMPAIGN_SMTP_PASSWORD)"
        assert f"Client host rejected: Access denied); {fix}" in line

        fixed = point_at(settings, relay.port, username="ops", password="right")
        tick(db, fixed, DAY1 + timedelta(days=1, hours=1))
        assert relay.arrived() == dict.fromkeys(emails, 1)
        assert current_pause(db) is None


def test_a_refusal_naming_us_after_the_relay_accepted_someone_is_that_message_only(
    settings: Settings, db: Database, tmp_path: Path, pipelining: bool
) -> None:
    first, refused = "a1@smb.example", "a2@smb.example"
    denied = "554 5.7.1 <a2@smb.example>: Relay access denied"
    with fault_relay(rcpt_replies={refused: denied}, pipelining=pipelining) as relay:
        settings = point_at(settings, relay.port, concurrency=1)  # one session, in id order
        launch_smb(db, settings, [first, refused], tmp_path)
        tick(db, settings, DAY1)
        assert state_of(db, first).state == MessageState.SENT
        assert state_of(db, refused).state == MessageState.FAILED
        assert current_pause(db) is None


def test_a_drop_before_the_final_dot_is_retried_and_after_it_is_uncertain(
    settings: Settings, db: Database, tmp_path: Path, pipelining: bool
) -> None:
    before, after = "before@smb.example", "after@smb.example"
    with fault_relay(drop_at_data={before}, drop_after_dot={after}, pipelining=pipelining) as relay:
        settings = point_at(settings, relay.port)
        launch_smb(db, settings, [before, after, *EMAILS[:2]], tmp_path)
        tick(db, settings, DAY1)
        assert state_of(db, before).state == MessageState.RETRY
        assert state_of(db, after).state == MessageState.UNCERTAIN
        relay.drop_at_data.clear()
        relay.drop_after_dot.clear()
        for hours in (1, 2, 3):
            tick(db, settings, DAY1 + timedelta(hours=hours))
        assert relay.arrived() == {before: 1, after: 1, EMAILS[0]: 1, EMAILS[1]: 1}
        assert state_of(db, after).state == MessageState.UNCERTAIN  # never resent on its own


def test_international_addresses_go_as_a_labels_or_with_smtputf8(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    emails = ["josé@smb.example", "idn@bücher.example", "plain@smb.example"]
    with fault_relay() as relay:
        settings = point_at(settings, relay.port)
        launch_smb(db, settings, emails, tmp_path)
        tick(db, settings, DAY1)
        assert sorted(relay.arrived()) == [
            "idn@xn--bcher-kva.example",
            "josé@smb.example",
            "plain@smb.example",
        ]
        to = {rcpt: str(message["To"]) for rcpt, message in relay.received}
        assert "josé@smb.example" in to["josé@smb.example"]


def test_without_smtputf8_only_the_non_ascii_mailbox_fails(
    settings: Settings, db: Database, tmp_path: Path, pipelining: bool
) -> None:
    emails = ["josé@smb.example", "idn@bücher.example", "plain@smb.example"]
    with fault_relay(smtputf8=False, pipelining=pipelining) as relay:
        settings = point_at(settings, relay.port)
        launch_smb(db, settings, emails, tmp_path)
        tick(db, settings, DAY1)
        assert sorted(relay.arrived()) == ["idn@xn--bcher-kva.example", "plain@smb.example"]
        jose = state_of(db, "josé@smb.example")
        assert (jose.state, jose.error) == (MessageState.FAILED, "relay does not support SMTPUTF8")
        assert suppressed(db) == set()


def test_pooled_connections_are_recycled_after_max_messages(
    settings: Settings, db: Database, tmp_path: Path, pipelining: bool
) -> None:
    with fault_relay(pipelining=pipelining) as relay:
        settings = point_at(settings, relay.port, concurrency=1, max_messages_per_connection=2)
        launch_smb(db, settings, EMAILS, tmp_path)
        tick(db, settings, DAY1)
        assert sorted(relay.arrived()) == sorted(EMAILS)
        assert relay.connections == len(EMAILS) // 2 + 1  # the +1: the controller's own probe


def test_mail_rcpt_and_data_go_in_one_write_where_the_relay_offers_pipelining(
    settings: Settings, db: Database, tmp_path: Path, pipelining: bool
) -> None:
    with fault_relay(pipelining=pipelining) as relay:
        settings = point_at(settings, relay.port)
        launch_smb(db, settings, EMAILS, tmp_path)
        tick(db, settings, DAY1)
        assert relay.arrived() == dict.fromkeys(EMAILS, 1)
        assert states(db) == {MessageState.SENT: len(EMAILS)}
        assert len(relay.mail_groups) == len(EMAILS)
        assert all(group[0].startswith("MAIL FROM:<") for group in relay.mail_groups)
        with_mail = sorted(group[1:] for group in relay.mail_groups)
        if pipelining:
            assert with_mail == [[f"RCPT TO:<{email}>", "DATA"] for email in EMAILS]
        else:
            assert with_mail == [[]] * len(EMAILS)


def test_the_next_envelope_goes_behind_the_final_dot_where_the_relay_pipelines(
    settings: Settings, db: Database, tmp_path: Path, pipelining: bool
) -> None:
    with fault_relay(pipelining=pipelining) as relay:
        settings = point_at(settings, relay.port, concurrency=1)  # one session, in id order
        launch_smb(db, settings, EMAILS, tmp_path)
        tick(db, settings, DAY1)
        assert relay.arrived() == dict.fromkeys(EMAILS, 1)
        assert states(db) == {MessageState.SENT: len(EMAILS)}
        assert relay.behind_dot == (len(EMAILS) - 1 if pipelining else 0)
        assert relay.connections == 2  # the controller's own probe, and one session for all


def test_a_drop_after_the_dot_leaves_that_message_uncertain_and_sends_the_next_once(
    settings: Settings, db: Database, tmp_path: Path, pipelining: bool
) -> None:
    # Pipelined, the next message's envelope went behind the dropped message's final dot: it
    # had no reply, nothing of its content went out, and it goes on a new connection.
    after = "after@smb.example"
    emails = [EMAILS[0], after, *EMAILS[1:3]]
    with fault_relay(drop_after_dot={after}, pipelining=pipelining) as relay:
        settings = point_at(settings, relay.port, concurrency=1)
        launch_smb(db, settings, emails, tmp_path)
        tick(db, settings, DAY1)
        assert relay.arrived() == dict.fromkeys(emails, 1)
        assert state_of(db, after).state == MessageState.UNCERTAIN
        others = [state_of(db, email) for email in emails if email != after]
        assert {(m.state, m.attempts) for m in others} == {(MessageState.SENT, 1)}


@pytest.mark.parametrize(
    ("reply", "state"),
    [("451 4.3.0 try again later", MessageState.RETRY), ("554 5.7.1 refused", MessageState.FAILED)],
)
def test_a_refusal_after_the_dot_decides_that_message_and_the_session_goes_on(
    settings: Settings,
    db: Database,
    tmp_path: Path,
    pipelining: bool,
    reply: str,
    state: MessageState,
) -> None:
    refused = "refused@smb.example"
    emails = [EMAILS[0], refused, *EMAILS[1:3]]
    with fault_relay(dot_replies={refused: reply}, pipelining=pipelining) as relay:
        settings = point_at(settings, relay.port, concurrency=1)
        launch_smb(db, settings, emails, tmp_path)
        tick(db, settings, DAY1)
        assert state_of(db, refused).state == state
        assert relay.arrived() == dict.fromkeys([EMAILS[0], *EMAILS[1:3]], 1)
        assert states(db) == {MessageState.SENT: 3, state: 1}
        assert current_pause(db) is None
        assert relay.connections == 2  # the probe, and one session for all


def test_a_refused_recipient_leaves_the_session_in_step_for_the_next_message(
    settings: Settings, db: Database, tmp_path: Path, pipelining: bool
) -> None:
    # Pipelined, the relay still answers the DATA sent after the refused RCPT (503): that reply
    # is read, no content goes out, and the same connection carries the next messages.
    refused = "gone@smb.example"
    with fault_relay(
        rcpt_replies={refused: "550 5.1.1 no such mailbox"}, pipelining=pipelining
    ) as relay:
        settings = point_at(settings, relay.port, concurrency=1)  # one session, in id order
        launch_smb(db, settings, [EMAILS[0], refused, *EMAILS[1:3]], tmp_path)
        tick(db, settings, DAY1)
        assert state_of(db, refused).state == MessageState.BOUNCED
        assert suppressed(db) == {refused}
        assert relay.arrived() == dict.fromkeys(EMAILS[:3], 1)
        assert relay.connections == 2  # the controller's own probe, and one session for all


@pytest.mark.parametrize(
    ("reply", "state"),
    [("451 4.3.0 try again later", MessageState.RETRY), ("554 5.7.1 refused", MessageState.FAILED)],
)
def test_a_refusal_of_data_decides_that_message_only(
    settings: Settings,
    db: Database,
    tmp_path: Path,
    pipelining: bool,
    reply: str,
    state: MessageState,
) -> None:
    with fault_relay(data_reply=reply, pipelining=pipelining) as relay:
        settings = point_at(settings, relay.port)
        launch_smb(db, settings, EMAILS[:3], tmp_path)
        tick(db, settings, DAY1)
        assert states(db) == {state: 3}
        assert relay.received == []
        assert suppressed(db) == set()
        assert current_pause(db) is None

        relay.data_reply = ""
        tick(db, settings, DAY1 + timedelta(hours=1))
        retried = state == MessageState.RETRY
        assert relay.arrived() == (dict.fromkeys(EMAILS[:3], 1) if retried else {})


def test_a_pooled_connection_the_relay_closed_is_replaced_and_costs_nobody_anything(
    settings: Settings, db: Database, tmp_path: Path, pipelining: bool
) -> None:
    with fault_relay(close_after=2, pipelining=pipelining) as relay:
        settings = point_at(settings, relay.port, concurrency=1)
        launch_smb(db, settings, EMAILS, tmp_path)
        tick(db, settings, DAY1)
        assert relay.arrived() == dict.fromkeys(EMAILS, 1)
        assert states(db) == {MessageState.SENT: len(EMAILS)}
        with db.session() as session:
            assert {m.attempts for m in session.exec(select(Message)).all()} == {1}
        assert relay.connections == 1 + 3  # the probe, then a session per two messages
        assert current_pause(db) is None
