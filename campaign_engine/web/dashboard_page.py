"""The campaign dashboard (ops): the report's figures and SVG charts."""

from __future__ import annotations

import anyio
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from campaign_engine.reporting import reports
from campaign_engine.reporting.dashboard import render_dashboard
from campaign_engine.web.base import PAGE_HEADERS, WebBase

__all__ = ["DashboardPage"]


class DashboardPage(WebBase):
    def dashboard_routes(self) -> list[Route]:
        return [Route("/dashboard", self.dashboard, name="dashboard")]

    async def dashboard(self, request: Request) -> Response:
        await self._require(request, ops=True)
        now, name = self.clock(), request.query_params.get("campaign") or None

        def load() -> str:
            pending = reports.due_reminder_counts(now, self.settings.reminder_days)
            with self.db.session() as session:
                report = reports.load_report(session, now, name, reminders=pending)
            return render_dashboard(report, self.settings.templates_dir)

        html = await anyio.to_thread.run_sync(load)
        return HTMLResponse(html, headers=PAGE_HEADERS)
