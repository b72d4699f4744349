"""Drafts (ops: all, reps: their own): the list, one draft, edit it, send it."""

from __future__ import annotations

import logging

import anyio
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from campaign_engine.core.errors import CampaignEngineError, NotFound, TransportError
from campaign_engine.core.kinds import DraftStatus
from campaign_engine.reporting.rep_day import DraftRow, draft_rows
from campaign_engine.reps import drafts as draft_service
from campaign_engine.reps import repsend
from campaign_engine.reps.draft_preview import build_test_copy, preview_html, send_test_copy
from campaign_engine.sending.transport import Delivery
from campaign_engine.store import queries
from campaign_engine.store.models import User
from campaign_engine.web.base import WebBase, path_id, rep_of
from campaign_engine.web.paging import Paging

__all__ = ["DraftPages"]

log = logging.getLogger(__name__)

_STATUSES = ("draft", "sent", "cancelled", "all")


class DraftPages(WebBase):
    def draft_routes(self) -> list[Route]:
        return [
            Route("/drafts", self.drafts, name="drafts"),
            Route("/drafts/{draft_id:int}", self.draft, name="draft"),
            Route("/drafts/{draft_id:int}/edit", self.edit_draft, methods=["POST"]),
            Route("/drafts/{draft_id:int}/send", self.send_draft, methods=["GET", "POST"]),
            Route("/drafts/{draft_id:int}/test", self.send_test, methods=["POST"]),
        ]

    async def drafts(self, request: Request) -> Response:
        """Drafts in due order with their campaign, searched and paged (`?q=&campaign=&page=`)."""
        user = await self._require(request)
        status = request.query_params.get("status", "draft")
        status = status if status in _STATUSES else "draft"
        campaign = request.query_params.get("campaign", "") or None
        text = request.query_params.get("q", "")[:200]
        paging = Paging.of(request)

        def load() -> tuple[list[DraftRow], int, bool, list[str], str]:
            with self.db.session() as session:
                names = queries.campaign_names(session)
                try:
                    rows, total, more = draft_rows(
                        session, rep_of(user), self.settings.reminder_days, text=text,
                        campaign=campaign, status=None if status == "all" else status,
                        offset=paging.offset, limit=paging.size,
                    )  # fmt: skip
                except NotFound as exc:  # a rep user with no Rep record owns nothing
                    return [], 0, False, names, str(exc)
            return rows, total, more, names, ""

        rows, total, more, names, note = await self.run(load)
        return self.page(request, "drafts.html.j2", user=user, drafts=rows, campaigns=names,
                         campaign=campaign or "", shown=status, statuses=_STATUSES, q=text,
                         pager=paging.links(request, total, more=more), note=note)  # fmt: skip

    async def draft(self, request: Request) -> Response:
        user = await self._require(request)
        return await self._draft_page(request, user)

    async def _draft_page(
        self,
        request: Request,
        user: User,
        status: int = 200,
        error: str = "",
        subject: str | None = None,
        body: str | None = None,
    ) -> Response:
        draft_id = path_id(request, "draft_id")
        view = await anyio.to_thread.run_sync(lambda: self._get_draft(draft_id, user))
        html = await self.run(lambda: self._preview(draft_id, user))
        return self.page(request, "draft.html.j2", status=status, user=user, draft=view,
                         error=error, editable=view.status == DraftStatus.DRAFT, preview=html,
                         subject=view.subject if subject is None else subject,
                         body=view.body_text if body is None else body)  # fmt: skip

    async def edit_draft(self, request: Request) -> Response:
        user = await self._require(request)
        form = await self._form(request)
        draft_id = path_id(request, "draft_id")
        subject, body = str(form.get("subject", "")), str(form.get("body", ""))
        now = self.clock()

        def edit() -> None:
            self._get_draft(draft_id, user)  # another rep's draft is not found (404)
            with self.db.session() as session:
                draft_service.edit_draft(
                    session, self.settings, draft_id, rep_of(user), now, subject, body
                )

        try:
            await anyio.to_thread.run_sync(edit)
        except CampaignEngineError as exc:
            return await self._draft_page(request, user, 400, str(exc), subject, body)
        request.session["flash"] = "Draft saved."
        return self._redirect(request, f"/drafts/{draft_id}")

    async def send_draft(self, request: Request) -> Response:
        """GET: "send this email to ... from ...?" with the button; POST: send it now."""
        user = await self._require(request)
        draft_id = path_id(request, "draft_id")
        if request.method != "POST":
            view = await self.run(lambda: self._get_draft(draft_id, user))
            return self.page(request, "draft_send.html.j2", user=user, draft=view)
        await self._form(request)
        await anyio.to_thread.run_sync(lambda: self._get_draft(draft_id, user))
        now = self.clock()
        try:
            async with self.transport_factory() as transport:
                sent = await repsend.send_draft(
                    self.db, self.settings, transport, draft_id, rep_of(user), now
                )
        except NotFound:
            raise HTTPException(404) from None
        except draft_service.DraftRefused as exc:
            return await self._draft_page(request, user, 409, str(exc))
        except TransportError as exc:
            return await self._draft_page(request, user, 502, str(exc))
        log.info("web: %s sent draft %d (message %d)", user.email, draft_id, sent.message_id)
        request.session["flash"] = (
            f"Sent email {sent.step} {sent.subject!r} to {sent.recipient} from {sent.sender}."
        )
        return self._redirect(request, f"/drafts/{draft_id}")

    async def send_test(self, request: Request) -> Response:
        """Mail a test copy of the draft to the logged-in user (not a campaign send)."""
        user = await self._require(request)
        await self._form(request)
        draft_id = path_id(request, "draft_id")
        now = self.clock()

        def build() -> Delivery:
            with self.db.session() as session:
                try:
                    return build_test_copy(
                        session, self.settings, draft_id, rep_of(user), user.email, now
                    )
                except NotFound:
                    raise HTTPException(404) from None

        copy = await self.run(build)
        try:
            async with self.transport_factory() as transport:
                await send_test_copy(transport, copy)
        except TransportError as exc:
            return await self._draft_page(request, user, 502, str(exc))
        log.info("web: %s mailed themselves a test of draft %d", user.email, draft_id)
        request.session["flash"] = f"Test copy sent to {user.email} (not sent to the contact)."
        return self._redirect(request, f"/drafts/{draft_id}")

    def _preview(self, draft_id: int, user: User) -> str:
        with self.db.session() as session:
            draft, *_ = draft_service.draft_row(session, draft_id, rep_of(user))
            return preview_html(draft)

    def _get_draft(self, draft_id: int, user: User) -> draft_service.DraftView:
        with self.db.session() as session:
            try:
                return draft_service.get_draft(session, draft_id, rep_of(user))
            except NotFound:
                raise HTTPException(404) from None
