"""Campaigns (ops): each campaign's status per step, next due, sends per day; pause and resume;
what the automatic brakes say (a pause's reason, a warning)."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from campaign_engine.core.errors import NotFound
from campaign_engine.reporting.campaign_overview import (
    CampaignOverview,
    Pause,
    campaign_overviews,
    campaign_pauses,
    with_pauses,
)
from campaign_engine.sending.brakes import BrakeState, brake_states
from campaign_engine.sending.campaign_pause import set_campaign_paused
from campaign_engine.sending.pace_store import pacing_line
from campaign_engine.sending.relay_state import (
    PauseStatus,
    RelayStatus,
    pause_status,
    relay_statuses,
)
from campaign_engine.store.campaign_log import CampaignLogEntry, campaign_log
from campaign_engine.web.base import WebBase
from campaign_engine.web.snapshots import Snapshot

__all__ = ["CampaignPages"]

log = logging.getLogger(__name__)

CampaignLog = dict[str, list[CampaignLogEntry]]
Brakes = list[BrakeState]


class CampaignPages(WebBase):
    def campaign_routes(self) -> list[Route]:
        return [
            Route("/campaigns", self.campaigns, name="campaigns"),
            Route("/campaigns/pause", self.pause, methods=["POST"]),
            Route("/campaigns/resume", self.pause, methods=["POST"]),
        ]

    async def campaigns(self, request: Request) -> Response:
        user = await self._require(request, ops=True)
        now = self.clock()
        fresh = request.query_params.get("fresh") == "1"

        def count() -> list[CampaignOverview]:
            with self.db.session() as session:
                return campaign_overviews(session, self.clock())

        def load() -> tuple[
            Snapshot[list[CampaignOverview]],
            list[Pause],
            PauseStatus,
            list[RelayStatus],
            CampaignLog,
            Brakes,
            str | None,
        ]:
            with self.db.session() as session:
                pauses = campaign_pauses(session)  # live: a pause shows at once
                history = campaign_log(session)
                brakes = [s for s in brake_states(session, self.settings) if s.line]  # live too
            key = ("campaigns", tuple(pause.campaign_id for pause in pauses))
            counted = self.snapshots.get(key, count, fresh)
            relays = relay_statuses(self.db, self.settings, now)
            relay = pause_status(self.db, self.settings, now)
            pacing = pacing_line(self.db, self.settings.pacing, self.settings.timezone)
            return counted, pauses, relay, relays, history, brakes, pacing

        counted, pauses, relay, relays, history, brakes, pacing = await self.run(load)
        return self.page(request, "campaigns.html.j2", user=user, relay=relay, now=now,
                         relays=relays if len(relays) > 1 else [],
                         campaigns=with_pauses(counted.value, pauses), counted=counted,
                         history=history, pacing=pacing,
                         brakes={s.name: s for s in brakes if s.scope == "campaign"},
                         domain_brakes=[s for s in brakes if s.scope == "domain"])  # fmt: skip

    async def pause(self, request: Request) -> Response:
        user = await self._require(request, ops=True)
        form = await self._form(request)
        name = str(form.get("campaign", ""))
        paused = request.url.path.endswith("/pause")
        now = self.clock()

        def change() -> bool:
            with self.db.session() as session:
                return set_campaign_paused(session, name, paused, now, user.email)

        try:
            changed = await self.run(change)
        except NotFound as exc:
            raise HTTPException(404, str(exc)) from None
        verb = "paused" if paused else "resumed"
        log.info("web: %s %s campaign %s", user.email, verb, name)
        request.session["flash"] = (
            f"Campaign {name} {verb}." if changed else f"Campaign {name} was already {verb}."
        )
        return self._redirect(request, "/campaigns")
