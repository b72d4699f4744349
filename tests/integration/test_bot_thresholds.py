"""The bot timing thresholds come from config.toml: `bot_delay_seconds` decides whether a click
soon after delivery is a person, `bot_burst_seconds` whether hitting every link of a message is a
scanner. Clicks over real HTTP; the stored events and the report's human clicks say which."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlmodel import col, select

from campaign_engine.audience.imports import import_contacts
from campaign_engine.core.config import Settings, load_settings
from campaign_engine.engine.launch import launch
from campaign_engine.reporting.reports import load_report
from campaign_engine.store.db import Database
from campaign_engine.store.models import Event
from campaign_engine.web.app import create_app
from tests.conftest import SmtpSink
from tests.helpers import text_of, tick, write_csv
from tests.web import Clock, serving, wait_until

ADA = "ada@tiny.example"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
DELIVERED = datetime(2021, 4, 27, 9, tzinfo=UTC)  # email 1 goes out at the window start


def configured(settings: Settings, **keys: float) -> Settings:
    """The test settings with these top-level keys written into config.toml."""
    lines = "".join(f"{key} = {value}\n" for key, value in keys.items())
    text = settings.config_path.read_text().replace("[smtp]", lines + "[smtp]")
    settings.config_path.write_text(text)
    return load_settings(settings.config_path, environ={})


@pytest.fixture
def delivered(db: Database, settings: Settings, tmp_path: Path, smtp_sink: SmtpSink) -> str:
    """Email 1 delivered to Ada at 09:00; returns its text (with the tracked links)."""
    row = [ADA, "Ada", "Lovelace", "Software Engineer", "Tiny Co", "12", "", "rep@x.example", ""]
    import_contacts(db, write_csv(tmp_path / "c.csv", [row]), DELIVERED - timedelta(days=7))
    launch(db, settings, "premium-to-ultimate", DELIVERED.date(), DELIVERED - timedelta(days=7))
    tick(db, settings, DELIVERED)
    (message,) = smtp_sink.to(ADA)
    return text_of(message)


@contextmanager
def browsing(settings: Settings, db: Database, clock: Clock) -> Iterator[httpx.Client]:
    with serving(create_app(settings, db, clock=clock)) as base:
        headers = {"User-Agent": BROWSER}
        with httpx.Client(base_url=base, headers=headers, timeout=10) as client:
            yield client


def path(text: str, kind: str) -> str:
    (found,) = re.findall(rf"https://track\.example\.test(/{kind}/[\w-]+)", text)
    return str(found)


def stored(db: Database, count: int) -> list[tuple[str, bool, str | None]]:
    """(kind, is_human, bot_reason) of every event, once `count` have been written."""

    def load() -> list[tuple[str, bool, str | None]]:
        with db.session() as session:
            rows = session.exec(
                select(Event.kind, Event.is_human, Event.bot_reason).order_by(col(Event.id))
            ).all()
        return [(kind, bool(human), reason) for kind, human, reason in rows]

    wait_until(lambda: len(load()) >= count, what=f"{count} stored event(s)")
    return load()


def human_clicks(db: Database) -> tuple[int, int]:
    """(human clicks, scanner clicks) as the campaign report counts them."""
    with db.session() as session:
        (report,) = load_report(session, DELIVERED + timedelta(days=1)).campaigns
    return report.totals.clicks_total, report.totals.scanner_clicks


@pytest.mark.parametrize(
    ("delay", "verdicts"),
    [
        # No delay rule: a click 5 s or 20 min after delivery is a person.
        (0, [(True, None), (True, None), (True, None)]),
        # An hour's delay: both are machines; the click after 61 minutes is a person.
        (3600, [(False, "too_soon"), (False, "too_soon"), (True, None)]),
    ],
)
def test_bot_delay_seconds_decides_if_an_early_click_is_a_person(
    delay: int,
    verdicts: list[tuple[bool, str | None]],
    delivered: str,
    db: Database,
    settings: Settings,
) -> None:
    settings = configured(settings, bot_delay_seconds=delay)
    clock = Clock(DELIVERED)
    with browsing(settings, db, clock) as http:
        for after in (timedelta(seconds=5), timedelta(minutes=20), timedelta(minutes=61)):
            clock.now = DELIVERED + after
            assert http.get(path(delivered, "t")).status_code == 302
        events = stored(db, 3)
    assert [(human, reason) for _, human, reason in events] == verdicts
    humans = sum(human for human, _ in verdicts)
    assert human_clicks(db) == (humans, 3 - humans)


@pytest.mark.parametrize(
    ("burst", "apart", "scanner"),
    [
        (0, timedelta(milliseconds=300), False),  # off: even hits 0.3 s apart are a person's
        (600, timedelta(seconds=60), True),  # 10 minutes: three links in 2 minutes is a scanner
    ],
)
def test_bot_burst_seconds_decides_if_hitting_every_link_is_a_scanner(
    burst: int,
    apart: timedelta,
    scanner: bool,
    delivered: str,
    db: Database,
    settings: Settings,
) -> None:
    settings = configured(settings, bot_delay_seconds=0, bot_burst_seconds=burst)
    clock = Clock(DELIVERED + timedelta(hours=1))
    with browsing(settings, db, clock) as http:
        for index, kind in enumerate("tcu"):  # the offer, the contact page, the unsubscribe page
            clock.now = DELIVERED + timedelta(hours=1) + index * apart
            assert http.get(path(delivered, kind)).status_code in (200, 302)
        events = stored(db, 3)
    expected = (False, "all_links") if scanner else (True, None)
    assert [(human, reason) for _, human, reason in events] == [expected] * 3
    assert [kind for kind, _, _ in events] == ["click", "contact_page", "unsubscribe_page"]
    assert human_clicks(db) == ((0, 1) if scanner else (1, 0))


def test_the_config_keys_are_read(settings: Settings) -> None:
    loaded = configured(settings, bot_delay_seconds=3600, bot_burst_seconds=0)
    assert (loaded.bot_delay_seconds, loaded.bot_burst_seconds) == (3600, 0)
