"""Webhooks against real local receivers: signed, retried with back-off through the one state
machine (same webhook-id every time), given up after a day; a hanging receiver slows neither the
tick nor tracking; the Slack preset; the CLI."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
import pytest
import uvicorn
from sqlmodel import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from campaign_engine.core.config import Settings
from campaign_engine.engine import webhook_sender
from campaign_engine.engine.scheduler import tick_once
from campaign_engine.engine.tick import Ticker
from campaign_engine.engine.webhook_sender import CUT_SHORT, WebhookPump
from campaign_engine.engine.webhooks import add_webhook, delivery_log
from campaign_engine.reps.contact_requests import RequestForm, record_contact_request
from campaign_engine.sending.transport import make_transport
from campaign_engine.store.api_tables import WebhookDelivery
from campaign_engine.store.db import Database
from campaign_engine.web.app import create_app
from tests.conftest import free_port
from tests.helpers import campaign_cli
from tests.web import Clock, serving, wait_until
from tests.webapp_fixtures import (
    DANA,
    at,
    launched_fixture,  # noqa: F401  (fixture)
    web_settings_fixture,  # noqa: F401  (fixture)
)

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


def verify(secret: str, headers: httpx.Headers | dict[str, str], body: bytes) -> bool:
    """What a receiver does (the README shows the same lines)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(
        hmac.compare_digest(expected, sig.split(",", 1)[1])
        for sig in headers["webhook-signature"].split()
    )


@dataclass
class Receiver:
    """Answers with `statuses` in turn (then 200); keeps what it got and whether it verified."""

    statuses: list[int]
    got: list[tuple[dict[str, str], bytes, bool]] = field(default_factory=list)

    async def hook(self, request: Request) -> Response:
        body = await request.body()
        headers = dict(request.headers)
        self.got.append((headers, body, verify(SECRET, headers, body)))
        status = self.statuses.pop(0) if self.statuses else 200
        return Response(status_code=status)


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    target = Receiver([500, 500])
    with serving(Starlette(routes=[Route("/hook", target.hook, methods=["POST"])])) as url:
        yield target, url + "/hook"


def ticks(db: Database, settings: Settings, *moments: object) -> None:
    """One `campaign tick` per moment, each waiting for its webhook round (as the CLI does)."""

    async def run() -> None:
        async with make_transport(settings) as transport:
            for moment in moments:
                ticker = Ticker(db, settings, transport)
                await ticker.tick(moment)  # type: ignore[arg-type]
                await ticker.webhooks.drain()

    asyncio.run(run())


def request_contact(db: Database, settings: Settings, minute: int = 0) -> None:
    form = RequestForm("Call me, please", "Tue morning")
    record_contact_request(db, settings, at(4, 28, 10, minute), email="ada@tiny.example", form=form)


def test_a_failing_receiver_gets_the_same_signed_delivery_until_it_takes_it(
    launched: str, db: Database, web_settings: Settings, receiver: tuple[Receiver, str]
) -> None:
    target, url = receiver
    add_webhook(db, url, "contact_request,click", at(4, 27), secret=SECRET)
    request_contact(db, web_settings)
    t0 = at(4, 28, 10, 1)
    ticks(db, web_settings, t0, t0 + timedelta(minutes=1))  # 500, then not due yet
    assert len(target.got) == 1
    ticks(db, web_settings, t0 + timedelta(minutes=5), t0 + timedelta(minutes=15))  # 500, 200
    assert len(target.got) == 3
    assert all(verified for _, _, verified in target.got)
    assert len({h["webhook-id"] for h, _, _ in target.got}) == 1  # the idempotency key
    assert len({body for _, body, _ in target.got}) == 1  # the same body every time
    payload = json.loads(target.got[0][1])
    assert payload["type"] == "contact_request"
    data = payload["data"]
    assert (data["contact_email"], data["rep_email"], data["account"]) == (
        "ada@tiny.example", DANA, "Tiny Co",
    )  # fmt: skip
    assert "Call me, please" in data["note"]
    (logged,) = delivery_log(db)
    assert (logged.state, logged.attempts, logged.last_status) == ("sent", 3, 200)
    ticks(db, web_settings, t0 + timedelta(hours=2))
    assert len(target.got) == 3  # delivered once: never again

    shown = campaign_cli(web_settings, "webhooks", "log")
    assert shown.returncode == 0, shown.stderr
    assert "contact_request" in shown.stdout and "sent" in shown.stdout


def test_a_receiver_that_never_takes_it_is_given_up_after_a_day(
    launched: str, db: Database, web_settings: Settings, receiver: tuple[Receiver, str]
) -> None:
    target, url = receiver
    target.statuses = [503] * 100
    add_webhook(db, url, "contact_request", at(4, 27), secret=SECRET)
    request_contact(db, web_settings)
    t0 = at(4, 28, 10, 1)
    moments = [t0 + timedelta(hours=h) for h in range(0, 26)]
    ticks(db, web_settings, *moments)
    (logged,) = delivery_log(db)
    assert logged.state == "failed" and "gave up after 1 day:" in (logged.error or "")
    assert 20 <= len(target.got) <= 26  # hourly at most once the back-off reached its cap


@pytest.fixture
def hanging_url() -> Iterator[str]:
    """A receiver that accepts connections (the kernel does) and never answers."""
    with socket.socket() as hang:
        hang.bind(("127.0.0.1", 0))
        hang.listen(16)
        yield f"http://127.0.0.1:{hang.getsockname()[1]}/hook"


