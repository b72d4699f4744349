"""`GET /healthz` (is this engine able to work?) and `GET /metrics` (Prometheus text format).

/healthz: 200 when the database answers and sending is not paused, else 503; the body (JSON)
says which, with the last tick this process ran. With several relays, some of them paused is
"degraded" (still 200: mail goes through the others), each paused relay's line in the body. /metrics is read from the database at each
scrape (messages by state, queue depth, tracking hits by kind, sends, the automatic brakes per
campaign and sending domain) plus this process's tick duration histogram; no login (bind the server to a private address or filter it in the proxy).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import anyio
import sqlalchemy as sa
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlmodel import col, select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from campaign_engine.core.config import Settings
from campaign_engine.core.kinds import MessageState
from campaign_engine.engine.tick_stats import TICK_STATS
from campaign_engine.sending.brakes import BrakeState, brake_states
from campaign_engine.sending.pace_store import paces
from campaign_engine.sending.relay_state import (
    current_pauses,
    describe_pause,
    is_paused,
    pause_status,
    relay_statuses,
)
from campaign_engine.sending.warmup import ramp_for
from campaign_engine.sending.warmup_facts import warmup_day
from campaign_engine.store import message_counts
from campaign_engine.store.db import Database
from campaign_engine.store.models import Event

__all__ = ["CONTENT_TYPE", "health_routes"]

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _DatabaseCollector(Collector):
    """Counts read from the database at scrape time (any process's work shows)."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings

    def collect(self) -> Iterator[Metric]:
        with self.db.session() as session:
            states: Counter[str] = Counter()
            for (_, _, state), n in message_counts.kept(session.connection()).items():
                states[state] += n
            hits = session.exec(
                select(Event.kind, Event.is_human, sa.func.count()).group_by(
                    col(Event.kind), col(Event.is_human)
                )
            ).all()
            brakes = brake_states(session, self.settings)
        by_state = GaugeMetricFamily(
            "campaign_messages", "Messages by delivery state.", labels=["state"]
        )
        for state in MessageState:
            by_state.add_metric([state.value], states.get(state.value, 0))
        yield by_state
        yield GaugeMetricFamily(
            "campaign_queue_depth",
            "Messages waiting to be sent (queued, sending or retry).",
            value=sum(states.get(s, 0) for s in ("queued", "sending", "retry")),
        )
        sent = CounterMetricFamily(
            "campaign_messages_sent", "Messages the relay accepted (rate() of it: sends/s)."
        )
        sent.add_metric([], states.get(MessageState.SENT.value, 0))
        yield sent
        tracking = CounterMetricFamily(
            "campaign_tracking_hits", "Tracking hits by kind, people apart from machines.",
            labels=["kind", "human"],
        )  # fmt: skip
        for kind, human, count in hits:
            tracking.add_metric([kind, "true" if human else "false"], count)
        yield tracking
        now = datetime.now(UTC)
        relay = pause_status(self.db, self.settings, now)
        yield GaugeMetricFamily(
            "campaign_relay_paused", "1 while sending is paused by a relay fault (every relay).",
            value=1 if relay.paused else 0,
        )  # fmt: skip
        each = GaugeMetricFamily(
            "campaign_relay_down", "1 while this relay is paused by a fault (its mail goes to the others).",
            labels=["relay"],
        )  # fmt: skip
        sends = GaugeMetricFamily(
            "campaign_relay_sends", "Messages this relay took in the last 24 hours.",
            labels=["relay"],
        )  # fmt: skip
        for status in relay_statuses(self.db, self.settings, now):
            each.add_metric([status.name], 1 if status.paused else 0)
            sends.add_metric([status.name], status.sent)
        yield each
        yield sends
        yield from _pacing_metrics(self.db, self.settings)
        yield from _brake_metrics(brakes)
        yield from _warmup_metrics(self.db, self.settings, now)


def _warmup_metrics(db: Database, settings: Settings, now: datetime) -> Iterator[Metric]:
    """The sending domain's warm-up ramp today (nothing while no ramp is set or it is over)."""
    ramp = ramp_for(settings)
    today = warmup_day(db, ramp, now) if ramp is not None else None
    if today is None or today.over:
        return
    yield GaugeMetricFamily(
        "campaign_warmup_day", "Day of the sending domain's warm-up ramp (0: its first).",
        value=today.day,
    )  # fmt: skip
    yield GaugeMetricFamily(
        "campaign_warmup_allowance", "Campaign emails the warm-up ramp allows today.",
        value=today.allowance,
    )  # fmt: skip
    yield GaugeMetricFamily(
        "campaign_warmup_taken", "Of today's warm-up allowance: sent today or waiting to go.",
        value=today.taken,
    )  # fmt: skip


def _pacing_metrics(db: Database, settings: Settings) -> Iterator[Metric]:
    """Each paced provider's rate now, its ceiling, and how often it was halved."""
    rate = GaugeMetricFamily(
        "campaign_provider_rate", "Messages an hour this mailbox provider may get now.",
        labels=["provider"],
    )  # fmt: skip
    ceiling = GaugeMetricFamily(
        "campaign_provider_max_rate", "[pacing.PROVIDER] max_per_hour.", labels=["provider"]
    )
    slowed = CounterMetricFamily(
        "campaign_provider_slowdowns", "Times a burst of 4xx deferrals halved this provider's rate.",
        labels=["provider"],
    )  # fmt: skip
    for pace in paces(db):
        most = settings.pacing.limit(pace.provider).max_per_hour
        rate.add_metric([pace.provider], min(pace.rate, most))
        ceiling.add_metric([pace.provider], most)
        slowed.add_metric([pace.provider], pace.slowdowns)
    yield rate
    yield ceiling
    yield slowed


def _brake_metrics(states: list[BrakeState]) -> Iterator[Metric]:
    """Each campaign's window and the sending domain's: level and rates."""
    labels = ["scope", "name"]
    level = GaugeMetricFamily(
        "campaign_brake_level",
        "Automatic brakes: 0 ok, 1 warning (a rate above half its limit), 2 paused.",
        labels=labels,
    )
    bounces = GaugeMetricFamily(
        "campaign_brake_bounce_rate",
        "Hard bounces per send over the brakes' window.",
        labels=labels,
    )
    complaints = GaugeMetricFamily(
        "campaign_brake_complaint_rate",
        "Complaints per send over the brakes' window.",
        labels=labels,
    )
    for state in states:
        level.add_metric([state.scope, state.name], int(state.level))
        bounces.add_metric([state.scope, state.name], state.reading.bounce_rate)
        complaints.add_metric([state.scope, state.name], state.reading.complaint_rate)
    yield from (level, bounces, complaints)


def health_routes(db: Database, settings: Settings) -> list[Route]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_DatabaseCollector(db, settings))

    async def healthz(request: Request) -> Response:
        def check() -> dict[str, Any]:
            body: dict[str, Any] = {"database": "ok", "relay": "sending"}
            try:
                with db.session() as session:
                    session.exec(select(sa.literal(1))).one()
            except sa.exc.SQLAlchemyError as exc:
                log.error("healthz: the database does not answer: %s", exc)
                body["database"] = f"unreachable: {type(exc).__name__}"
                return body
            now = datetime.now(UTC)
            relay = pause_status(db, settings, now)
            if relay.paused:
                body["relay"] = relay.line
            elif len(settings.relays) > 1:
                down = [p for p in current_pauses(db) if is_paused(p, settings, now)]
                if down:
                    body["relays_paused"] = {
                        p.relay: describe_pause(p, settings, now) for p in down
                    }
            return body

        body = await anyio.to_thread.run_sync(check)
        last = TICK_STATS.last
        body["last_tick"] = (
            {"at": last.at.isoformat(), "seconds": round(last.seconds, 3), "did": last.summary}
            if last
            else None
        )
        healthy = body["database"] == "ok" and body["relay"] == "sending"
        body["status"] = "degraded" if "relays_paused" in body else "ok" if healthy else "unhealthy"
        return JSONResponse(body, status_code=200 if healthy else 503,
                            headers={"Cache-Control": "no-store"})  # fmt: skip

    async def metrics(request: Request) -> Response:
        def scrape() -> bytes:
            return generate_latest(registry) + generate_latest(TICK_STATS.registry)

        return Response(await anyio.to_thread.run_sync(scrape), media_type=CONTENT_TYPE,
                        headers={"Cache-Control": "no-store"})  # fmt: skip

    return [Route("/healthz", healthz), Route("/metrics", metrics)]
