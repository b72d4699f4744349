"""What every page of the web app shares: settings and database, the page renderer, who is
logged in (and may they), CSRF-checked forms, and the error pages.

Each area of the app (`session_pages`, `campaign_pages`, ...) is a mixin of `WebBase`; `pages`
puts them together into one Starlette app.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlencode

import anyio
import jinja2
from jinja2.sandbox import SandboxedEnvironment
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from campaign_engine.core.config import Settings
from campaign_engine.core.kinds import UserRole
from campaign_engine.reporting.dashboard import show
from campaign_engine.reps.rep_view import link_parts
from campaign_engine.sending.templating import template_environment
from campaign_engine.sending.transport import Transport
from campaign_engine.store.db import Database
from campaign_engine.store.models import MAX_ID, User
from campaign_engine.web.auth import CSRF_FIELD, csrf_ok, csrf_token, session_login_id
from campaign_engine.web.logins import login_user
from campaign_engine.web.snapshots import Snapshots
from campaign_engine.web.upload_results import UploadResults

__all__ = [
    "PAGE_HEADERS",
    "Clock",
    "LoginNeeded",
    "WebBase",
    "path_id",
    "rep_of",
    "safe_next",
    "upload_name",
]

log = logging.getLogger(__name__)

_MAX_FIELDS = 20
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Robots-Tag": "noindex, nofollow",
}
_UNSAFE_NAME = re.compile(r"[^\w. ()+-]")

Clock = Callable[[], datetime]
T = TypeVar("T")


class LoginNeeded(Exception):
    """A page asked for without a (valid) session: go to the login page, then come back."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class WebBase:
    """The state and helpers of the web app; the page mixins add the routes' handlers."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        clock: Clock,
        transport_factory: Callable[[], Transport],
    ) -> None:
        self.settings = settings
        self.db = db
        self.clock = clock
        self.transport_factory = transport_factory
        self.upload_results = UploadResults()  # exclusion uploads' results, to page through
        self.snapshots = Snapshots(timedelta(seconds=settings.recount_seconds), clock)
        web = settings.templates_dir / "web"
        self.pages: SandboxedEnvironment = template_environment(web / "app", pages=True)
        self.pages.loader = jinja2.FileSystemLoader([web / "app", settings.templates_dir])
        self.pages.filters["show"] = show
        self.pages.filters["link_parts"] = link_parts  # the play's meeting guide on My day

    # -- errors -----------------------------------------------------------------------------

    async def login_needed(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginNeeded)
        query = urlencode({"next": exc.next_path}) if exc.next_path not in ("", "/") else ""
        return self._redirect(request, "/login" + (f"?{query}" if query else ""))

    async def http_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        log.warning("%s %s refused: %d", request.method, request.url.path[:200], exc.status_code)
        title, text = _ERRORS.get(exc.status_code, ("Error", exc.detail))
        if exc.status_code == 404 and exc.detail and exc.detail != "Not Found":
            text = exc.detail  # a page that says what it did not find
        user = await self._user(request)
        return self.page(request, "error.html.j2", status=exc.status_code, user=user,
                         title=title, text=text, headers=exc.headers)  # fmt: skip

    async def crash(self, request: Request, exc: Exception) -> Response:
        log.error("%s %s failed", request.method, request.url.path[:200], exc_info=exc)
        html = "<!DOCTYPE html><title>Error</title><h1>Something went wrong</h1>"
        return HTMLResponse(html, status_code=500, headers=PAGE_HEADERS)

    # -- helpers ----------------------------------------------------------------------------

    def page(
        self,
        request: Request,
        name: str,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        **context: Any,
    ) -> HTMLResponse:
        html = self.pages.get_template(name).render(
            base=request.scope.get("root_path", ""),
            path=request.url.path[len(request.scope.get("root_path", "")) :],
            company=self.settings.company_name,
            csrf=csrf_token(request.session),
            csrf_field=CSRF_FIELD,
            flash=request.session.pop("flash", ""),
            error=context.pop("error", ""),
            **context,
        )
        return HTMLResponse(html, status_code=status, headers={**PAGE_HEADERS, **(headers or {})})

    def _redirect(self, request: Request, path: str) -> Response:
        return RedirectResponse(request.scope.get("root_path", "") + path, status_code=303)

    async def run(self, work: Callable[[], T]) -> T:
        """Blocking database work, off the event loop (tracking hits keep being answered)."""
        return await anyio.to_thread.run_sync(work)

    async def _user(self, request: Request) -> User | None:
        login_id = session_login_id(request.session)
        if login_id is None:
            return None
        now = self.clock()

        def load() -> User | None:
            with self.db.session() as session:
                return login_user(session, login_id, now)

        user = await anyio.to_thread.run_sync(load)
        if user is None:
            request.session.clear()
        return user

    async def _require(self, request: Request, ops: bool = False) -> User:
        """The logged-in user (else: pages redirect to login, POSTs are 403), ops if asked."""
        user = await self._user(request)
        if user is None:
            if request.method in ("GET", "HEAD"):
                path = request.url.path[len(request.scope.get("root_path", "")) :]
                query = f"?{request.url.query}" if request.url.query else ""
                raise LoginNeeded(safe_next(path + query))
            raise HTTPException(403)
        if ops and user.role != UserRole.OPS:
            raise HTTPException(403)
        return user

    async def _form(self, request: Request, files: int = 0) -> FormData:
        """The submitted form, once its CSRF token matches the session's (else 403)."""
        try:
            form = await request.form(max_files=files, max_fields=_MAX_FIELDS)
        except (ValueError, KeyError) as exc:
            raise HTTPException(400) from exc
        if not csrf_ok(request.session, form.get(CSRF_FIELD)):
            await form.close()
            raise HTTPException(403)
        return form


def rep_of(user: User) -> str | None:
    """Whose contacts the user may see: a rep their own (by email), ops everyone's (None)."""
    return user.email if user.role == UserRole.REP else None


def safe_next(path: str) -> str:
    """Only a path inside this app (never another site) is a place to return to after login."""
    if not path.startswith("/") or path.startswith("//") or "\\" in path or len(path) > 500:
        return ""
    return path


def upload_name(filename: str) -> str:
    """The uploaded file's own name (no folders, no odd characters) for reports and the audit."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1].strip()
    return _UNSAFE_NAME.sub("_", name)[:120] or "upload.csv"


_ERRORS = {
    400: ("Bad request", "That request could not be understood."),
    403: ("Not allowed", "You may not do that (or the form expired: reload the page and retry)."),
    404: ("Not found", "There is nothing here, or it is not yours to see."),
    405: ("Not allowed", "That method is not allowed here."),
    413: ("Too large", "That upload is too large."),
}


def path_id(request: Request, name: str) -> int:
    """A database id from the URL; 404 when it cannot be one (0, or past 32 bits)."""
    value = request.path_params[name]
    if not isinstance(value, int) or not 0 < value <= MAX_ID:
        raise HTTPException(404)
    return value
