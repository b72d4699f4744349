"""Exclusions (ops): the list, uploading a file (with its per-row report), lifting one."""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

import anyio
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from campaign_engine.audience import exclusions
from campaign_engine.core.errors import CampaignEngineError
from campaign_engine.store import queries
from campaign_engine.store.models import User
from campaign_engine.web.base import WebBase, upload_name

__all__ = ["ExclusionPages"]

log = logging.getLogger(__name__)


class ExclusionPages(WebBase):
    def exclusion_routes(self) -> list[Route]:
        return [
            Route("/exclusions", self.exclusions, name="exclusions"),
            Route("/exclusions/upload", self.upload, methods=["POST"]),
            Route("/exclusions/remove", self.remove_exclusion, methods=["POST"]),
        ]

    async def exclusions(self, request: Request) -> Response:
        user = await self._require(request, ops=True)
        return await self._exclusions_page(request, user)

    async def _exclusions_page(
        self, request: Request, user: User, status: int = 200, error: str = ""
    ) -> Response:
        now = self.clock()

        def load() -> dict[str, Any]:
            views = exclusions.list_exclusions(self.db, include_removed=True)
            with self.db.session() as session:
                deadlines = exclusions.deadline_statuses(session, now)
                names = queries.campaign_names(session)
            return {
                "active": [v for v in views if v.removed_at is None],
                "removed": [v for v in views if v.removed_at is not None],
                "deadlines": deadlines,
                "campaigns": names,
            }

        data = await anyio.to_thread.run_sync(load)
        return self.page(request, "exclusions.html.j2", status=status, user=user, error=error,
                         **data)  # fmt: skip

    async def upload(self, request: Request) -> Response:
        user = await self._require(request, ops=True)
        form = await self._form(request, files=1)
        try:
            return await self._upload(request, user, form)
        finally:
            await form.close()

    async def _upload(self, request: Request, user: User, form: FormData) -> Response:
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            return await self._exclusions_page(request, user, 400, "choose a CSV file to upload")
        name = upload_name(upload.filename)
        campaign = str(form.get("campaign", "")).strip() or None
        dry_run, strict = bool(form.get("dry_run")), bool(form.get("strict"))
        now = self.clock()
        with tempfile.TemporaryDirectory(prefix="campaign-upload-") as folder:
            path = Path(folder) / "upload.csv"

            def run() -> exclusions.ExclusionResult:
                with path.open("wb") as handle:
                    shutil.copyfileobj(upload.file, handle)
                return exclusions.exclude_file(
                    self.db, path, now, campaign, user.email, dry_run, strict, name=name
                )

            try:
                result = await anyio.to_thread.run_sync(run)
            except CampaignEngineError as exc:
                return await self._exclusions_page(request, user, 400, f"{name}: {exc}")
        log.info("web exclusion upload %s by %s: %d added", name, user.email, result.added)
        return self.page(request, "exclusion_result.html.j2", user=user, result=result,
                         strict=strict)  # fmt: skip

    async def remove_exclusion(self, request: Request) -> Response:
        user = await self._require(request, ops=True)
        form = await self._form(request)
        target = str(form.get("target", ""))
        campaign = str(form.get("campaign", "")) or None
        reason = " ".join(str(form.get("reason", "")).split())[:500]
        now = self.clock()
        try:
            count = await anyio.to_thread.run_sync(
                lambda: exclusions.remove_exclusion(
                    self.db, target, now, campaign, user.email, reason
                )
            )
        except CampaignEngineError as exc:
            return await self._exclusions_page(request, user, 404, str(exc))
        request.session["flash"] = f"Removed {count} exclusion(s) of {target}."
        return self._redirect(request, "/exclusions")
