"""`/healthz` and `/metrics` over real HTTP after a real tick: what a monitor would read."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import httpx
from prometheus_client.parser import text_string_to_metric_families

from campaign_engine.core.config import WarmupSettings
from campaign_engine.sending import relay_state
from campaign_engine.sending.smtp_replies import RelayFault
from campaign_engine.web.app import create_app
from tests.conftest import SmtpSink
from tests.delivery_setup import with_relays
from tests.helpers import tick
from tests.web import serving
from tests.webapp_fixtures import (
    WebApp,
    at,
    launched_fixture,  # noqa: F401  (fixture)
    web_fixture,  # noqa: F401  (fixture)
    web_settings_fixture,  # noqa: F401  (fixture)
)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_health_and_metrics_after_a_tick(web: WebApp, smtp_sink: SmtpSink) -> None:
    report = tick(web.db, web.settings, at(4, 27, 14))
    assert report.counts["sent"] == 2 and set(report.seconds) >= {"messages", "alerts"}
    with web.client() as client:
        health = client.get("/healthz")
        assert health.status_code == 200
        body = health.json()
        assert body["status"] == "ok" and body["database"] == "ok" and body["relay"] == "sending"
        assert body["last_tick"]["at"] == "2021-04-27T14:00:00+00:00"
        assert "2 sent" in body["last_tick"]["did"]

        metrics = client.get("/metrics")
        assert metrics.status_code == 200
        assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
        found = samples(metrics.text)
    assert found[("campaign_messages", (("state", "sent"),))] == 2
    assert found[("campaign_messages", (("state", "failed"),))] == 0
    assert found[("campaign_messages_sent_total", ())] == 2
    assert found[("campaign_queue_depth", ())] == 0
    assert found[("campaign_relay_paused", ())] == 0
    assert found[("campaign_relay_down", (("relay", "main"),))] == 0  # the one [smtp] relay
    assert ("campaign_relay_sends", (("relay", "main"),)) in found  # the last 24 h: 2021 is not
    assert found[("campaign_tick_duration_seconds_count", ())] >= 1


def test_one_paused_relay_of_two_is_degraded_not_down(web: WebApp, smtp_sink: SmtpSink) -> None:
    settings = with_relays(
        web.settings, first={"port": smtp_sink.port}, second={"port": smtp_sink.port}
    )
    fault = RelayFault("auth", "relay rejected login", "535 5.7.8 bad credentials", True, "second")
    relay_state.record_fault(web.db, fault, settings, datetime.now(UTC))
    with serving(create_app(settings, web.db, clock=web.clock)) as url, httpx.Client() as client:
        health = client.get(f"{url}/healthz")
    assert health.status_code == 200  # mail still goes out through the other relay
    body = health.json()
    assert body["status"] == "degraded" and body["relay"] == "sending"
    assert list(body["relays_paused"]) == ["second"]
    assert body["relays_paused"]["second"].endswith(
        'check the [[smtp.relays]] entry "second": username and password'
        " (CAMPAIGN_SMTP_RELAYS_SECOND_PASSWORD), or run `campaign relay resume second` once"
        " fixed"
    )


def test_metrics_show_where_the_warm_up_ramp_stands(web: WebApp) -> None:
    started = (datetime.now(UTC) - timedelta(days=2)).date().isoformat()  # the ramp's day 2
    settings = dataclasses.replace(web.settings, warmup=WarmupSettings(4, 1.5, started))
    with serving(create_app(settings, web.db, clock=web.clock)) as url, httpx.Client() as client:
        found = samples(client.get(f"{url}/metrics").text)
    assert found[("campaign_warmup_day", ())] == 2
    assert found[("campaign_warmup_allowance", ())] == 9  # 4, 6, 9
    assert found[("campaign_warmup_taken", ())] == 0  # nothing sent today or waiting

    with serving(create_app(web.settings, web.db, clock=web.clock)) as url:
        assert "campaign_warmup" not in httpx.get(f"{url}/metrics").text  # no ramp set
