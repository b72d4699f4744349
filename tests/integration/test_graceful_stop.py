"""SIGTERM (systemd, containers) and SIGINT (Ctrl-C) stop a tick cleanly: what the relay has is
recorded, the rest goes back to the queue, one line says so, exit 0, no traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import pytest

from campaign_engine.core.config import Settings
from campaign_engine.core.kinds import MessageState
from campaign_engine.sending.dkim import generate_key
from campaign_engine.store.db import Database
from tests.delivery_setup import DAY1, launch_smb, point_at, state_of, states, suppressed
from tests.faultrelay import FaultRelay, fault_relay
from tests.helpers import CAMPAIGN, tick

COUNT = 80


def start_tick(settings: Settings) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [CAMPAIGN, "tick", "--now", DAY1.isoformat()],
        env={**os.environ, "CAMPAIGN_CONFIG": str(settings.config_path)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_arrivals(relay: FaultRelay, count: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while len(relay.received) < count:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the relay got nothing in 60 s"
        time.sleep(0.05)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_mid_tick_releases_the_rest_and_loses_nothing(
    settings: Settings, db: Database, tmp_path: Path, sig: signal.Signals
) -> None:
    emails = [f"s{i}@smb.example" for i in range(COUNT)]
    with fault_relay(delay=0.05) as relay:
        settings = point_at(settings, relay.port)
        launch_smb(db, settings, emails, tmp_path)
        process = start_tick(settings)
        wait_for_arrivals(relay, 5, process)
        process.send_signal(sig)
        out, err = process.communicate(timeout=60)

        assert process.returncode == 0, err
        assert "Traceback" not in err
        released = states(db)[MessageState.QUEUED]
        assert released > 0
        assert out.strip().splitlines()[-1] == (
            f"stopped: {released} messages released back to the queue"
        )
        arrived = relay.arrived()
        assert states(db) == {MessageState.SENT: len(arrived), MessageState.QUEUED: released}

        tick(db, settings, DAY1 + timedelta(minutes=1))
        assert sorted(relay.arrived()) == sorted(emails)
        assert set(relay.arrived().values()) == {1}
        assert suppressed(db) == set()


def test_a_stop_past_the_grace_counts_only_what_the_relay_took_as_uncertain(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    """DKIM signing renders and signs a chunk or two ahead of the connections: when the grace
    runs out, those were never handed over and go back to the queue; what the relay accepted
    before the stop is sent; only the transactions in flight (one per connection) are
    uncertain."""
    (tmp_path / "dkim.pem").write_bytes(generate_key().private_pem)
    text = settings.config_path.read_text()
    settings.config_path.write_text(
        "stop_grace_seconds = 0.2\n"
        + text
        + '[dkim]\nselector = "s1"\ndomain = "gitlab-demo.example"\n'
        + f'private_key_path = "{tmp_path / "dkim.pem"}"\n'
    )
    emails = [f"g{i}@smb.example" for i in range(COUNT)]
    with fault_relay(delay=2.0) as relay:
        settings = point_at(settings, relay.port)
        launch_smb(db, settings, emails, tmp_path)
        process = start_tick(settings)
        wait_for_arrivals(relay, 2, process)
        accepted = set(relay.arrived())  # answered 250 well before the grace runs out
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)

        assert process.returncode == 0, err
        assert {email: state_of(db, email).state for email in accepted} == dict.fromkeys(
            accepted, MessageState.SENT
        )
        counts = states(db)
        # What arrived is sent or (its reply lost in the cut) uncertain, never queued again;
        # beyond that, at most one transaction per connection was in flight.
        handed = counts[MessageState.SENT] + counts[MessageState.UNCERTAIN]
        assert len(relay.arrived()) <= handed <= len(relay.arrived()) + settings.smtp.concurrency
        assert counts[MessageState.QUEUED] == COUNT - handed, counts
