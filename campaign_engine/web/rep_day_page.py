"""The home page: ops go to the campaigns; a rep gets "My day" (open contact requests first,
with the contact's words and the meeting guide, then reminders due and the next drafts)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from campaign_engine.core.errors import NotFound
from campaign_engine.core.kinds import DraftStatus, UserRole
from campaign_engine.reporting.rep_day import draft_rows
from campaign_engine.reporting.request_lists import open_requests
from campaign_engine.reporting.search import COUNT_CAP
from campaign_engine.reps.drafts import rep_by_email
from campaign_engine.reps.reminder_query import due_reminder_page
from campaign_engine.reps.request_outcomes import OUTCOMES
from campaign_engine.web.base import WebBase

__all__ = ["NEXT_DRAFTS", "NEXT_REMINDERS", "RepDayPage", "reminders_due"]

NEXT_DRAFTS = 10  # drafts shown on "My day" (the Drafts page has them all)
NEXT_REMINDERS = 25  # the oldest reminders shown on "My day" (`campaign reminders` lists all)


def reminders_due(shown: int, due: int) -> str:
    """The heading's count of reminders due, `due` counted no further than COUNT_CAP + 1:
    "the oldest 25 of 1,000+", "the oldest 25 of 300", "3"."""
    total = f"{COUNT_CAP:,}+" if due > COUNT_CAP else f"{due:,}"
    return f"the oldest {shown} of {total}" if due > shown else total


class RepDayPage(WebBase):
    def rep_day_routes(self) -> list[Route]:
        return [Route("/", self.home, name="home")]

    async def home(self, request: Request) -> Response:
        user = await self._require(request)
        if user.role == UserRole.OPS:
            return self._redirect(request, "/campaigns")
        now, days = self.clock(), self.settings.reminder_days

        def load() -> dict[str, Any]:
            with self.db.session() as session:
                try:
                    rows, total, more = draft_rows(
                        session, user.email, days, status=DraftStatus.DRAFT, limit=NEXT_DRAFTS
                    )
                    reminders, due = due_reminder_page(
                        session, now, days, user.email, NEXT_REMINDERS, at_most=COUNT_CAP + 1
                    )
                    return {
                        "requests": open_requests(session, rep_by_email(session, user.email).id),
                        "reminders": reminders,
                        "reminders_due": reminders_due(len(reminders), due),
                        "drafts": rows,
                        "drafts_total": f"{total:,}+" if more else f"{total:,}",
                        "note": "",
                    }
                except NotFound as exc:  # a rep user with no Rep record owns nothing
                    return {"requests": [], "reminders": [], "reminders_due": "0", "drafts": [],
                            "drafts_total": "0", "note": str(exc)}  # fmt: skip

        data = await self.run(load)
        return self.page(request, "home.html.j2", user=user, q="", outcomes=OUTCOMES, **data)