def test_a_hanging_receiver_slows_neither_the_tick_nor_tracking(
    launched: str, db: Database, web_settings: Settings, hanging_url: str
) -> None:
    add_webhook(db, hanging_url, "contact_request", at(4, 27), secret=SECRET)
    request_contact(db, web_settings)
    port = free_port()
    app = create_app(web_settings, db, clock=Clock(at(4, 28, 11)))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))

    async def scenario() -> tuple[float, float, float]:
        serving_task = asyncio.create_task(server.serve())  # tracking in the webhooks' event loop
        while not server.started:
            await asyncio.sleep(0.01)
        async with make_transport(web_settings) as transport:
            ticker = Ticker(db, web_settings, transport)
            ticker.webhooks.timeout = 5.0  # whatever waits for the receiver takes this long
            began = time.perf_counter()
            await ticker.tick(at(4, 28, 10, 1))
            tick_took = time.perf_counter() - began
            await asyncio.to_thread(wait_until, lambda: _states(db) == ["sending"])
            async with httpx.AsyncClient() as client:
                began = time.perf_counter()
                pixel = await client.get(f"http://127.0.0.1:{port}/o/whatever.gif")
                pixel_took = time.perf_counter() - began
            assert pixel.status_code == 200
            began = time.perf_counter()
            await ticker.tick(at(4, 28, 10, 2))  # the round is still hanging: not waited for
            second_took = time.perf_counter() - began
            await ticker.webhooks.drain()  # the POST times out and is rescheduled
        server.should_exit = True
        await serving_task
        return tick_took, pixel_took, second_took

    tick_took, pixel_took, second_took = asyncio.run(scenario())
    # well under the receiver's 5 s: nothing waited for it (margins for a busy machine)
    assert tick_took < 3.0 and second_took < 3.0 and pixel_took < 2.0
    (logged,) = delivery_log(db)
    assert (logged.state, logged.error) == ("retry", "no answer in time")


def test_a_hanging_receiver_holds_up_a_one_shot_tick_less_than_a_second(
    launched: str, db: Database, web_settings: Settings, hanging_url: str
) -> None:
    add_webhook(db, hanging_url, "contact_request", at(4, 27), secret=SECRET)
    request_contact(db, web_settings)
    now = at(4, 28, 10, 1)
    began = time.perf_counter()
    report, _ = asyncio.run(tick_once(web_settings, db, now))  # what `campaign tick` runs
    exit_delay = time.perf_counter() - began - report.total_seconds
    assert exit_delay < 1.0
    (logged,) = delivery_log(db)  # the POST cut short: an attempt without an answer, backed off
    assert (logged.state, logged.error, logged.attempts) == ("retry", CUT_SHORT, 1)
    assert logged.next_attempt_at == now + timedelta(minutes=5)


def test_a_round_cut_while_it_claims_puts_the_deliveries_back(
    launched: str,
    db: Database,
    web_settings: Settings,
    hanging_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A one-shot tick that exits while the round's claim is still running in its thread: the
    claim lands all the same, and is given back, so the next tick sends at once rather than
    after the claim's 5-minute lease."""
    add_webhook(db, hanging_url, "contact_request", at(4, 27), secret=SECRET)
    request_contact(db, web_settings)
    now = at(4, 28, 10, 1)
    claiming, claim = threading.Event(), webhook_sender._claim

    def slow_claim(db: Database, now: datetime, only: int | None) -> object:
        claiming.set()
        time.sleep(0.3)
        return claim(db, now, only)

    monkeypatch.setattr(webhook_sender, "_claim", slow_claim)

    async def cut_mid_claim() -> None:
        pump = WebhookPump(db)
        pump.kick(now)
        await asyncio.to_thread(claiming.wait, 5)
        await pump.drain(0)

    asyncio.run(cut_mid_claim())
    (logged,) = delivery_log(db)
    assert (logged.state, logged.attempts) == ("queued", 0)


def test_slack_preset_and_the_cli(
    launched: str, db: Database, web_settings: Settings, receiver: tuple[Receiver, str]
) -> None:
    target, url = receiver
    target.statuses = []
    added = campaign_cli(
        web_settings, "webhooks", "add", url, "--events", "contact_request", "--format", "slack",
        "--secret", SECRET,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    bad = campaign_cli(web_settings, "webhooks", "add", url, "--events", "opens")
    assert bad.returncode == 1 and "unknown event type" in bad.stderr
    listed = campaign_cli(web_settings, "webhooks", "list")
    assert url in listed.stdout and "slack" in listed.stdout and SECRET not in listed.stdout
    request_contact(db, web_settings)
    ticks(db, web_settings, at(4, 28, 10, 1))
    (_, body, verified) = target.got[0]
    assert verified  # slack ignores the signature; it is there all the same
    text = json.loads(body)["text"]
    assert text.startswith("*Contact request*: Ada Lovelace (Developer, Tiny Co, SMB)")
    assert "Rep: Dana Reyes" in text and "Preferred time: Tue morning" in text
    tested = campaign_cli(web_settings, "webhooks", "test", "1")
    assert tested.returncode == 0, tested.stderr
    assert len(target.got) == 2 and target.got[1][2]
    removed = campaign_cli(web_settings, "webhooks", "remove", "1")
    assert removed.returncode == 0
    assert url not in campaign_cli(web_settings, "webhooks", "list").stdout


def _states(db: Database) -> list[str]:
    with db.session() as session:
        return [d.state for d in session.exec(select(WebhookDelivery)).all()]
