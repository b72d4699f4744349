"""Contact requests in the console: the Unassigned page (ops: requests no rep owns, and giving
their account a rep) and marking a request handled (the rep, from My day; ops, from here)."""

from __future__ import annotations

from itertools import groupby
from typing import Any

from sqlmodel import col, select
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from campaign_engine.audience.accounts import assign_account
from campaign_engine.core.errors import CampaignEngineError, NotFound
from campaign_engine.reporting.request_lists import RequestLine, open_requests
from campaign_engine.reps import unowned_drafts
from campaign_engine.reps.alerts import send_alerts_now
from campaign_engine.reps.request_alerts import fallback_recipients, hand_over_requests
from campaign_engine.reps.request_outcomes import OUTCOMES, mark_handled
from campaign_engine.store.models import Rep
from campaign_engine.web.base import WebBase, path_id, rep_of

__all__ = ["RequestPages"]


class RequestPages(WebBase):
    def request_routes(self) -> list[Route]:
        return [
            Route("/unassigned", self.unassigned, name="unassigned"),
            Route("/unassigned/assign", self.assign, methods=["POST"], name="assign"),
            Route(
                "/requests/{request_id:int}/handled",
                self.handled,
                methods=["POST"],
                name="handled",
            ),
        ]

    async def unassigned(self, request: Request) -> Response:
        user = await self._require(request, ops=True)
        return await self._unassigned_page(request, user)

    async def _unassigned_page(
        self, request: Request, user: Any, status: int = 200, error: str = ""
    ) -> Response:
        def load() -> dict[str, Any]:
            with self.db.session() as session:
                lines = sorted(open_requests(session, None, unassigned=True), key=_account)
                requests = {a: list(g) for a, g in groupby(lines, _account)}
                drafts = {w.account: w for w in unowned_drafts.waiting(session)}
                only_drafts = sorted(drafts.keys() - requests.keys())
                shown = sorted(requests.keys() | set(only_drafts[: unowned_drafts.LISTED]))
                reps = session.exec(select(Rep).order_by(col(Rep.name), col(Rep.email))).all()
                return {
                    "accounts": [(a, requests.get(a, []), drafts.get(a)) for a in shown],
                    "more_accounts": max(0, len(only_drafts) - unowned_drafts.LISTED),
                    "total": len(lines),
                    "drafts_total": sum(w.drafts for w in drafts.values()),
                    "contacts_waiting": sum(w.contacts for w in drafts.values()),
                    "reps": reps,
                    "fallback": ", ".join(fallback_recipients(session, self.settings)),
                }

        data = await self.run(load)
        return self.page(request, "unassigned.html.j2", status=status, user=user, error=error,
                         outcomes=OUTCOMES, **data)  # fmt: skip

    async def assign(self, request: Request) -> Response:
        user = await self._require(request, ops=True)
        form = await self._form(request)
        account, rep = str(form.get("account", "")), str(form.get("rep_email", ""))
        now = self.clock()

        def give() -> tuple[str, int]:
            with self.db.session() as session:
                drafts = unowned_drafts.waiting(session, account=account)
                done = assign_account(session, account, rep, f"web:{user.email}", now)
            sentence = done.sentence() + unowned_drafts.handed_over(drafts, done.rep_email)
            return sentence, hand_over_requests(self.db, self.settings, now)

        try:
            sentence, moved = await self.run(give)
        except CampaignEngineError as exc:
            return await self._unassigned_page(request, user, 400, str(exc))
        request.session["flash"] = (
            f"{sentence} {moved} open contact request(s) moved to {rep}, who is alerted now."
        )
        response = self._redirect(request, "/unassigned")
        response.background = BackgroundTask(self._send_alerts)
        return response

    async def handled(self, request: Request) -> Response:
        user = await self._require(request)
        form = await self._form(request)
        request_id, outcome = path_id(request, "request_id"), str(form.get("outcome", ""))
        now = self.clock()

        def mark() -> str:
            with self.db.session() as session:
                done = mark_handled(
                    session, request_id, outcome, user.email, rep_of(user), now,
                    str(form.get("note", "")),
                )  # fmt: skip
                return f"Contact request {done.id} marked handled: {done.outcome}."

        try:
            request.session["flash"] = await self.run(mark)
        except NotFound:
            raise HTTPException(404) from None
        except CampaignEngineError as exc:
            request.session["flash"] = str(exc)
        back = str(form.get("back", "/"))
        return self._redirect(request, back if back in ("/", "/unassigned") else "/")

    async def _send_alerts(self) -> None:
        await send_alerts_now(self.db, self.settings, self.transport_factory, self.clock())


def _account(line: RequestLine) -> str:
    return line.account
