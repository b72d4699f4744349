"""Several `campaign tick` processes at once, and a worker killed mid-send: no duplicate, no loss."""

from __future__ import annotations

import asyncio
import csv
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlmodel import select

from campaign_engine.audience.imports import import_contacts
from campaign_engine.core.config import Settings, load_settings
from campaign_engine.core.kinds import MessageState
from campaign_engine.engine.launch import launch
from campaign_engine.store.db import Database
from campaign_engine.store.models import Message, SendWindow
from tests.conftest import SmtpSink

CAMPAIGN = str(Path(sys.executable).parent / "campaign")
START = date(2021, 4, 27)
NOW = "2021-04-27T09:00:00+00:00"


def many_contacts(path: Path, count: int) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["email", "first_name", "account", "employees", "owner_email"])
        for i in range(count):
            writer.writerow(
                [f"c{i}@a{i // 10}.example", f"C{i}", f"Acct {i // 10}", "20", "rep@x.example"]
            )
    return path


def configure(settings: Settings, **overrides: object) -> Settings:
    text = settings.config_path.read_text()
    extra = "".join(f"{key} = {value}\n" for key, value in overrides.items())
    settings.config_path.write_text(text.replace("[smtp]", extra + "[smtp]"))
    return load_settings(settings.config_path, environ={})


def start_tick(settings: Settings, now: str = NOW) -> subprocess.Popen[str]:
    env = {**os.environ, "CAMPAIGN_CONFIG": str(settings.config_path)}
    return subprocess.Popen(
        [CAMPAIGN, "tick", "--now", now],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def recipients(sink: SmtpSink) -> Counter[str]:
    return Counter(address for envelope in sink.envelopes for address in envelope.rcpt_tos)


def test_four_workers_deliver_every_message_exactly_once(
    settings: Settings, db: Database, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    count = 5000
    settings = configure(settings, batch_size=100)
    import_contacts(
        db, many_contacts(tmp_path / "many.csv", count), datetime(2021, 4, 20, tzinfo=UTC)
    )
    launch(db, settings, "premium-to-ultimate", START, datetime(2021, 4, 20, tzinfo=UTC))

    workers = [start_tick(settings) for _ in range(4)]
    outputs = [worker.communicate(timeout=300) for worker in workers]
    assert [w.returncode for w in workers] == [0, 0, 0, 0], [err for _, err in outputs]
    sent_by_worker = [int(out.split(" queued, ")[1].split(" sent")[0]) for out, _ in outputs]
    assert sum(sent_by_worker) == count
    assert sum(1 for n in sent_by_worker if n > 0) >= 2, "the work was shared"

    received = recipients(smtp_sink)
    assert len(received) == count
    assert set(received.values()) == {1}


class SlowSink(SmtpSink):
    """Takes its time over each message, so a worker can be killed in the middle of a batch."""

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        await asyncio.sleep(0.02)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def slow_sink(smtp_sink: SmtpSink) -> SmtpSink:
    smtp_sink.__class__ = SlowSink
    return smtp_sink


def test_a_worker_killed_mid_send_leaves_no_duplicate_only_uncertain(
    settings: Settings, db: Database, slow_sink: SmtpSink, tmp_path: Path
) -> None:
    count = 300
    settings = configure(settings, batch_size=50, lease_seconds=60)
    import_contacts(
        db, many_contacts(tmp_path / "many.csv", count), datetime(2021, 4, 20, tzinfo=UTC)
    )
    launch(db, settings, "premium-to-ultimate", START, datetime(2021, 4, 20, tzinfo=UTC))

    worker = start_tick(settings)
    deadline = time.monotonic() + 60
    while len(slow_sink.envelopes) < 70 and time.monotonic() < deadline:
        time.sleep(0.01)
    worker.send_signal(signal.SIGKILL)
    worker.communicate()
    delivered_before = len(slow_sink.envelopes)
    assert 0 < delivered_before < count

    # Another worker, after the dead one's lease has expired.
    recovery = start_tick(settings, now="2021-04-27T09:05:00+00:00")
    out, err = recovery.communicate(timeout=120)
    assert recovery.returncode == 0, err
    assert " uncertain" in out

    received = recipients(slow_sink)
    assert set(received.values()) == {1}, "nobody got the step twice"
    with db.session() as session:
        states = dict(session.exec(select(Message.contact_id, Message.state)).all())
        uncertain = {
            m.recipient or m.contact_id
            for m in session.exec(select(Message).where(Message.state == MessageState.UNCERTAIN))
        }
    assert len(states) == count
    assert len(received) + len(uncertain) >= count, (
        "every contact was sent or is listed as uncertain"
    )
    assert all(state in (MessageState.SENT, MessageState.UNCERTAIN) for state in states.values())
    assert uncertain, "the killed batch is reported, not resent"


def test_the_rate_limit_holds_across_workers_together(
    settings: Settings, db: Database, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    count, per_second = 40, 10
    text = settings.config_path.read_text().replace(
        "concurrency = 2", f"concurrency = 2\nrate_limit = {per_second}"
    )
    settings.config_path.write_text(text)
    settings = configure(settings, batch_size=10)
    import_contacts(
        db, many_contacts(tmp_path / "many.csv", count), datetime(2021, 4, 20, tzinfo=UTC)
    )
    launch(db, settings, "premium-to-ultimate", START, datetime(2021, 4, 20, tzinfo=UTC))

    started = time.monotonic()
    workers = [start_tick(settings) for _ in range(2)]
    for worker in workers:
        _, err = worker.communicate(timeout=60)
        assert worker.returncode == 0, err
    elapsed = time.monotonic() - started

    assert len(smtp_sink.envelopes) == count
    with db.session() as session:
        windows = session.exec(select(SendWindow.sent)).all()
    assert sum(windows) == count
    assert max(windows) <= per_second
    assert elapsed >= count / per_second - 1
