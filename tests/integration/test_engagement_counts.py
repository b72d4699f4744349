"""The events counted per report slice (what the report's engagement reads) stay a full
recount when two writers store the first open of one email at once, and `campaign db
check-counters` names an engagement counter that went wrong and `--fix` rebuilds it."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from campaign_engine.core.config import Settings
from campaign_engine.core.kinds import EventKind
from campaign_engine.store import engagement_counts
from campaign_engine.store.db import Database
from campaign_engine.store.models import Event, Message
from tests.delivery_setup import DAY1
from tests.helpers import campaign_cli
from tests.integration.test_message_counts import mail_a_and_b


def open_of(db: Database, recipient: str, hours: int) -> Event:
    with db.session() as session:
        message = session.exec(select(Message).where(Message.recipient == recipient)).one()
    return Event(
        kind=EventKind.OPEN,
        message_id=message.id,
        contact_id=message.contact_id,
        occurred_at=DAY1 + timedelta(hours=hours),
    )


def kept_measures(db: Database) -> dict[str, int]:
    totals: dict[str, int] = {}
    with db.engine.connect() as connection:
        for key, n in engagement_counts.kept(connection, [1]).items():
            totals[key[-1]] = totals.get(key[-1], 0) + n
    return totals


def test_two_writers_of_one_emails_first_opens_count_its_opener_once(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite runs one writer at a time")
    mail_a_and_b(settings, db, tmp_path)
    first = Session(db.engine)
    first.add(open_of(db, "a@smb.example", 1))
    first.flush()  # stored, not committed: the other writer cannot see it yet

    def second() -> None:
        with db.session() as session:
            session.add(open_of(db, "a@smb.example", 2))

    other = threading.Thread(target=second)
    other.start()
    other.join(0.5)
    assert other.is_alive()  # waits for the first writer's enrolment
    first.commit()
    first.close()
    other.join(30)
    assert not other.is_alive()
    with db.engine.connect() as connection:
        assert engagement_counts.differences(connection) == []
    measures = kept_measures(db)
    assert (measures["opens_total"], measures["step:openers"], measures["group:openers"]) == (
        2,
        1,
        1,
    )


def test_check_counters_names_a_wrong_engagement_counter_and_fix_rebuilds_it(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    settings = mail_a_and_b(settings, db, tmp_path)
    with db.session() as session:
        session.add(open_of(db, "a@smb.example", 1))
    with db.engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE engagement_count SET n = n + 1 WHERE measure = 'step:openers'")
        )

    found = campaign_cli(settings, "db", "check-counters")
    wrong = (
        "campaign premium-to-ultimate 2021-04-27 step 1 step:openers (segment 'SMB', title '',"
        " rep none): counter 2, recount 1"
    )
    fix = "1 counter(s) differ: `campaign db check-counters --fix` rebuilds them"
    assert (found.returncode, found.stdout.splitlines()) == (1, [wrong, fix])
    assert campaign_cli(settings, "db", "check-counters", "--fix").returncode == 0
    again = campaign_cli(settings, "db", "check-counters")
    assert (again.returncode, again.stdout) == (0, "message counters agree with a full recount\n")
    assert kept_measures(db)["step:openers"] == 1
