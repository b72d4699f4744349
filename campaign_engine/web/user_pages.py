"""Users (ops): who may log in, with which role; add one."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from campaign_engine.core.errors import CampaignEngineError
from campaign_engine.store.models import User
from campaign_engine.web.base import WebBase
from campaign_engine.web.users import add_user, list_users

__all__ = ["UserPages"]

log = logging.getLogger(__name__)


class UserPages(WebBase):
    def user_routes(self) -> list[Route]:
        return [
            Route("/users", self.users, name="users"),
            Route("/users/add", self.add, methods=["POST"]),
        ]

    async def users(self, request: Request) -> Response:
        user = await self._require(request, ops=True)
        return await self._users_page(request, user)

    async def _users_page(
        self, request: Request, user: User, status: int = 200, error: str = ""
    ) -> Response:
        views = await self.run(lambda: list_users(self.db))
        return self.page(request, "users.html.j2", status=status, user=user, users=views,
                         error=error)  # fmt: skip

    async def add(self, request: Request) -> Response:
        user = await self._require(request, ops=True)
        form = await self._form(request)
        email, role = str(form.get("email", ""))[:320], str(form.get("role", ""))
        password, now = str(form.get("password", "")), self.clock()
        try:
            await self.run(lambda: add_user(self.db, email, role, password, now))
        except CampaignEngineError as exc:
            return await self._users_page(request, user, 400, str(exc))
        log.info("web: %s added user %s (%s)", user.email, email, role)
        request.session["flash"] = f"Added {email} ({role})."
        return self._redirect(request, "/users")
