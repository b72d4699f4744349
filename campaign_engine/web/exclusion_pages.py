"""Exclusions (ops): the list, uploading a file (with its per-row report), lifting one."""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import anyio
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from campaign_engine.audience import exclusion_apply, exclusions
from campaign_engine.audience.csvfile import Progress
from campaign_engine.audience.exclusion_file import ExclusionResult
from campaign_engine.core.errors import CampaignEngineError
from campaign_engine.reporting.exclusion_lists import search_exclusions
from campaign_engine.store import queries
from campaign_engine.store.models import User
from campaign_engine.web.base import PAGE_HEADERS, WebBase, upload_name
from campaign_engine.web.paging import Paging
from campaign_engine.web.upload_progress import PROGRESS_FROM_BYTES, stream_progress
from campaign_engine.web.upload_results import LISTS, list_csv, list_rows

__all__ = ["ExclusionPages"]

log = logging.getLogger(__name__)

_UPLOADS_SHOWN = 10  # uploads a page of the exclusions page lists
_GONE = (
    "That upload result is no longer kept (the server keeps the last uploads until it restarts);"
    " the exclusions themselves are in the list."
)


class ExclusionPages(WebBase):
    def exclusion_routes(self) -> list[Route]:
        return [
            Route("/exclusions", self.exclusions, name="exclusions"),
            Route("/exclusions/upload", self.upload, methods=["POST"]),
            Route("/exclusions/remove", self.remove_exclusion, methods=["POST"]),
            Route("/exclusions/uploads/{key}", self.upload_result, name="upload_result"),
            Route("/exclusions/uploads/{key}/{list}.csv", self.upload_csv),
            Route("/exclusions/previews/{upload_id:int}/apply", self.apply, methods=["POST"]),
            Route("/exclusions/applied/{upload_id:int}/revert", self.revert, methods=["POST"]),
        ]

    async def exclusions(self, request: Request) -> Response:
        user = await self._require(request, ops=True)
        return await self._exclusions_page(request, user)

    async def _exclusions_page(
        self, request: Request, user: User, status: int = 200, error: str = ""
    ) -> Response:
        now = self.clock()
        text = request.query_params.get("q", "")[:200]
        removed = request.query_params.get("show") == "removed"
        paging = Paging.of(request)
        upload_paging = Paging.of(request, _UPLOADS_SHOWN, name="uploads")

        def load() -> dict[str, Any]:
            with self.db.session() as session:
                views, total = search_exclusions(session, text, removed, paging.offset, paging.size)
                deadlines = exclusion_apply.deadline_statuses(session, now)
                names = queries.campaign_names(session)
                uploads, upload_total = exclusions.list_uploads(
                    session, upload_paging.size, upload_paging.offset
                )
            return {
                "rows": views,
                "pager": paging.links(request, total),
                "deadlines": deadlines,
                "campaigns": names,
                "uploads": uploads,
                "upload_pager": upload_paging.links(request, upload_total, "uploads"),
            }

        data = await anyio.to_thread.run_sync(load)
        return self.page(request, "exclusions.html.j2", status=status, user=user, error=error,
                         q=text, removed=removed, **data)  # fmt: skip

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
        folder = tempfile.mkdtemp(prefix="campaign-upload-")
        path = Path(folder) / "upload.csv"
        await anyio.to_thread.run_sync(lambda: _save(upload, path))

        def run(progress: Progress | None = None) -> ExclusionResult:
            try:
                return exclusion_apply.exclude_file(
                    self.db, path, now, campaign, user.email, dry_run, strict,
                    progress=progress, name=name,
                )  # fmt: skip
            finally:
                shutil.rmtree(folder, ignore_errors=True)

        if path.stat().st_size >= PROGRESS_FROM_BYTES:
            return self._progress_page(request, user, name, run)
        try:
            result = await anyio.to_thread.run_sync(run)
        except CampaignEngineError as exc:
            return await self._exclusions_page(request, user, 400, str(exc))
        log.info("web exclusion upload %s by %s: %d added", name, user.email, result.added)
        return self._result_page(request, user, self.upload_results.keep(result), result)

    def _progress_page(
        self,
        request: Request,
        user: User,
        name: str,
        run: Callable[[Progress | None], ExclusionResult],
    ) -> Response:
        """A long upload: its progress streamed, then the result page opened."""
        here = request.scope.get("root_path", "") + "/exclusions"

        def work(progress: Progress) -> str:
            result = run(progress)
            log.info("web exclusion upload %s by %s: %d added", name, user.email, result.added)
            return f"{here}/uploads/{self.upload_results.keep(result)}"

        page = self.page(request, "upload_progress.html.j2", user=user, file=name)
        return StreamingResponse(
            stream_progress(bytes(page.body).decode(), work, here),
            media_type="text/html; charset=utf-8",
            headers=PAGE_HEADERS,
        )

    async def upload_result(self, request: Request) -> Response:
        """One upload's result again, its lists a page at a time (`?rejected=2`...)."""
        user = await self._require(request, ops=True)
        key = request.path_params["key"]
        result = self.upload_results.get(key)
        if result is None:
            raise HTTPException(404, _GONE)
        return self._result_page(request, user, key, result)

    async def upload_csv(self, request: Request) -> Response:
        await self._require(request, ops=True)
        result = self.upload_results.get(request.path_params["key"])
        name = request.path_params["list"]
        if result is None or name not in LISTS:
            raise HTTPException(404, _GONE)
        filename = f"{Path(result.file).stem}-{name}.csv"
        return Response(list_csv(result, name), media_type="text/csv; charset=utf-8",
                        headers={**PAGE_HEADERS,
                                 "Content-Disposition": f'attachment; filename="{filename}"'})  # fmt: skip

    def _result_page(
        self, request: Request, user: User, key: str, result: ExclusionResult
    ) -> Response:
        lists, here = [], request.scope.get("root_path", "") + f"/exclusions/uploads/{key}"
        for name, spec in LISTS.items():
            rows = list_rows(result, name)
            paging = Paging.of(request, name=name)
            lists.append({"name": name, "title": spec.title, "columns": spec.columns,
                          "rows": rows[paging.offset : paging.offset + paging.size],
                          "pager": paging.links(request, len(rows), name, here)})  # fmt: skip
        return self.page(request, "exclusion_result.html.j2", user=user, result=result,
                         key=key, lists=lists)  # fmt: skip

    async def apply(self, request: Request) -> Response:
        """Apply a preview as it was read: no second upload."""
        user = await self._require(request, ops=True)
        await self._form(request)
        upload_id, now = request.path_params["upload_id"], self.clock()
        try:
            result = await anyio.to_thread.run_sync(
                lambda: exclusion_apply.apply_preview(self.db, upload_id, user.email, now)
            )
        except CampaignEngineError as exc:
            return await self._exclusions_page(request, user, 409, str(exc))
        log.info("web exclusion preview %d applied by %s: %d added", upload_id, user.email,
                 result.added)  # fmt: skip
        request.session["flash"] = f"Applied: {result.added} new exclusion(s)."
        return self._redirect(request, f"/exclusions/uploads/{self.upload_results.keep(result)}")

    async def revert(self, request: Request) -> Response:
        """Undo an applied upload as a whole (who and why in the audit log)."""
        user = await self._require(request, ops=True)
        form = await self._form(request)
        upload_id, now = request.path_params["upload_id"], self.clock()
        reason = str(form.get("reason", ""))[:500]
        try:
            done = await anyio.to_thread.run_sync(
                lambda: exclusion_apply.revert_upload(self.db, upload_id, user.email, reason, now)
            )
        except CampaignEngineError as exc:
            return await self._exclusions_page(request, user, 409, str(exc))
        request.session["flash"] = (
            f"Upload {done.upload_id} ({done.file}) reverted: {done.lifted} exclusion(s) lifted."
        )
        return self._redirect(request, "/exclusions?show=removed")

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
        return self._redirect(request, "/exclusions?" + urlencode({"show": "removed", "q": target}))


def _save(upload: UploadFile, path: Path) -> None:
    with path.open("wb") as handle:
        shutil.copyfileobj(upload.file, handle)
