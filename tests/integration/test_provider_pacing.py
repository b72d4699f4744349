"""Per-provider pacing against a real relay: one provider's 4xx deferrals slow that provider
only, and every deferred message still arrives exactly once.

The relay (tests/faultrelay.py) answers Gmail's `421 4.7.28` to every Google recipient until it
heals; the recipients' providers come from the `[pacing] mx` table (nothing is looked up).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import httpx

from campaign_engine.core.config import Settings, load_settings
from campaign_engine.core.kinds import MessageState
from campaign_engine.core.pacing_config import pacing_settings
from campaign_engine.sending.pace_store import paces, take
from campaign_engine.sending.pacing import BURST
from campaign_engine.store.db import Database
from campaign_engine.web.app import create_app
from campaign_engine.web.users import add_user
from tests.delivery_setup import DAY1, launch_smb, point_at, states
from tests.faultrelay import FaultRelay, fault_relay
from tests.helpers import campaign_cli, tick
from tests.integration.test_health_metrics import samples
from tests.web import serving
from tests.webapp_fixtures import OPS, PASSWORD, login

GOOGLE = [f"g{i}@gworks.example" for i in range(20)]
MICROSOFT = [f"m{i}@msco.example" for i in range(20)]
DEFERRAL = "421 4.7.28 Gmail has detected an unusual rate of unsolicited mail"
PACING = """
[pacing]
lookup_mx = false
mx = { "gworks.example" = "aspmx.l.google.com", "msco.example" = "msco.mail.protection.outlook.com" }

[pacing.google]
max_per_hour = 600

[pacing.microsoft]
max_per_hour = 600
"""


def paced(settings: Settings, port: int, pacing: str = PACING, **smtp: object) -> Settings:
    settings = point_at(settings, port, **smtp)
    settings.config_path.write_text(settings.config_path.read_text() + pacing)
    return load_settings(settings.config_path, environ={})


def rates(db: Database) -> dict[str, float]:
    return {pace.provider: pace.rate for pace in paces(db)}


def tried(relay: FaultRelay, emails: list[str]) -> int:
    return sum(relay.asked[e] for e in emails)


def test_a_provider_that_defers_is_slowed_alone_and_its_mail_arrives_once_later(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    with fault_relay(rcpt_replies=dict.fromkeys(GOOGLE, DEFERRAL)) as relay:
        settings = paced(settings, relay.port)
        launch_smb(db, settings, [*GOOGLE, *MICROSOFT], tmp_path)

        # 09:00: each provider gets a minute of its rate (10) and the slot now; Google's 11
        # are deferred: a burst, so its rate halves. Microsoft's go through.
        report = tick(db, settings, DAY1)
        assert (tried(relay, GOOGLE), len(relay.arrived())) == (11, 11)
        assert set(relay.arrived()) <= set(MICROSOFT)
        assert report.counts["deferred (pacing)"] == 18
        assert report.counts["retry"] == 11
        assert rates(db) == {"google": 300, "microsoft": 600}

        # 09:01: Google gets 5 (300 an hour), deferred again: halved again. Microsoft, at full
        # speed, has all its mail delivered.
        tick(db, settings, DAY1 + timedelta(minutes=1))
        assert tried(relay, GOOGLE) == 16
        assert sorted(relay.arrived()) == sorted(MICROSOFT)
        assert rates(db)["google"] == 150
        status = campaign_cli(settings, "status", "--now", "2021-04-27T09:02:00+00:00")
        assert (
            "Pacing: google 150 an hour of 600 (slowed 2 times by 4xx deferrals, last at 09:01);"
            " microsoft 600 an hour (full)"
        ) in status.stdout
        add_user(db, OPS, "ops", PASSWORD, DAY1)
        plain = dataclasses.replace(settings, tracking_base_url="http://track.example.test")
        with serving(create_app(plain, db)) as url, httpx.Client(base_url=url) as client:
            found = samples(client.get("/metrics").text)
            assert login(client, OPS, PASSWORD).status_code == 303
            console = client.get("/app/campaigns").text
        assert "Pacing: google 150 an hour of 600 (slowed 2 times" in console
        assert found[("campaign_provider_rate", (("provider", "google"),))] == 150
        assert found[("campaign_provider_max_rate", (("provider", "google"),))] == 600
        assert found[("campaign_provider_slowdowns_total", (("provider", "google"),))] == 2
        assert found[("campaign_provider_rate", (("provider", "microsoft"),))] == 600

        # Google takes mail again: the held and the deferred messages go at its slow rate
        # (2.5 a minute, plus what each delivery gives back), each exactly once.
        relay.rcpt_replies.clear()
        per_minute = []
        for minute in range(2, 40):
            before = len(relay.received)
            tick(db, settings, DAY1 + timedelta(minutes=minute))
            per_minute.append(len(relay.received) - before)
            if not states(db)[MessageState.RETRY] + states(db)[MessageState.QUEUED]:
                break
    assert max(per_minute) <= 4, per_minute  # never a burst
    assert relay.arrived() == Counter([*GOOGLE, *MICROSOFT])  # all, once
    assert states(db) == {MessageState.SENT: 40}
    assert 150 < rates(db)["google"] < 300  # coming back slowly: 1.2 an hour per delivery


def test_a_provider_gets_no_more_messages_in_flight_than_its_max_connections(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    with fault_relay(delay=0.2) as relay:  # each RCPT answered after 0.2 s
        one = PACING.replace("[pacing.google]\n", "[pacing.google]\nmax_connections = 1\n")
        settings = paced(settings, relay.port, one, concurrency=4)
        launch_smb(db, settings, [*GOOGLE[:4], *MICROSOFT[:4]], tmp_path)
        tick(db, settings, DAY1)
    assert relay.arrived() == Counter([*GOOGLE[:4], *MICROSOFT[:4]])
    assert relay.most_at_once["gworks.example"] == 1
    assert relay.most_at_once["msco.example"] > 1  # the other connections carry Microsoft's


def test_workers_taking_slots_at_once_share_one_rate_per_provider(db: Database) -> None:
    """Eight workers ask for Google slots in the same moment: together they get what one would
    (a minute of 600 an hour, and the slot now), because the clock is one row in the database."""
    settings = pacing_settings({"google": {"max_per_hour": 600}}, Path("config.toml"))

    def worker(_: int) -> int:
        return take(db, settings, {"google": 100}, DAY1, BURST)["google"].allowed

    with ThreadPoolExecutor(max_workers=8) as pool:
        allowed = list(pool.map(worker, range(8)))
    assert sum(allowed) == 11
