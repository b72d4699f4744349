"""The ops/rep web app (Starlette, mounted at /app beside tracking): log in, exclusions, drafts,
outreach modes.

| route | who | what |
|---|---|---|
| `GET/POST /login`, `POST /logout` | anyone | sign in (rate limited per email), sign out |
| `GET /` | users | links by role |
| `GET /exclusions`, `POST /exclusions/upload`, `POST /exclusions/remove` | ops | list, upload a file (per-row report), lift one |
| `GET /drafts`, `GET /drafts/{id}`, `POST /drafts/{id}/edit`, `POST /drafts/{id}/send` | ops: all; reps: their own | list, read, edit, send |
| `GET /contacts?email=`, `GET/POST /contacts/{email}/mode` | ops: all; reps: their own | outreach mode A/B/C |
| `GET /dashboard[?campaign=NAME]` | ops | the campaign report: figures and SVG charts (`dashboard.render_dashboard`) |

Every page needs a session (else a redirect to the login page); every POST needs the session's
CSRF token (else 403). The work is done by the services (`exclusions`, `drafts`, `repsend`,
`outreach`); this module only checks who may do what and renders the answer.
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import anyio
from starlette.applications import Starlette
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from campaign_engine.audience import exclusions
from campaign_engine.core.config import Settings
from campaign_engine.core.errors import CampaignEngineError, NotFound, TransportError
from campaign_engine.core.kinds import DraftStatus, OutreachMode, UserRole
from campaign_engine.reporting import reports
from campaign_engine.reporting.dashboard import render_dashboard
from campaign_engine.reps import drafts, outreach, repsend
from campaign_engine.sending.templating import template_environment
from campaign_engine.sending.transport import Transport, make_transport
from campaign_engine.store import queries
from campaign_engine.store.db import Database
from campaign_engine.store.models import User
from campaign_engine.tracking.hits import ip_prefix
from campaign_engine.web.auth import (
    CSRF_FIELD,
    csrf_ok,
    csrf_token,
    session_middleware,
    session_user_id,
    start_session,
)
from campaign_engine.web.users import (
    LoginRefused,
    TooManyFailures,
    active_user,
    authenticate,
    end_sessions,
)

__all__ = ["MAX_UPLOAD_BYTES", "MOUNT", "create_webapp"]

log = logging.getLogger(__name__)

MOUNT = "/app"  # where create_app mounts this app
MAX_UPLOAD_BYTES = 64 * 1024 * 1024  # request bodies under MOUNT (exclusion files) up to this
_MAX_FIELDS = 20
_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Robots-Tag": "noindex, nofollow",
}
_MODES = {
    OutreachMode.DO_NOTHING: "A: do nothing (no email at all)",
    OutreachMode.SALES_ONLY: "B: sales direct only (the rep sends drafts)",
    OutreachMode.MARKETING: "C: marketing email (automated for SMB)",
}
_STATUSES = ("draft", "sent", "cancelled", "all")
_UNSAFE_NAME = re.compile(r"[^\w. ()+-]")

Clock = Callable[[], datetime]


class _LoginNeeded(Exception):
    """A page asked for without a (valid) session: go to the login page, then come back."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


_MAX_ID = 2**31 - 1  # ids are INTEGER columns (PostgreSQL: 32 bits)


def create_webapp(
    settings: Settings,
    db: Database,
    *,
    clock: Clock,
    transport_factory: Callable[[], Transport] | None = None,
) -> Starlette:
    web = _Web(settings, db, clock, transport_factory or (lambda: make_transport(settings)))
    return Starlette(
        routes=[
            Route("/", web.home, name="home"),
            Route("/login", web.login, methods=["GET", "POST"], name="login"),
            Route("/logout", web.logout, methods=["POST"], name="logout"),
            Route("/exclusions", web.exclusions, name="exclusions"),
            Route("/exclusions/upload", web.upload, methods=["POST"]),
            Route("/exclusions/remove", web.remove_exclusion, methods=["POST"]),
            Route("/drafts", web.drafts, name="drafts"),
            Route("/drafts/{draft_id:int}", web.draft, name="draft"),
            Route("/drafts/{draft_id:int}/edit", web.edit_draft, methods=["POST"]),
            Route("/drafts/{draft_id:int}/send", web.send_draft, methods=["POST"]),
            Route("/contacts", web.find_contact),
            Route("/contacts/{email}/mode", web.mode, methods=["GET", "POST"], name="mode"),
            Route("/dashboard", web.dashboard, name="dashboard"),
        ],
        middleware=[session_middleware(settings)],
        exception_handlers={
            _LoginNeeded: web.login_needed,
            HTTPException: web.http_error,
            Exception: web.crash,
        },
    )


