"""Server-side web logins: a random id per login, stored only as its SHA-256 with the user.

A cookie names a login, never a user: with a known (or leaked) signing key one still cannot
make a cookie that is somebody's session without the random id the server handed out.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from campaign_engine.store.db import Database
from campaign_engine.store.models import User, WebSession
from campaign_engine.web.auth import SESSION_LIFETIME

__all__ = ["end_logins", "login_user", "open_login"]


def _hash(login_id: str) -> str:
    return hashlib.sha256(login_id.encode("utf-8")).hexdigest()


def open_login(db: Database, user_id: int, now: datetime) -> str:
    """Record a new login of the user; the returned random id goes into their cookie only."""
    login_id = secrets.token_urlsafe(32)
    with db.session() as session:
        expired = col(WebSession.login_at) < now - SESSION_LIFETIME
        session.connection().execute(sa.delete(WebSession).where(expired))
        session.add(WebSession(token_hash=_hash(login_id), user_id=user_id, login_at=now))
    return login_id


def login_user(session: Session, login_id: str, now: datetime) -> User | None:
    """The user logged in as `login_id`, unless it is unknown, ended, expired or the user was
    removed."""
    found = session.exec(
        select(WebSession, User)
        .join(User, col(User.id) == col(WebSession.user_id))
        .where(WebSession.token_hash == _hash(login_id))
    ).first()
    if found is None:
        return None
    login, user = found
    if user.disabled or now - login.login_at > SESSION_LIFETIME:
        return None
    return user


def end_logins(session: Session, user_id: int) -> None:
    """Log the user out everywhere: every cookie issued so far stops working."""
    session.connection().execute(sa.delete(WebSession).where(col(WebSession.user_id) == user_id))
