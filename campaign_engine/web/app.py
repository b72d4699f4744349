"""The one ASGI app `campaign serve` and `run` serve: tracking, the web app (/app), the API (/api/v1)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.responses import RedirectResponse
from starlette.routing import Mount, Route
from starlette.types import ASGIApp

from campaign_engine.api.app import API_MOUNT, EDGE_BODY_LIMIT, create_api
from campaign_engine.core.config import Settings
from campaign_engine.sending.transport import Transport
from campaign_engine.store.db import Database
from campaign_engine.tracking.hot_routes import HotRoutes
from campaign_engine.tracking.routes import Clock, TrackingEdge
from campaign_engine.web.body_limit import BodyLimit
from campaign_engine.web.health import health_routes
from campaign_engine.web.pages import MAX_UPLOAD_BYTES, MOUNT, create_webapp

__all__ = ["MAX_BODY_BYTES", "create_app"]

MAX_BODY_BYTES = 16 * 1024  # request bodies above this are refused with 413


def create_app(
    settings: Settings,
    db: Database,
    *,
    clock: Clock | None = None,
    transport_factory: Callable[[], Transport] | None = None,
) -> Starlette:
    """Tracking routes and the web app in one ASGI app; `clock` (default: the real UTC clock) stamps every hit."""
    edge = TrackingEdge(settings, db, clock or (lambda: datetime.now(UTC)), transport_factory)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await edge.recorder.start()
        try:
            yield
        finally:
            await edge.recorder.stop()

    webapp = create_webapp(settings, db, clock=edge.clock, transport_factory=transport_factory)
    api = create_api(settings, db, clock=edge.clock, transport_factory=transport_factory)
    app = Starlette(
        routes=[
            Route("/", lambda _: RedirectResponse(MOUNT + "/", status_code=302)),
            Route(MOUNT, lambda _: RedirectResponse(MOUNT + "/", status_code=308)),
            *edge.routes(),
            *health_routes(db, settings),
            _mount(MOUNT, webapp),
            _mount(API_MOUNT, api),
        ],
        middleware=[
            Middleware(HotRoutes, edge=edge),  # the verified pixel and click, framework-free
            Middleware(
                BodyLimit,
                limit=MAX_BODY_BYTES,
                page=edge.error_page,
                larger={MOUNT + "/": MAX_UPLOAD_BYTES, API_MOUNT + "/": EDGE_BODY_LIMIT},
            ),
        ],
        exception_handlers={HTTPException: edge.http_error, Exception: edge.crash},
        lifespan=lifespan,
    )
    # No redirect to a slash-less path: /t/TOKEN/ is a 404 like any unverified link, never a
    # 307 to somewhere (only a verified token redirects, and only to its registered URL).
    app.router.redirect_slashes = False
    app.state.recorder = edge.recorder
    return app


def _mount(path: str, app: ASGIApp) -> Mount:
    """Everything under `path` goes to `app`, also a path with a line break (%0A) in it, which
    Starlette's pattern (`.*`) does not match: the API answers it in problem+json, not the
    tracking routes with an HTML page."""
    mount = Mount(path, app=app)
    mount.path_regex = re.compile(mount.path_regex.pattern, re.DOTALL)
    return mount
