"""The tracking routes (Starlette): open pixel, click redirect, contact page, unsubscribe.

| route | answers |
|---|---|
| `GET /o/{token}.gif` | a 43-byte GIF, always (even for a bad token); records an `open` |
| `GET\\|HEAD /t/{token}` | 302 to the URL registered for that link; 404 page for anything else |
| `GET /c/{token}` | the contact page naming the rep (records `contact_page`: a click, not a request) |
| `POST /c/{token}` | the contact request; a thank-you page naming the rep |
| `GET /u/{token}` | the unsubscribe confirm page (records `unsubscribe_page`) |
| `POST /u/{token}` | unsubscribe (RFC 8058 one-click, or the confirm page's form); 200 |

`hot_routes` answers a verified pixel or click without the framework (same bytes); everything
else comes here. Only these two modules know Starlette: bot rules live in `bots`, storing in `recorder`, effects in
`contact_requests` and `unsubscribes`. Time is read from `clock` once per request.
"""

from __future__ import annotations

import base64
import functools
import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, NoReturn

import anyio
from starlette.background import BackgroundTask
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from campaign_engine.audience.unsubscribes import unsubscribe
from campaign_engine.core.config import Settings
from campaign_engine.core.errors import InvalidInput
from campaign_engine.core.kinds import EventKind
from campaign_engine.core.tokens import TokenKind, TokenPayload, TokenSigner
from campaign_engine.reps.alerts import send_pending_alerts
from campaign_engine.reps.contact_requests import (
    MAX_MESSAGE,
    MAX_PREFERRED_TIME,
    clean_form,
    record_contact_request,
)
from campaign_engine.sending.templating import template_environment
from campaign_engine.sending.transport import Transport, make_transport
from campaign_engine.store.db import Database
from campaign_engine.tracking.bots import BotRules, Hit, classify
from campaign_engine.tracking.hits import clean_user_agent, ip_prefix
from campaign_engine.tracking.lookups import PageView, page_view
from campaign_engine.tracking.recorder import EventRecorder, PendingHit

__all__ = ["NO_CACHE", "PIXEL_GIF", "PIXEL_HEADERS", "Clock", "TrackingEdge", "redirect_headers"]

log = logging.getLogger(__name__)

MAX_FORM_FIELDS = 20
PIXEL_GIF = base64.b64decode("R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==")
NO_CACHE = {
    "Cache-Control": "no-store, no-cache, must-revalidate, max-age=0",
    "Pragma": "no-cache",
    "Expires": "0",
}
# the pixel's response headers, as the framework writes them (answered as is by hot_routes)
PIXEL_HEADERS = Response(PIXEL_GIF, media_type="image/gif", headers=NO_CACHE).raw_headers
PAGE_HEADERS = {
    **NO_CACHE,
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
}
_FAR_FUTURE = float("inf")  # POSTs are judged by who sends them, not by when

Clock = Callable[[], datetime]


