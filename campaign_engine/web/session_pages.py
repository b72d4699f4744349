"""Signing in and out."""

from __future__ import annotations

import logging

import anyio
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from campaign_engine.tracking.hits import ip_prefix
from campaign_engine.web.auth import start_session
from campaign_engine.web.base import WebBase, safe_next
from campaign_engine.web.logins import end_logins, open_login
from campaign_engine.web.users import LoginRefused, TooManyFailures, authenticate

__all__ = ["SessionPages"]

log = logging.getLogger(__name__)


class SessionPages(WebBase):
    def session_routes(self) -> list[Route]:
        return [
            Route("/login", self.login, methods=["GET", "POST"], name="login"),
            Route("/logout", self.logout, methods=["POST"], name="logout"),
        ]

    async def login(self, request: Request) -> Response:
        next_path = safe_next(request.query_params.get("next", ""))
        if request.method != "POST":
            if await self._user(request) is not None:
                return self._redirect(request, next_path or "/")
            return self.page(request, "login.html.j2", user=None, email="", next=next_path)
        form = await self._form(request)
        email = str(form.get("email", ""))[:320]
        password = str(form.get("password", ""))
        client = ip_prefix(request.client.host if request.client else None)
        now = self.clock()
        try:
            user = await anyio.to_thread.run_sync(
                lambda: authenticate(self.db, email, password, now, client)
            )
        except TooManyFailures as exc:
            log.warning("web login for %r refused: too many failures", email)
            return self.page(request, "login.html.j2", status=429, user=None, email=email,
                             next=next_path, error=str(exc),
                             headers={"Retry-After": str(exc.retry_after)})  # fmt: skip
        except LoginRefused as exc:
            log.warning("web login for %r refused", email)
            return self.page(request, "login.html.j2", status=400, user=None, email=email,
                             next=next_path, error=str(exc))  # fmt: skip
        uid = user.id
        assert uid is not None
        login_id = await self.run(lambda: open_login(self.db, uid, now))
        start_session(request.session, login_id)
        log.info("web login: %s (%s)", user.email, user.role)
        return self._redirect(request, next_path or "/")

    async def logout(self, request: Request) -> Response:
        await self._form(request)
        user = await self._user(request)
        if user is not None and user.id is not None:  # server-side: saved cookies stop working
            uid = user.id

            def end() -> None:
                with self.db.session() as session:
                    end_logins(session, uid)

            await self.run(end)
        request.session.clear()
        return self._redirect(request, "/login")