class _Web:
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
        self.pages = template_environment(settings.templates_dir / "web" / "app", pages=True)

    # -- session ---------------------------------------------------------------------------

    async def login(self, request: Request) -> Response:
        next_path = _safe_next(request.query_params.get("next", ""))
        if request.method != "POST":
            if await self._user(request) is not None:
                return self._redirect(request, next_path or "/")
            return self.page(request, "login.html.j2", user=None, email="", next=next_path)
        form = await self._form(request)
        email = str(form.get("email", ""))[:320]
        password = str(form.get("password", ""))
        client = ip_prefix(request.client.host if request.client else None)
        now = self.clock()
        try:
            user = await anyio.to_thread.run_sync(
                lambda: authenticate(self.db, email, password, now, client)
            )
        except TooManyFailures as exc:
            log.warning("web login for %r refused: too many failures", email)
            return self.page(request, "login.html.j2", status=429, user=None, email=email,
                             next=next_path, error=str(exc),
                             headers={"Retry-After": str(exc.retry_after)})  # fmt: skip
        except LoginRefused as exc:
            log.warning("web login for %r refused", email)
            return self.page(request, "login.html.j2", status=400, user=None, email=email,
                             next=next_path, error=str(exc))  # fmt: skip
        assert user.id is not None
        start_session(request.session, user.id, user.session_version, now)
        log.info("web login: %s (%s)", user.email, user.role)
        return self._redirect(request, next_path or "/")

    async def logout(self, request: Request) -> Response:
        await self._form(request)
        user = await self._user(request)
        if user is not None and user.id is not None:  # server-side: saved cookies stop working
            uid = user.id
            await anyio.to_thread.run_sync(lambda: end_sessions(self.db, uid))
        request.session.clear()
        return self._redirect(request, "/login")

    async def home(self, request: Request) -> Response:
        user = await self._require(request)
        return self.page(request, "home.html.j2", user=user)

    # -- dashboard (ops) ---------------------------------------------------------------------

    async def dashboard(self, request: Request) -> Response:
        await self._require(request, ops=True)
        now, name = self.clock(), request.query_params.get("campaign") or None

        def load() -> str:
            pending = reports.due_reminder_counts(now, self.settings.reminder_days)
            with self.db.session() as session:
                report = reports.load_report(session, now, name, reminders=pending)
            return render_dashboard(report, self.settings.templates_dir)

        html = await anyio.to_thread.run_sync(load)
        return HTMLResponse(html, headers=_PAGE_HEADERS)

    # -- exclusions (ops) --------------------------------------------------------------------

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
        name = _upload_name(upload.filename)
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
                return await self._exclusions_page(request, user, 400, str(exc))
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

    # -- drafts (ops: all, reps: their own) ------------------------------------------------

    async def drafts(self, request: Request) -> Response:
        user = await self._require(request)
        status = request.query_params.get("status", "draft")
        status = status if status in _STATUSES else "draft"
        campaign = request.query_params.get("campaign", "") or None
        now = self.clock()

        def load() -> tuple[list[drafts.DraftView], list[str], str]:
            with self.db.session() as session:
                drafts.ensure_drafts(session, self.settings, now)
                names = queries.campaign_names(session)
                try:
                    views = drafts.list_drafts(
                        session, _rep(user), campaign, None if status == "all" else status
                    )
                except NotFound as exc:  # a rep user with no Rep record owns nothing
                    return [], names, str(exc)
            return views, names, ""

        views, names, note = await anyio.to_thread.run_sync(load)
        return self.page(request, "drafts.html.j2", user=user, drafts=views, campaigns=names,
                         campaign=campaign or "", shown=status, statuses=_STATUSES,
                         note=note)  # fmt: skip

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
        draft_id = _path_id(request, "draft_id")
        view = await anyio.to_thread.run_sync(lambda: self._get_draft(draft_id, user))
        return self.page(request, "draft.html.j2", status=status, user=user, draft=view,
                         error=error, editable=view.status == DraftStatus.DRAFT,
                         subject=view.subject if subject is None else subject,
                         body=view.body_text if body is None else body)  # fmt: skip

    async def edit_draft(self, request: Request) -> Response:
        user = await self._require(request)
        form = await self._form(request)
        draft_id = _path_id(request, "draft_id")
        subject, body = str(form.get("subject", "")), str(form.get("body", ""))
        now = self.clock()

        def edit() -> None:
            self._get_draft(draft_id, user)  # another rep's draft is not found (404)
            with self.db.session() as session:
                drafts.edit_draft(session, self.settings, draft_id, _rep(user), now, subject, body)

        try:
            await anyio.to_thread.run_sync(edit)
        except CampaignEngineError as exc:
            return await self._draft_page(request, user, 400, str(exc), subject, body)
        request.session["flash"] = "Draft saved."
        return self._redirect(request, f"/drafts/{draft_id}")

    async def send_draft(self, request: Request) -> Response:
        user = await self._require(request)
        await self._form(request)
        draft_id = _path_id(request, "draft_id")
        await anyio.to_thread.run_sync(lambda: self._get_draft(draft_id, user))
        now = self.clock()
        try:
            async with self.transport_factory() as transport:
                sent = await repsend.send_draft(
                    self.db, self.settings, transport, draft_id, _rep(user), now
                )
        except NotFound:
            raise HTTPException(404) from None
        except repsend.DraftRefused as exc:
            return await self._draft_page(request, user, 409, str(exc))
        except TransportError as exc:
            return await self._draft_page(request, user, 502, str(exc))
        log.info("web: %s sent draft %d (message %d)", user.email, draft_id, sent.message_id)
        request.session["flash"] = (
            f"Sent email {sent.step} {sent.subject!r} to {sent.recipient} from {sent.sender}."
        )
        return self._redirect(request, f"/drafts/{draft_id}")

    def _get_draft(self, draft_id: int, user: User) -> drafts.DraftView:
        with self.db.session() as session:
            try:
                return drafts.get_draft(session, draft_id, _rep(user))
            except NotFound:
                raise HTTPException(404) from None

    # -- outreach mode ----------------------------------------------------------------------

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
                        session, self.settings, email, mode, now, _rep(user)
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
                    contact, account = outreach.find_contact(session, email, _rep(user))
                except NotFound:
                    raise HTTPException(404) from None
                return {"contact": contact, "account": account}

        data = await anyio.to_thread.run_sync(load)
        return self.page(request, "mode.html.j2", status=status, user=user, error=error,
                         modes=_MODES, **data)  # fmt: skip

    # -- errors -----------------------------------------------------------------------------

    async def login_needed(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, _LoginNeeded)
        query = urlencode({"next": exc.next_path}) if exc.next_path not in ("", "/") else ""
        return self._redirect(request, "/login" + (f"?{query}" if query else ""))

    async def http_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        log.warning("%s %s refused: %d", request.method, request.url.path[:200], exc.status_code)
        title, text = _ERRORS.get(exc.status_code, ("Error", exc.detail))
        user = await self._user(request)
        return self.page(request, "error.html.j2", status=exc.status_code, user=user,
                         title=title, text=text, headers=exc.headers)  # fmt: skip

    async def crash(self, request: Request, exc: Exception) -> Response:
        log.error("%s %s failed", request.method, request.url.path[:200], exc_info=exc)
        html = "<!DOCTYPE html><title>Error</title><h1>Something went wrong</h1>"
        return HTMLResponse(html, status_code=500, headers=_PAGE_HEADERS)

    # -- helpers ----------------------------------------------------------------------------

    def page(
        self,
        request: Request,
        name: str,
        status: int = 200,
        headers: dict[str, str] | None = None,
        **context: Any,
    ) -> HTMLResponse:
        html = self.pages.get_template(name).render(
            base=request.scope.get("root_path", ""),
            company=self.settings.company_name,
            csrf=csrf_token(request.session),
            csrf_field=CSRF_FIELD,
            flash=request.session.pop("flash", ""),
            error=context.pop("error", ""),
            **context,
        )
        return HTMLResponse(html, status_code=status, headers={**_PAGE_HEADERS, **(headers or {})})

    def _redirect(self, request: Request, path: str) -> Response:
        return RedirectResponse(request.scope.get("root_path", "") + path, status_code=303)

    async def _user(self, request: Request) -> User | None:
        login = session_user_id(request.session, self.clock())
        if login is None:
            return None

        def load() -> User | None:
            with self.db.session() as session:
                return active_user(session, *login)

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
                raise _LoginNeeded(_safe_next(path + query))
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


def _rep(user: User) -> str | None:
    """Whose contacts the user may see: a rep their own (by email), ops everyone's (None)."""
    return user.email if user.role == UserRole.REP else None


def _safe_next(path: str) -> str:
    """Only a path inside this app (never another site) is a place to return to after login."""
    if not path.startswith("/") or path.startswith("//") or "\\" in path or len(path) > 500:
        return ""
    return path


def _path_id(request: Request, name: str) -> int:
    """A database id from the URL; 404 when it cannot be one (0, or past 64 bits)."""
    value = request.path_params[name]
    if not isinstance(value, int) or not 0 < value <= _MAX_ID:
        raise HTTPException(404)
    return value


def _upload_name(filename: str) -> str:
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
