"""The JSON API (FastAPI), mounted at /api/v1 beside tracking and the web app.

The OpenAPI document (`/api/v1/openapi.json`) is generated from these routes and their pydantic
models. Every answer that is not a success is RFC 9457 problem+json.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import Depends, FastAPI
from starlette.middleware import Middleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from campaign_engine.api import accounts, campaigns, contacts, lists
from campaign_engine.api.auth import Api
from campaign_engine.api.inputs import known_query
from campaign_engine.api.problems import (
    install_problem_handlers,
    problem_document,
    problem_response,
)
from campaign_engine.core.config import Settings
from campaign_engine.reps.alerts import send_pending_alerts
from campaign_engine.sending.transport import Transport, make_transport
from campaign_engine.store.db import Database
from campaign_engine.web.body_limit import BodyLimit

__all__ = ["API_MOUNT", "EDGE_BODY_LIMIT", "MAX_BODY_BYTES", "create_api"]

log = logging.getLogger(__name__)

API_MOUNT = "/api/v1"
MAX_BODY_BYTES = 1024 * 1024  # a batch of MAX_CONTACTS contacts fits easily
EDGE_BODY_LIMIT = 1 << 62  # the outer app lets API bodies through: the API answers its own 413
VERSION = "1.0.0"


def create_api(
    settings: Settings,
    db: Database,
    *,
    clock: Callable[[], datetime],
    transport_factory: Callable[[], Transport] | None = None,
) -> FastAPI:
    factory = transport_factory or (lambda: make_transport(settings))

    async def send_alerts() -> None:
        try:
            async with factory() as transport:
                await send_pending_alerts(db, settings, transport, clock())
        except Exception:
            log.exception("sending alerts failed; the next tick retries them")

    api = ProblemApi(
        title="campaign-engine API",
        version=VERSION,
        description=(
            "Contacts, exclusions, suppressions, campaigns, contact requests, sales stages and"
            " the event feed of campaign-engine. Authenticate with `Authorization: Bearer"
            " TOKEN` (`campaign tokens create`). Errors are RFC 9457 problem+json."
        ),
        openapi_url="/openapi.json",
        docs_url=None,  # the Swagger and ReDoc pages load scripts from a CDN
        redoc_url=None,
        servers=[{"url": API_MOUNT}],
        dependencies=[Depends(known_query)],
        middleware=[
            Middleware(CallLog),
            Middleware(BodyLimit, limit=MAX_BODY_BYTES, page=_too_large),
        ],
    )
    api.state.api = Api(settings, db, clock, send_alerts)
    install_problem_handlers(api)
    for module in (contacts, accounts, lists, campaigns):
        api.include_router(module.router)
    return api


class ProblemApi(FastAPI):
    """FastAPI whose OpenAPI document describes the errors as they are sent (problem+json)."""

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is None:
            problem_document(super().openapi())
        assert self.openapi_schema is not None
        return self.openapi_schema


def _too_large(status: int) -> Response:
    if status == 413:
        return problem_response(413, f"the body is over {MAX_BODY_BYTES} bytes")
    return problem_response(status, "bad Content-Length")


class CallLog:
    """One log line per call: method, path, status, time and the token's name."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            token = scope.get("state", {}).get("api_token", "-")
            log.info(
                "API %s %s -> %d in %.0f ms, token %s",
                scope["method"],
                scope["path"][:200],
                status,
                (time.perf_counter() - started) * 1000,
                token,
            )
