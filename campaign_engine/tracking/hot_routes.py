"""The two hottest tracking answers in plain ASGI: a verified open pixel and a verified click.

Every tracked open and click of every email lands on `GET /o/TOKEN.gif` or `GET /t/TOKEN`, so
their common case skips the framework: no routing, no Request or Response objects, headers
built once (the very bytes the framework's responses carry). Only a genuine token of the right
kind is answered here, and a click only when its message (from memory, or looked up once)
has that link; anything else (a bad or foreign token, an unknown message or link, a request
with a body, a mounted root path) goes on to the full app, which answers and logs it as
before (the GIF, or the 404 page: an unverified link never redirects).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from campaign_engine.core.kinds import EventKind
from campaign_engine.core.tokens import TokenKind
from campaign_engine.tracking.routes import PIXEL_GIF, PIXEL_HEADERS, TrackingEdge, redirect_headers

__all__ = ["HotRoutes"]

_METHODS = frozenset({"GET", "HEAD"})
_GIF = ".gif"


class HotRoutes:
    """ASGI middleware: answers the verified pixel and click itself, passes on the rest."""

    def __init__(self, app: ASGIApp, edge: TrackingEdge) -> None:
        self.app = app
        self.edge = edge

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in _METHODS and not scope.get("root_path"):
            path: str = scope["path"]
            if path.startswith("/o/") and path.endswith(_GIF):
                if await self._pixel(scope, path[3 : -len(_GIF)], send):
                    return
            elif path.startswith("/t/") and await self._click(scope, path[3:], send):
                return
        await self.app(scope, receive, send)

    async def _pixel(self, scope: Scope, token: str, send: Send) -> bool:
        payload = self.edge.signer.verify(token)
        if payload is None or payload.kind is not TokenKind.OPEN:
            return False
        agent = _user_agent(scope)
        if agent is None:
            return False
        hit = self.edge.hit(
            scope["method"], agent, _host(scope), EventKind.OPEN, payload.message_id
        )
        self.edge.recorder.submit(hit)
        await send({"type": "http.response.start", "status": 200, "headers": PIXEL_HEADERS})
        await send({"type": "http.response.body", "body": PIXEL_GIF})
        return True

    async def _click(self, scope: Scope, token: str, send: Send) -> bool:
        payload = self.edge.signer.verify(token)
        if payload is None or payload.kind is not TokenKind.CLICK:
            return False
        agent = _user_agent(scope)
        if agent is None:
            return False
        recorder = self.edge.recorder
        info = recorder.cached(payload.message_id) or await recorder.info(payload.message_id)
        if info is None or payload.link_index >= len(info.links):
            return False
        url = info.links[payload.link_index]
        hit = self.edge.hit(
            scope["method"], agent, _host(scope), EventKind.CLICK, payload.message_id,
            payload.link_index, url,
        )  # fmt: skip
        recorder.submit(hit)
        await send({"type": "http.response.start", "status": 302, "headers": redirect_headers(url)})
        await send({"type": "http.response.body", "body": b""})
        return True


def _user_agent(scope: Scope) -> str | None:
    """The User-Agent header (first one, "" when none), or None when the request declares a
    body: the full app applies its body limit to those."""
    agent: str | None = None
    for name, value in scope["headers"]:
        if name == b"user-agent":
            if agent is None:
                agent = value.decode("latin-1")
        elif (name == b"content-length" and value != b"0") or name == b"transfer-encoding":
            return None
    return agent or ""


def _host(scope: Scope) -> str | None:
    client = scope.get("client")
    return client[0] if client else None
