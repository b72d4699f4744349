"""The campaign dashboard (ops), inside the app menu: the report's figures and SVG charts, and the
same report as CSV."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from campaign_engine.reporting import reports
from campaign_engine.reporting.dashboard import dashboard_context
from campaign_engine.reporting.report_export import to_csv
from campaign_engine.reporting.report_model import Report
from campaign_engine.store import queries
from campaign_engine.web.base import PAGE_HEADERS, WebBase
from campaign_engine.web.snapshots import Snapshot

__all__ = ["DashboardPage"]


class DashboardPage(WebBase):
    def dashboard_routes(self) -> list[Route]:
        return [
            Route("/dashboard", self.dashboard, name="dashboard"),
            Route("/dashboard.csv", self.dashboard_csv),
        ]

    async def dashboard(self, request: Request) -> Response:
        user = await self._require(request, ops=True)
        name = request.query_params.get("campaign") or None
        fresh = request.query_params.get("fresh") == "1"
        counted, names = await self.run(lambda: self._report(name, fresh))
        return self.page(request, "dashboard.html.j2", user=user, campaign=name or "",
                         campaigns=names, counted=counted,
                         **dashboard_context(counted.value))  # fmt: skip

    async def dashboard_csv(self, request: Request) -> Response:
        """The report the dashboard shows (the same count), as CSV."""
        await self._require(request, ops=True)
        name = request.query_params.get("campaign") or None
        counted, _ = await self.run(lambda: self._report(name, fresh=False))
        report = counted.value
        filename = f"report-{name or 'all'}.csv".replace('"', "")
        return Response(to_csv(report), media_type="text/csv; charset=utf-8",
                        headers={**PAGE_HEADERS,
                                 "Content-Disposition": f'attachment; filename="{filename}"'})  # fmt: skip

    def _report(self, name: str | None, fresh: bool) -> tuple[Snapshot[Report], list[str]]:
        """The report of one campaign (404 naming it when there is none such) or of all, as
        last counted, and every campaign's name."""
        with self.db.session() as session:
            names = queries.campaign_names(session)
        if name is not None and name not in names:
            raise HTTPException(404, f"no campaign named {name}")

        def count() -> Report:
            now = self.clock()
            pending = reports.due_reminder_counts(now, self.settings.reminder_days)
            with self.db.session() as session:
                return reports.load_report(session, now, name, reminders=pending)

        return self.snapshots.get(("report", name, tuple(names)), count, fresh), names
