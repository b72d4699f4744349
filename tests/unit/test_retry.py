"""The one delivery state machine, and what each SMTP reply means (pure: fixed times, no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from campaign_engine.sending.delivery_record import POLICY_BLOCK_RUN, block_runs, failure_reason
from campaign_engine.sending.outcomes import Outcome
from campaign_engine.sending.retry import AttemptResult, RetryPolicy, next_state
from campaign_engine.sending.smtp_replies import (
    REFUSES_US,
    Stage,
    classify_drop,
    classify_reply,
    how_to_fix,
)

NOW = datetime(2021, 4, 27, 9, tzinfo=UTC)
POLICY = RetryPolicy()


def move(result: AttemptResult, attempts: int = 1, since: timedelta = timedelta(0)) -> str:
    t = next_state(result, attempts=attempts, first_attempt_at=NOW - since, policy=POLICY, now=NOW)
    return t.state


def test_retries_follow_postfix_5_min_doubling_capped_at_an_hour() -> None:
    waits = [POLICY.delay(n) for n in range(1, 7)]
    assert waits == [timedelta(minutes=m) for m in (5, 10, 20, 40, 60, 60)]
    t = next_state(
        AttemptResult.TRANSIENT, attempts=2, first_attempt_at=NOW, policy=POLICY, now=NOW
    )
    assert (t.state, t.next_attempt_at) == ("retry", NOW + timedelta(minutes=10))


def test_a_4xx_gives_up_after_a_time_not_a_count() -> None:
    assert move(AttemptResult.TRANSIENT, attempts=60, since=timedelta(days=2)) == "retry"
    assert move(AttemptResult.TRANSIENT, attempts=2, since=timedelta(days=3)) == "failed"


@pytest.mark.parametrize(
    ("result", "state"),
    [
        (AttemptResult.DELIVERED, "sent"),
        (AttemptResult.ADDRESS_GONE, "bounced"),
        (AttemptResult.PERMANENT, "failed"),
        (AttemptResult.UNCERTAIN, "uncertain"),
        (AttemptResult.NOT_ATTEMPTED, "queued"),
    ],
)
def test_every_result_has_one_next_state(result: AttemptResult, state: str) -> None:
    # Not attempted never expires, however long the relay was paused.
    assert move(result, since=timedelta(days=30)) == state


@pytest.mark.parametrize(
    ("stage", "code", "text", "result", "lasting"),
    [
        (Stage.AUTH, 535, "5.7.8 authentication failed", AttemptResult.NOT_ATTEMPTED, True),
        (Stage.MAIL, 553, "5.1.8 sender domain unknown", AttemptResult.NOT_ATTEMPTED, False),
        (Stage.MAIL, 550, "5.7.1 sender not authorised", AttemptResult.NOT_ATTEMPTED, True),
        (Stage.RCPT, 421, "4.3.2 shutting down", AttemptResult.NOT_ATTEMPTED, False),
        (Stage.MAIL, 421, "4.7.0 try again later", AttemptResult.NOT_ATTEMPTED, False),
        (Stage.RCPT, 421, "4.7.28 unusual rate of unsolicited mail", AttemptResult.TRANSIENT, None),
        (Stage.AFTER_DOT, 421, "4.7.28 unusual rate", AttemptResult.TRANSIENT, None),
        (Stage.RCPT, 451, "4.7.650 rate limited", AttemptResult.TRANSIENT, None),
        (Stage.EHLO, 504, "5.5.2 need fully-qualified hostname", AttemptResult.NOT_ATTEMPTED, True),
        (Stage.RCPT, 550, "5.1.1 no such user", AttemptResult.ADDRESS_GONE, None),
        (Stage.RCPT, 552, "5.2.2 mailbox full", AttemptResult.ADDRESS_GONE, None),
        (Stage.RCPT, 550, "user unknown", AttemptResult.ADDRESS_GONE, None),
        (Stage.RCPT, 550, "5.7.1 spam", AttemptResult.PERMANENT, None),
        (Stage.RCPT, 550, "mailbox unavailable", AttemptResult.PERMANENT, None),
        (Stage.RCPT, 452, "4.2.2 over quota", AttemptResult.TRANSIENT, None),
        (Stage.RCPT, 454, "4.7.0 Throttling", AttemptResult.TRANSIENT, None),
        (Stage.AFTER_DOT, 250, "2.0.0 ok", AttemptResult.DELIVERED, None),
        (Stage.AFTER_DOT, 554, "5.7.1 rejected as spam", AttemptResult.PERMANENT, None),
    ],
)
def test_replies_are_judged_by_stage_and_enhanced_code(
    stage: Stage, code: int, text: str, result: AttemptResult, lasting: bool | None
) -> None:
    verdict = classify_reply(stage, code, text)
    assert verdict.result == result
    if lasting is None:
        assert verdict.fault is None  # about the recipient: the relay is fine
    else:
        assert verdict.fault is not None and verdict.fault.lasting is lasting


def test_a_drop_before_the_dot_retries_and_after_it_is_uncertain() -> None:
    assert classify_drop(Stage.DATA, "lost").result == AttemptResult.TRANSIENT
    assert classify_drop(Stage.AFTER_DOT, "lost").result == AttemptResult.UNCERTAIN
    refused = classify_drop(Stage.CONNECT, "Connect call failed")
    assert refused.fault is not None and refused.fault.reason == "relay unreachable"
    bad_cert = classify_drop(Stage.TLS, "[SSL: CERTIFICATE_VERIFY_FAILED] self-signed")
    assert bad_cert.fault is not None and bad_cert.fault.lasting


@pytest.mark.parametrize(
    ("code", "text", "reason", "lasting"),
    [
        (554, "5.7.1 <unknown[10.0.0.5]>: Client host rejected: Access denied", REFUSES_US, True),
        (554, "5.7.1 <ada@smb.example>: Relay access denied", REFUSES_US, True),
        (530, "5.7.0 Authentication required", REFUSES_US, True),
        (454, "4.7.1 <ada@smb.example>: Relay access denied", REFUSES_US, False),
        (
            504,
            "5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname",
            "relay refused our EHLO name",
            True,
        ),
        (
            553,
            "5.7.1 <b@x.example>: Sender address rejected: not owned by user",
            "relay rejected our sender (MAIL FROM)",
            True,
        ),
    ],
)
def test_a_refusal_that_names_us_before_anyone_was_accepted_is_a_relay_fault(
    code: int, text: str, reason: str, lasting: bool
) -> None:
    first = classify_reply(Stage.RCPT, code, text, first_in_session=True)
    assert first.fault is not None and first.result == AttemptResult.NOT_ATTEMPTED
    assert (first.fault.reason, first.fault.lasting) == (reason, lasting)
    later = classify_reply(Stage.RCPT, code, text, first_in_session=False)
    assert later.fault is None or later.fault.reason == "relay refused a command"  # 5.5.x
    assert how_to_fix("rcpt", REFUSES_US) == (
        "check [smtp] username and password (CAMPAIGN_SMTP_PASSWORD)"
    )
    assert how_to_fix("auth", "", "eu-west") == (
        'check the [[smtp.relays]] entry "eu-west": username and password'
        " (CAMPAIGN_SMTP_RELAYS_EU_WEST_PASSWORD)"
    )


def test_a_policy_refusal_of_the_first_recipient_that_names_them_is_theirs() -> None:
    spam = classify_reply(Stage.RCPT, 550, "5.7.1 message refused as spam", first_in_session=True)
    blocked = classify_reply(
        Stage.RCPT, 554, "5.7.1 client host blocked using zen.spamhaus.org", first_in_session=True
    )
    assert spam.fault is None and blocked.fault is None  # a block list: the 10-in-a-row rule


def test_a_run_of_one_57x_code_is_a_block_list_but_a_few_are_not() -> None:
    refused = [Outcome(i, AttemptResult.PERMANENT, "554 5.7.1 blocked") for i in range(30)]
    few = [*refused[: POLICY_BLOCK_RUN - 1], Outcome(99, AttemptResult.DELIVERED, "250 ok")]
    assert all(o.result == AttemptResult.PERMANENT for o in block_runs(few)[:-1])
    blocked = block_runs(refused)
    assert {o.result for o in blocked} == {AttemptResult.NOT_ATTEMPTED}
    assert blocked[0].fault is not None


def test_failed_messages_are_grouped_by_reason() -> None:
    assert failure_reason("550 5.7.1 spam") == "refused 5.7.1"
    assert failure_reason("gave up after 3 days: 451 4.3.0 x") == "gave up after days of 4xx"
    assert failure_reason("relay does not support SMTPUTF8") == "relay does not support SMTPUTF8"
