"""Web-app sessions and CSRF: signed cookies keyed apart from tracking links, per-session tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import MutableMapping
from datetime import datetime, timedelta
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
    "session_middleware",
    "session_user_id",
    "start_session",
]

SESSION_COOKIE = "campaign_session"
SESSION_LIFETIME = timedelta(hours=12)  # from login, whatever happens in between
CSRF_FIELD = "csrf"
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


def start_session(session: Session, user_id: int, version: int, now: datetime) -> None:
    """A fresh session for a user who just logged in (nothing of the anonymous one is kept).

    `version` is the user's session_version: bumping it in the database (logout, removal, a
    new password) ends every cookie that carries the old one, wherever it was saved.
    """
    session.clear()
    session.update(uid=user_id, ver=version, login_at=now.timestamp())
    csrf_token(session)


def session_user_id(session: Session, now: datetime) -> tuple[int, int] | None:
    """(user id, session version) of the login, or None (none, or too long ago)."""
    uid, version, login_at = session.get("uid"), session.get("ver"), session.get("login_at")
    if not isinstance(uid, int) or not isinstance(version, int):
        return None
    if not isinstance(login_at, int | float):
        return None
    age = now.timestamp() - login_at
    if age > SESSION_LIFETIME.total_seconds():
        session.clear()
        return None
    return uid, version