class TrackingEdge:
    """The request handlers; each verifies its token, then calls the service that does the work."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        clock: Clock,
        transport_factory: Callable[[], Transport] | None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.clock = clock
        self.signer = TokenSigner(settings.secret)
        self.rules = BotRules(settings.bot_delay_seconds, settings.bot_burst_seconds)
        self.recorder = EventRecorder(db, self.rules)
        self.transport_factory = transport_factory or (lambda: make_transport(settings))
        self.pages = template_environment(settings.templates_dir / "web", pages=True)

    def routes(self) -> list[Route]:
        return [
            Route("/o/{token}.gif", self.pixel, methods=["GET", "HEAD"]),
            Route("/t/{token}", self.click, methods=["GET", "HEAD"]),
            Route("/c/{token}", self.contact, methods=["GET", "HEAD", "POST"]),
            Route("/u/{token}", self.unsubscribe, methods=["GET", "HEAD", "POST"]),
        ]

    # -- routes ---------------------------------------------------------------------------

    async def pixel(self, request: Request) -> Response:
        payload = self._payload(request, TokenKind.OPEN)
        if payload is not None:
            self.recorder.submit(self._hit(request, EventKind.OPEN, payload.message_id))
        return Response(PIXEL_GIF, media_type="image/gif", headers=NO_CACHE)

    async def click(self, request: Request) -> Response:
        payload = self._verify(request, TokenKind.CLICK)
        info = await self.recorder.info(payload.message_id)
        if info is None or payload.link_index >= len(info.links):
            self._refuse(request, "token for an unknown message or link")
        url = info.links[payload.link_index]
        hit = self._hit(request, EventKind.CLICK, payload.message_id, payload.link_index, url)
        self.recorder.submit(hit)
        return _redirect(url)

    async def contact(self, request: Request) -> Response:
        payload = self._verify(request, TokenKind.CONTACT)
        view = await self._view(request, payload)
        hit = self._hit(request, EventKind.CONTACT_PAGE, payload.message_id)
        if request.method != "POST":
            self.recorder.submit(hit)
            return self._contact_form(request, view)
        fields = await _form(request)
        try:
            form = clean_form(fields)
        except InvalidInput as exc:
            return self._contact_form(request, view, fields, error=str(exc), status=400)
        verdict = classify(
            Hit(False, request.method, hit.user_agent, _FAR_FUTURE), self.rules
        )  # a scanner submitting forms is still not a person asking for a meeting
        if not verdict.is_human:
            log.warning("contact form POST by a machine ignored: %s", verdict.reason)
            self.recorder.submit(hit)
            return self._contact_form(request, view)
        result = await anyio.to_thread.run_sync(
            lambda: record_contact_request(
                self.db,
                self.settings,
                hit.at,
                message_id=payload.message_id,
                form=form,
                source="web",
                user_agent=hit.user_agent or None,
                ip_prefix=hit.ip_prefix,
            )
        )
        log.info("contact request from %s (message %d)", result.contact_email, payload.message_id)
        return self.page(
            "thanks.html.j2",
            first_name=view.first_name,
            rep_name=view.rep_name,
            preferred_time=form.preferred_time,
            background=BackgroundTask(self._send_alerts),
        )

    async def unsubscribe(self, request: Request) -> Response:
        payload = self._verify(request, TokenKind.UNSUBSCRIBE)
        view = await self._view(request, payload)
        hit = self._hit(request, EventKind.UNSUBSCRIBE_PAGE, payload.message_id)
        if request.method != "POST":
            self.recorder.submit(hit)
            action = request.url.path
            return self.page("unsubscribe.html.j2", email=view.email, action=action,
                             unsubscribed=view.unsubscribed)  # fmt: skip
        # RFC 8058 bodies say List-Unsubscribe=One-Click; any POST to this URL counts.
        source = "confirm page" if (await _form(request)).get("confirm") else "one-click"
        await anyio.to_thread.run_sync(
            lambda: unsubscribe(
                self.db,
                hit.at,
                message_id=payload.message_id,
                source=source,
                user_agent=hit.user_agent or None,
                ip_prefix=hit.ip_prefix,
            )
        )
        log.info("unsubscribed %s (message %d)", view.email, payload.message_id)
        return self.page("unsubscribed.html.j2", email=view.email)

    # -- errors ---------------------------------------------------------------------------

    async def http_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code != 404 or "endpoint" not in request.scope:  # (bad tokens: logged)
            path = request.url.path[:200]
            log.warning("%s %s refused: %d", request.method, path, exc.status_code)
        return self.error_page(exc.status_code, headers=exc.headers)

    async def crash(self, request: Request, exc: Exception) -> Response:
        log.error("%s %s failed", request.method, request.url.path[:200], exc_info=exc)
        return self.error_page(500)

    def error_page(self, status: int, headers: Mapping[str, str] | None = None) -> Response:
        title, text = _ERRORS.get(status, ("Something went wrong", "Please try again later."))
        response = self.page("error.html.j2", status=status, title=title, text=text)
        response.headers.update(headers or {})
        return response

    # -- helpers --------------------------------------------------------------------------

    def page(
        self, name: str, status: int = 200, background: BackgroundTask | None = None, **context: Any
    ) -> HTMLResponse:
        html = self.pages.get_template(name).render(company=self.settings.company_name, **context)
        return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS, background=background)

    def _contact_form(
        self,
        request: Request,
        view: PageView,
        fields: dict[str, str] | None = None,
        error: str = "",
        status: int = 200,
    ) -> Response:
        fields = fields or {}
        return self.page(
            "contact.html.j2",
            status=status,
            action=request.url.path,
            first_name=view.first_name,
            rep_name=view.rep_name,
            account=view.account,
            error=error,
            preferred_time=fields.get("preferred_time", "")[:MAX_PREFERRED_TIME],
            message=fields.get("message", "")[:MAX_MESSAGE],
            max_preferred_time=MAX_PREFERRED_TIME,
            max_message=MAX_MESSAGE,
        )

    def _payload(self, request: Request, kind: TokenKind) -> TokenPayload | None:
        """The token's payload when it is genuine and of this kind; else logged and None."""
        token = request.path_params.get("token", "")
        payload = self.signer.verify(token) if len(token) < 200 else None
        if payload is not None and payload.kind is kind:
            return payload
        reason = "bad token" if payload is None else f"{payload.kind.name} token on {kind.name}"
        log.warning("%s %s refused: %s", request.method, request.url.path[:200], reason)
        return None

    def _verify(self, request: Request, kind: TokenKind) -> TokenPayload:
        payload = self._payload(request, kind)
        if payload is None:
            raise HTTPException(404)
        return payload

    def _refuse(self, request: Request, reason: str) -> NoReturn:
        log.warning("%s %s refused: %s", request.method, request.url.path[:200], reason)
        raise HTTPException(404)

    async def _view(self, request: Request, payload: TokenPayload) -> PageView:
        view = await anyio.to_thread.run_sync(self._page_view, payload.message_id)
        if view is None:
            self._refuse(request, "token for an unknown message")
        return view

    def _page_view(self, message_id: int) -> PageView | None:
        with self.db.session() as session:
            return page_view(session, message_id)

    def _hit(
        self,
        request: Request,
        kind: str,
        message_id: int,
        link_index: int | None = None,
        url: str | None = None,
    ) -> PendingHit:
        host = request.client.host if request.client else None
        agent = request.headers.get("user-agent")
        return self.hit(request.method, agent, host, kind, message_id, link_index, url)

    def hit(
        self,
        method: str,
        user_agent: str | None,
        host: str | None,
        kind: str,
        message_id: int,
        link_index: int | None = None,
        url: str | None = None,
    ) -> PendingHit:
        """A verified hit, stamped now, for the recorder."""
        return PendingHit(
            kind=kind,
            message_id=message_id,
            method=method,
            user_agent=clean_user_agent(user_agent),
            ip_prefix=ip_prefix(host),
            at=self.clock(),
            link_index=link_index,
            url=url,
        )

    async def _send_alerts(self) -> None:
        """Right after a contact request; a failure stays queued for the scheduler's next tick."""
        try:
            async with self.transport_factory() as transport:
                await send_pending_alerts(self.db, self.settings, transport, self.clock())
        except Exception:
            log.exception("sending alerts failed; the next tick retries them")


