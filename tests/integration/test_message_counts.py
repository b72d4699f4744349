"""The messages counted per campaign, step and state (what `campaign status` and the report
read) follow every change of state: after each step of a run with bounces, refusals, retries
and an uncertain send, and the operator's retries and skips, they equal a full recount; and
`campaign db check-counters` names a counter that went wrong, and `--fix` rebuilds it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from campaign_engine.core.config import Settings
from campaign_engine.store import message_counts
from campaign_engine.store.db import Database
from tests.delivery_setup import DAY1, launch_smb, point_at, states
from tests.faultrelay import fault_relay
from tests.helpers import campaign_cli, tick

LATER = (DAY1 + timedelta(hours=1)).isoformat()


def kept_states(db: Database) -> dict[str, int]:
    """The counters, added up per state."""
    totals: dict[str, int] = {}
    with db.engine.connect() as connection:
        for (_, _, state), n in message_counts.kept(connection).items():
            totals[state] = totals.get(state, 0) + n
    return totals


def agree(db: Database) -> dict[str, int]:
    """The counters, once checked against a full recount (and the states, as counted)."""
    with db.engine.connect() as connection:
        assert message_counts.differences(connection) == []
        assert message_counts.emailed_differences(connection) == []
    assert kept_states(db) == dict(states(db))
    return kept_states(db)


def mail_a_and_b(
    settings: Settings, db: Database, tmp_path: Path, replies: dict[str, str] | None = None
) -> Settings:
    """a@ and b@ launched and mailed email 1 at DAY1 through a relay answering RCPT TO with
    `replies`; the settings pointing at it."""
    with fault_relay(rcpt_replies=replies or {}) as relay:
        settings = point_at(settings, relay.port)
        launch_smb(db, settings, ["a@smb.example", "b@smb.example"], tmp_path)
        tick(db, settings, DAY1)
    return settings


def test_counters_follow_sends_bounces_refusals_retries_and_the_operator(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    people = ["ok@smb.example", "gone@smb.example", "spam@smb.example", "later@smb.example"]
    people.append("cut@smb.example")
    replies = {
        "gone@smb.example": "550 5.1.1 no such user",
        "spam@smb.example": "550 5.7.1 message refused as spam",
        "later@smb.example": "451 4.3.0 try again later",
    }
    with fault_relay(rcpt_replies=replies, drop_after_dot={"cut@smb.example"}) as relay:
        settings = point_at(settings, relay.port)
        launch_smb(db, settings, people, tmp_path)
        tick(db, settings, DAY1)
        assert agree(db) == {"sent": 1, "bounced": 1, "failed": 1, "retry": 1, "uncertain": 1}

        relay.rcpt_replies.clear()
        relay.drop_after_dot.clear()
        retried = campaign_cli(settings, "messages", "retry", "--failed", "--now", LATER)
        assert retried.returncode == 0
        assert agree(db) == {"sent": 1, "bounced": 1, "queued": 1, "retry": 1, "uncertain": 1}
        retried = campaign_cli(settings, "messages", "retry", "--uncertain", "--now", LATER)
        assert retried.returncode == 0
        assert agree(db) == {"sent": 1, "bounced": 1, "queued": 2, "retry": 1}

        tick(db, settings, DAY1 + timedelta(hours=2))
        assert agree(db) == {"sent": 4, "bounced": 1}
        assert "message counters agree" in campaign_cli(settings, "db", "check-counters").stdout


def test_check_counters_names_a_wrong_counter_and_fix_rebuilds_it(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    settings = mail_a_and_b(settings, db, tmp_path)
    with db.engine.begin() as connection:
        connection.execute(sa.text("UPDATE message_count SET n = n + 1 WHERE state = 'sent'"))

    found = campaign_cli(settings, "db", "check-counters")
    assert found.returncode == 1
    assert found.stdout.splitlines() == [
        "campaign premium-to-ultimate 2021-04-27 step 1 sent (automated, segment 'SMB', title '',"
        " rep none, sent on 2021-04-27): counter 3, recount 2",
        "1 counter(s) differ: `campaign db check-counters --fix` rebuilds them",
    ]
    fixed = campaign_cli(settings, "db", "check-counters", "--fix")
    assert fixed.returncode == 0
    assert fixed.stdout.splitlines()[-1] == "1 counter(s) rebuilt from the recount"
    again = campaign_cli(settings, "db", "check-counters")
    assert (again.returncode, again.stdout) == (0, "message counters agree with a full recount\n")
    assert agree(db) == {"sent": 2}


def test_check_counters_compares_each_slice_not_only_the_totals(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    settings = mail_a_and_b(settings, db, tmp_path)
    with db.engine.begin() as connection:  # the right number of sent messages, the wrong day
        connection.execute(sa.text("UPDATE message_count SET day = '2021-04-26' WHERE day <> ''"))
    assert kept_states(db) == {"sent": 2}

    found = campaign_cli(settings, "db", "check-counters")
    assert found.returncode == 1
    assert [line.split("sent on ")[-1] for line in found.stdout.splitlines()] == [
        "2021-04-26): counter 2, recount 0",
        "2021-04-27): counter 0, recount 2",
        "2 counter(s) differ: `campaign db check-counters --fix` rebuilds them",
    ]
    assert campaign_cli(settings, "db", "check-counters", "--fix").returncode == 0
    assert agree(db) == {"sent": 2}


def test_check_counters_names_an_enrolment_whose_emailed_flag_is_wrong(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    settings = mail_a_and_b(settings, db, tmp_path, {"b@smb.example": "550 5.1.1 no such user"})
    with db.engine.begin() as connection:  # a: emailed; b: bounced at RCPT TO, never emailed
        flags: dict[int, bool] = dict(
            connection.execute(sa.text("SELECT id, emailed FROM enrollment")).all()
        )
        assert sorted(map(bool, flags.values())) == [False, True]
        connection.execute(sa.text("UPDATE enrollment SET emailed = NOT emailed"))

    found = campaign_cli(settings, "db", "check-counters")
    assert found.returncode == 1
    a, b = sorted(flags, key=lambda e: not flags[e])
    lines = found.stdout.splitlines()
    assert sorted(lines[:2]) == sorted(
        [
            f"enrolment {a}: emailed no, its messages say yes",
            f"enrolment {b}: emailed yes, its messages say no",
        ]
    )
    assert lines[2:] == ["2 counter(s) differ: `campaign db check-counters --fix` rebuilds them"]
    assert campaign_cli(settings, "db", "check-counters", "--fix").returncode == 0
    assert agree(db) == {"sent": 1, "bounced": 1}
