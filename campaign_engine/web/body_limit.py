"""ASGI middleware that refuses request bodies over a size limit, declared or streamed."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BodyLimit", "BodyTooLarge"]

log = logging.getLogger(__name__)


class BodyTooLarge(HTTPException):
    def __init__(self) -> None:
        super().__init__(413)


class BodyLimit:
    """Refuses request bodies over `limit` bytes (413), by Content-Length or while streaming."""

    def __init__(
        self,
        app: ASGIApp,
        limit: int,
        page: Callable[[int], Response],
        larger: Mapping[str, int] | None = None,
    ) -> None:
        self.app = app
        self.limit = limit
        self.page = page
        self.larger = dict(larger or {})  # path prefix -> its own limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        limit = next((n for p, n in self.larger.items() if path.startswith(p)), self.limit)
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > limit:
            status = 413 if declared.isdigit() else 400
            log.warning("%s %s refused: body %s", scope["method"], scope["path"][:200], status)
            await self.page(status)(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge()
            return message

        await self.app(scope, limited, send)