def _redirect(url: str) -> Response:
    return RedirectResponse(url, status_code=302, headers=NO_CACHE)


@functools.lru_cache(maxsize=4096)  # a campaign registers few links
def redirect_headers(url: str) -> list[tuple[bytes, bytes]]:
    """The headers of the redirect to `url`, as the framework writes them (for hot_routes)."""
    return _redirect(url).raw_headers


def _multipart_complete(content_type: str, body: bytes) -> bool:
    """False for a multipart body without its closing boundary (a cut-off or forged upload)."""
    kind, _, options = content_type.partition(";")
    if kind.strip().lower() != "multipart/form-data":
        return True
    for option in options.split(";"):
        name, _, value = option.strip().partition("=")
        if name.lower() == "boundary" and value.strip('"'):
            return b"--" + value.strip('"').encode("latin-1") + b"--" in body
    return False


async def _form(request: Request) -> dict[str, str]:
    """The form fields (url-encoded or multipart, no files); malformed bodies are a 400."""
    body = await request.body()  # read it all (through the size limit) whatever the type
    if not _multipart_complete(request.headers.get("content-type", ""), body):
        raise HTTPException(400)
    try:
        form = await request.form(max_files=0, max_fields=MAX_FORM_FIELDS)
    except (ValueError, KeyError) as exc:
        raise HTTPException(400) from exc
    return {k: v for k, v in form.items() if not isinstance(v, UploadFile)}


_ERRORS = {
    400: ("Bad request", "That request could not be understood."),
    404: ("Link not found", "This link is not valid. Please use the link from your email as is."),
    405: ("Not allowed", "That method is not allowed here."),
    413: ("Too large", "That request is too large."),
}
