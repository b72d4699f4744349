"""Web-app cookies and CSRF: signed cookies keyed apart from tracking links, per-session tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import MutableMapping
from datetime import timedelta
from typing import Any

from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware

from campaign_engine.core.config import Settings

__all__ = [
    "CSRF_FIELD",
    "SESSION_COOKIE",
    "SESSION_LIFETIME",
    "csrf_ok",
    "csrf_token",
    "session_key",
    "session_login_id",
    "session_middleware",
    "start_session",
]

SESSION_COOKIE = "campaign_session"
SESSION_LIFETIME = timedelta(hours=12)  # from login, whatever happens in between
CSRF_FIELD = "csrf"
_LOGIN_FIELD = "sid"
_KEY_LABEL = b"campaign-engine web-app session cookie v1"

Session = MutableMapping[str, Any]


def session_key(secret: str) -> str:
    """The cookie-signing key: an HMAC of a fixed label, so it never equals the tracking key."""
    return hmac.new(secret.encode("utf-8"), _KEY_LABEL, hashlib.sha256).hexdigest()


def session_middleware(settings: Settings) -> Middleware:
    """Signed session cookie: HttpOnly, SameSite=Lax, Secure when the public base is https."""
    return Middleware(
        SessionMiddleware,
        secret_key=session_key(settings.secret),
        session_cookie=SESSION_COOKIE,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        same_site="lax",
        https_only=settings.tracking_base_url.lower().startswith("https://"),
    )


def csrf_token(session: Session) -> str:
    """This session's CSRF token (created on first use); every form carries it."""
    token = session.get(CSRF_FIELD)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session[CSRF_FIELD] = token
    return token


def csrf_ok(session: Session, submitted: object) -> bool:
    expected = session.get(CSRF_FIELD)
    return (
        isinstance(expected, str)
        and bool(expected)
        and isinstance(submitted, str)
        and hmac.compare_digest(expected.encode(), submitted.encode())
    )


def start_session(session: Session, login_id: str) -> None:
    """A fresh cookie session for a user who just logged in (nothing of the anonymous one is
    kept): it carries only `login_id`, the random id of the login's server-side row."""
    session.clear()
    session[_LOGIN_FIELD] = login_id
    csrf_token(session)


def session_login_id(session: Session) -> str | None:
    """The login id the cookie carries, if any (the server decides whether it is a login)."""
    login_id = session.get(_LOGIN_FIELD)
    return login_id if isinstance(login_id, str) and login_id else None
