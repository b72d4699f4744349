"""Contacts: find one, and change their outreach mode (ops: all, reps: their own)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import anyio
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from campaign_engine.core.errors import CampaignEngineError, NotFound
from campaign_engine.core.kinds import OutreachMode
from campaign_engine.reps import outreach
from campaign_engine.web.base import WebBase, rep_of

__all__ = ["MODES", "ContactPages"]

MODES = {
    OutreachMode.DO_NOTHING: "A: do nothing (no email at all)",
    OutreachMode.SALES_ONLY: "B: sales direct only (the rep sends drafts)",
    OutreachMode.MARKETING: "C: marketing email (automated for SMB)",
}


class ContactPages(WebBase):
    def contact_routes(self) -> list[Route]:
        return [
            Route("/contacts", self.find_contact),
            Route("/contacts/{email}/mode", self.mode, methods=["GET", "POST"], name="mode"),
        ]

    async def find_contact(self, request: Request) -> Response:
        await self._require(request)
        email = request.query_params.get("email", "").strip()
        if not email:
            return self._redirect(request, "/")
        return self._redirect(request, f"/contacts/{quote(email, safe='@')}/mode")

    async def mode(self, request: Request) -> Response:
        user = await self._require(request)
        email = request.path_params["email"]
        error, status = "", 200
        if request.method == "POST":
            form = await self._form(request)
            mode, now = str(form.get("mode", "")), self.clock()

            def change() -> outreach.ModeChange:
                with self.db.session() as session:
                    return outreach.set_outreach_mode(
                        session, self.settings, email, mode, now, rep_of(user)
                    )

            try:
                done = await anyio.to_thread.run_sync(change)
            except NotFound:
                raise HTTPException(404) from None
            except CampaignEngineError as exc:
                error, status = str(exc), 400
            else:
                request.session["flash"] = done.summary()
                return self._redirect(request, f"/contacts/{quote(done.email, safe='@')}/mode")

        def load() -> dict[str, Any]:
            with self.db.session() as session:
                try:
                    contact, account = outreach.find_contact(session, email, rep_of(user))
                except NotFound:
                    raise HTTPException(404) from None
                return {"contact": contact, "account": account}

        data = await anyio.to_thread.run_sync(load)
        return self.page(request, "mode.html.j2", status=status, user=user, error=error,
                         modes=MODES, **data)  # fmt: skip
