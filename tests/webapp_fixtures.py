"""What the web-app tests share: a launched campaign with two reps, users, a served app, login."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest

from campaign_engine.core.config import Settings
from campaign_engine.engine.launch import launch
from campaign_engine.reps.drafts import list_drafts
from campaign_engine.store.db import Database
from campaign_engine.web.app import create_app
from campaign_engine.web.users import add_user
from tests.helpers import import_with_reps, write_csv
from tests.web import Clock, serving

DANA = "dana.reyes@gitlab-demo.example"
TOMAS = "tomas.herrera@gitlab-demo.example"
OPS = "olga.ops@gitlab-demo.example"
PASSWORD = "correct horse battery"
START = date(2021, 4, 27)
SUBJECTS = [
    "Interested in speed and security?",
    "Learn how to deploy to production 6x faster",
    "No more afterthought security",
]
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def at(month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(2021, month, day, hour, minute, tzinfo=UTC)


@dataclasses.dataclass
class WebApp:
    url: str
    clock: Clock
    settings: Settings
    db: Database

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, follow_redirects=False, timeout=30)

    @contextmanager
    def login(self, email: str, password: str = PASSWORD) -> Iterator[httpx.Client]:
        with self.client() as client:
            response = login(client, email, password)
            assert response.status_code == 303, response.text
            yield client


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "no CSRF field in the page"
    return found.group(1)


def login(client: httpx.Client, email: str, password: str) -> httpx.Response:
    page = client.get("/app/login")
    assert page.status_code == 200
    return client.post(
        "/app/login", data={"email": email, "password": password, "csrf": csrf_of(page.text)}
    )


def csrf(client: httpx.Client, path: str = "/app/") -> str:
    page = client.get(path, follow_redirects=True)  # ops' home is the campaigns page
    assert page.status_code == 200, page.text
    return csrf_of(page.text)


def draft_id(db: Database, contact: str, step: int) -> int:
    with db.session() as session:
        (found,) = [
            d.id
            for d in list_drafts(session, status=None)
            if d.contact_email == contact and d.step == step
        ]
    return found


@pytest.fixture(name="web_settings")
def web_settings_fixture(settings: Settings) -> Settings:
    """Plain-http public base, so the session cookie is not Secure and httpx sends it over
    loopback http (the Secure flag itself is checked on its own)."""
    return dataclasses.replace(settings, tracking_base_url="http://track.example.test")


@pytest.fixture(name="launched")
def launched_fixture(db: Database, web_settings: Settings, tmp_path: Path) -> str:
    """SMB ada and bo (Dana's), MM mia (Dana's), ENT eve (Tomas's); users ops, Dana, Tomas."""
    rows = [
        ["ada@tiny.example", "Ada", "Lovelace", "Developer", "Tiny Co", "12", "", DANA, ""],
        ["bo@tiny.example", "Bo", "Smith", "Developer", "Tiny Co", "12", "", DANA, ""],
        ["mia@midsize.example", "Mia", "Middle", "CTO", "Midsize", "300", "", DANA, ""],
        ["eve@bigcorp.example", "Eve", "Large", "CISO", "BigCorp", "", "Strategic", TOMAS, ""],
    ]
    moment = at(4, 20)
    assert import_with_reps(db, write_csv(tmp_path / "t.csv", rows), moment).rejected == []
    name = launch(db, web_settings, "premium-to-ultimate", START, moment, name="P2U").name
    add_user(db, OPS, "ops", PASSWORD, moment)
    add_user(db, DANA, "rep", PASSWORD, moment)
    add_user(db, TOMAS, "rep", PASSWORD, moment)
    return name


@pytest.fixture(name="web")
def web_fixture(launched: str, web_settings: Settings, db: Database) -> Iterator[WebApp]:
    clock = Clock(at(4, 26))
    with serving(create_app(web_settings, db, clock=clock)) as url:
        yield WebApp(url, clock, web_settings, db)
