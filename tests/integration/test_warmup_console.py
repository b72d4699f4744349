"""The console's rehearsal page and the API's dry run on a new sending domain: the calendar the ramp allows, and the
line that says how it is spread."""

from __future__ import annotations

import dataclasses
import re
import time

import httpx
import pytest

from campaign_engine.api.tokens import create_token
from campaign_engine.core.config import Settings, WarmupSettings
from tests.webapp_fixtures import (
    OPS,
    WebApp,
    at,
    csrf,
    launched_fixture,  # noqa: F401  (fixture)
    web_fixture,  # noqa: F401  (fixture)
)

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
_ROW = re.compile(r"<tr><td>(\w{3} [\d-]+)</td><td>UTC</td><td class=\"num\">(\d+)</td>")


@pytest.fixture(name="web_settings")
def warm_web_settings(settings: Settings) -> Settings:
    """The web app's settings (plain-http base) on a domain allowing 1, 2, 4... emails a day."""
    return dataclasses.replace(
        settings, tracking_base_url="http://track.example.test", warmup=WarmupSettings(1, 2.0)
    )


def test_the_api_dry_run_lays_the_emails_out_on_the_ramp(web: WebApp) -> None:
    token = create_token(web.db, "ops-bot", "ops", at(4, 20)).token
    body = {"sequence": "premium-to-ultimate", "start": "2021-04-28", "name": "Dry",
            "dry_run": True, "allow_overlap": True}  # fmt: skip
    with httpx.Client(base_url=f"{web.url}/api/v1", timeout=30) as client:
        dry = client.post("/campaigns", json=body, headers={"Authorization": f"Bearer {token}"})
    assert dry.status_code == 201, dry.text
    plan = dry.json()
    # ada and bo (SMB): one place on the first day, two on the next
    assert [(s["day"], s["step"], s["contacts"]) for s in plan["sends"]][:3] == [
        ("2021-04-28", 1, 1), ("2021-04-29", 1, 1), ("2021-05-05", 2, 1),
    ]  # fmt: skip
    assert plan["warmup"].startswith("warm-up: the sending domain has not sent yet; from its")


def test_the_rehearsal_page_shows_the_ramped_calendar(web: WebApp) -> None:
    with web.login(OPS) as client:
        form = {"sequence": "premium-to-ultimate", "start": "2021-04-28", "name": "Second",
                "allow_overlap": "on", "late_joiners": "on", "csrf": csrf(client)}  # fmt: skip
        started = client.post("/app/rehearsals", data=form)
        assert started.status_code == 303, started.text
        for _ in range(240):
            page = client.get(started.headers["location"])
            if 'id="rehearsed"' in page.text:
                break
            time.sleep(0.5)
        assert 'id="rehearsed"' in page.text, page.text
    assert (
        '<p id="warmup">warm-up: the sending domain has not sent yet; from its first day the '
        "ramp allows 1, 2, 4, 8... campaign emails a day (x2 a day, every campaign together; "
        "days in UTC); the most engaged contacts go first</p>"
    ) in page.text
    # P2U (launched first) mails ada on Apr 27, the day's one place, and bo on the 28th, one
    # of its two; Second's ada takes the other, and its bo waits for the 29th.
    assert _ROW.findall(page.text)[:2] == [("Wed 2021-04-28", "1"), ("Thu 2021-04-29", "1")]
