"""Contacts (ops: all, reps: their own): search, one contact's whole history, outreach mode."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from campaign_engine.core.errors import CampaignEngineError, NotFound
from campaign_engine.core.kinds import OutreachMode
from campaign_engine.reporting.contact_history import (
    ContactHistory,
    ContactRow,
    contact_history,
    search_contacts,
)
from campaign_engine.reps import outreach
from campaign_engine.store.models import User
from campaign_engine.web.base import WebBase, path_id, rep_of
from campaign_engine.web.paging import Paging

__all__ = ["MODES", "ContactPages"]

MODES = {
    OutreachMode.DO_NOTHING: "A: do nothing (no email at all)",
    OutreachMode.SALES_ONLY: "B: sales direct only (the rep sends drafts)",
    OutreachMode.MARKETING: "C: marketing email (the automated sequence; SMB's default)",
}


class ContactPages(WebBase):
    def contact_routes(self) -> list[Route]:
        return [
            Route("/contacts", self.contacts, name="contacts"),
            Route("/contacts/{contact_id:int}", self.contact, name="contact"),
            Route("/contacts/{email}/mode", self.mode, methods=["GET", "POST"], name="mode"),
        ]

    async def contacts(self, request: Request) -> Response:
        """The search page; `?email=` (the old home-page form) opens that contact directly."""
        user = await self._require(request)
        email = request.query_params.get("email", "").strip()
        if email:
            found = await self._contact_id(email, user)
            return self._redirect(request, f"/contacts/{found}")
        text = request.query_params.get("q", "")[:200]
        paging = Paging.of(request)

        def load() -> tuple[list[ContactRow], int, str]:
            with self.db.session() as session:
                try:
                    rows, total = search_contacts(
                        session, text, rep_of(user), paging.offset, paging.size
                    )
                except NotFound as exc:  # a rep user with no Rep record owns nothing
                    return [], 0, str(exc)
                return rows, total, ""

        rows, total, note = await self.run(load)
        return self.page(request, "contacts.html.j2", user=user, rows=rows, q=text,
                         pager=paging.links(request, total), note=note)  # fmt: skip

    async def contact(self, request: Request) -> Response:
        user = await self._require(request)
        return await self._contact_page(request, user, path_id(request, "contact_id"))

    async def _contact_page(
        self, request: Request, user: User, contact_id: int, status: int = 200, error: str = ""
    ) -> Response:
        def load() -> ContactHistory:
            with self.db.session() as session:
                try:
                    return contact_history(session, contact_id, rep_of(user))
                except NotFound as exc:
                    raise HTTPException(404, str(exc)) from None

        history = await self.run(load)
        return self.page(request, "contact.html.j2", status=status, user=user, h=history,
                         modes=MODES, error=error)  # fmt: skip

    async def mode(self, request: Request) -> Response:
        """GET: the contact's page; POST: change their outreach mode (A, B or C)."""
        user = await self._require(request)
        email = request.path_params["email"]
        contact_id = await self._contact_id(email, user)
        if request.method != "POST":
            return self._redirect(request, f"/contacts/{contact_id}")
        form = await self._form(request)
        mode, now = str(form.get("mode", "")), self.clock()

        def change() -> outreach.ModeChange:
            with self.db.session() as session:
                return outreach.set_outreach_mode(
                    session, self.settings, email, mode, now, rep_of(user)
                )

        try:
            done = await self.run(change)
        except NotFound:
            raise HTTPException(404) from None
        except CampaignEngineError as exc:
            return await self._contact_page(request, user, contact_id, 400, str(exc))
        request.session["flash"] = done.summary()
        return self._redirect(request, f"/contacts/{contact_id}")

    async def _contact_id(self, email: str, user: User) -> int:
        """The id of the contact with this email that the user may see (else 404)."""

        def find() -> int:
            with self.db.session() as session:
                try:
                    contact, _ = outreach.find_contact(session, email, rep_of(user))
                except NotFound as exc:
                    raise HTTPException(404, str(exc)) from None
                assert contact.id is not None
                return contact.id

        return await self.run(find)
