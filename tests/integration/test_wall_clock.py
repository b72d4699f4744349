"""Where the engine reads the wall clock (the CLI without --now, /healthz, the console's
sessions), a frozen clock (freezegun) shows it judges the moment it is asked: the relay pause
like the tick does, a console session 12 hours from its login."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from freezegun import freeze_time
from typer.testing import CliRunner

from campaign_engine.cli import app
from campaign_engine.core.config import Settings
from campaign_engine.store.db import Database
from campaign_engine.web.app import create_app
from campaign_engine.web.auth import SESSION_COOKIE
from tests.delivery_setup import DAY1, launch_smb, point_at
from tests.faultrelay import fault_relay
from tests.helpers import tick
from tests.web import serving
from tests.webapp_fixtures import (
    OPS,
    PASSWORD,
    at,
    launched_fixture,  # noqa: F401  (fixture)
    login,
    web_settings_fixture,  # noqa: F401  (fixture)
)


def relay_status(settings: Settings) -> str:
    """`campaign relay status` without --now, in this process (so a frozen clock applies)."""
    done = CliRunner().invoke(app, ["--config", str(settings.config_path), "relay", "status"])
    assert done.exit_code == 0, done.output
    return done.output.strip()


@pytest.fixture
def down(settings: Settings, db: Database, tmp_path: Path) -> Settings:
    """One contact launched, and a tick while the relay says 421: paused 10 s from 09:00."""
    with fault_relay(greeting="421 4.3.2 service shutting down") as relay:
        down = point_at(settings, relay.port)
        launch_smb(db, down, ["a@smb.example"], tmp_path)
        tick(db, down, DAY1)
    return down


def test_the_cli_without_now_reads_the_clock_for_the_day_and_the_wait(down: Settings) -> None:
    with freeze_time(DAY1 + timedelta(seconds=5)):
        assert relay_status(down).startswith("sending paused since 09:00: relay unreachable")
        assert relay_status(down).endswith("next try at 09:00:10")
    with freeze_time(DAY1 + timedelta(days=1)):
        assert relay_status(down) == (
            "sending is not paused: the pause of 2021-04-27 09:00 (relay unreachable) is over;"
            " the next tick tries the relay"
        )


def test_healthz_judges_the_pause_at_the_moment_it_is_asked(down: Settings, db: Database) -> None:
    with serving(create_app(down, db)) as base:
        with freeze_time(DAY1 + timedelta(seconds=5), real_asyncio=True):
            paused = httpx.get(base + "/healthz", timeout=10)
        with freeze_time(DAY1 + timedelta(seconds=11), real_asyncio=True):
            over = httpx.get(base + "/healthz", timeout=10)
    assert paused.status_code == 503
    assert paused.json()["relay"].startswith("sending paused since 09:00: relay unreachable")
    assert (over.status_code, over.json()["relay"]) == (200, "sending")


def test_a_console_session_ends_12_hours_after_login_on_the_wall_clock(
    launched: str, web_settings: Settings, db: Database
) -> None:
    def campaigns_page(at_moment: datetime, cookie: str) -> int:
        with freeze_time(at_moment, real_asyncio=True), httpx.Client(base_url=base) as client:
            page = client.get("/app/campaigns", headers={"Cookie": f"{SESSION_COOKIE}={cookie}"})
            return page.status_code

    with serving(create_app(web_settings, db)) as base:  # the console's own clock: the wall's
        with freeze_time(at(4, 26, 9), real_asyncio=True), httpx.Client(base_url=base) as client:
            assert login(client, OPS, PASSWORD).status_code == 303
            cookie = client.cookies[SESSION_COOKIE]
        assert campaigns_page(at(4, 26, 20, 59), cookie) == 200
        assert campaigns_page(at(4, 26, 21, 1), cookie) == 303  # to the login page
