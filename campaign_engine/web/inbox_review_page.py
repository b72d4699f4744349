"""Inbox review (ops): the mail held for a person, applied or dismissed one at a time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from campaign_engine.core.errors import CampaignEngineError
from campaign_engine.core.kinds import ReviewStatus
from campaign_engine.inbound.decisions import Decided, apply_review, dismiss_review
from campaign_engine.inbound.parse import parse_mail
from campaign_engine.inbound.review import reviews
from campaign_engine.store.inbound_tables import InboundReview
from campaign_engine.store.models import User
from campaign_engine.web.base import WebBase
from campaign_engine.web.paging import Paging

__all__ = ["InboxReviewPage"]

_EXCERPT = 1500  # characters of the mail's text shown to help decide


@dataclass(frozen=True)
class _Row:
    review: InboundReview
    text: str


class InboxReviewPage(WebBase):
    def inbox_review_routes(self) -> list[Route]:
        return [
            Route("/inbox-review", self.inbox_review, name="inbox_review"),
            Route("/inbox-review/{review_id:int}/apply", self.apply_held, methods=["POST"]),
            Route("/inbox-review/{review_id:int}/dismiss", self.dismiss_held, methods=["POST"]),
        ]

    async def inbox_review(self, request: Request) -> Response:
        user = await self._require(request, ops=True)
        return await self._review_page(request, user)

    async def _review_page(
        self, request: Request, user: User, status: int = 200, error: str = ""
    ) -> Response:
        everything = request.query_params.get("show") == "all"
        paging = Paging.of(request)

        def load() -> dict[str, Any]:
            with self.db.session() as session:
                rows, total = reviews(
                    session, None if everything else ReviewStatus.OPEN, paging.offset, paging.size
                )
            return {
                "rows": [_Row(r, parse_mail(r.raw).text[:_EXCERPT]) for r in rows],
                "pager": paging.links(request, total),
            }

        data = await self.run(load)
        return self.page(request, "inbox_review.html.j2", status=status, user=user, error=error,
                         everything=everything, **data)  # fmt: skip

    async def apply_held(self, request: Request) -> Response:
        user = await self._require(request, ops=True)
        form = await self._form(request)
        address = " ".join(str(form.get("address", "")).split())[:320] or None
        review_id, now = int(request.path_params["review_id"]), self.clock()
        return await self._decide(
            request,
            user,
            lambda: apply_review(self.db, self.settings, review_id, user.email, now, address),
        )

    async def dismiss_held(self, request: Request) -> Response:
        user = await self._require(request, ops=True)
        await self._form(request)
        review_id, now = int(request.path_params["review_id"]), self.clock()
        return await self._decide(
            request, user, lambda: dismiss_review(self.db, review_id, user.email, now)
        )

    async def _decide(
        self, request: Request, user: User, decide: Callable[[], Decided]
    ) -> Response:
        try:
            decided = await self.run(decide)
        except CampaignEngineError as exc:
            return await self._review_page(request, user, 400, str(exc))
        request.session["flash"] = str(decided)[:300]
        return self._redirect(request, "/inbox-review")
