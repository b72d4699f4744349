"""Web-app users: add, list, remove (disable), and log in with a per-email failure limit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from campaign_engine.audience.imports import clean_email
from campaign_engine.core.errors import CampaignEngineError, InvalidInput, NotFound
from campaign_engine.core.kinds import UserRole
from campaign_engine.store.db import Database
from campaign_engine.store.models import LoginFailure, Rep, User
from campaign_engine.web.logins import end_logins
from campaign_engine.web.passwords import hash_password, verify_password

__all__ = [
    "FAILURE_WINDOW",
    "MAX_FAILURES",
    "LoginRefused",
    "TooManyFailures",
    "UserExists",
    "UserView",
    "add_user",
    "authenticate",
    "list_users",
    "remove_user",
]

MAX_FAILURES = 5  # refused logins per email within FAILURE_WINDOW before logins wait
FAILURE_WINDOW = timedelta(minutes=15)


class UserExists(CampaignEngineError):
    """A user with that email exists already."""


class LoginRefused(CampaignEngineError):
    """Wrong email or password (deliberately not saying which), or a disabled user."""


class TooManyFailures(CampaignEngineError):
    """Too many refused logins for that email lately; `retry_after` seconds until the next try."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class UserView:
    email: str
    role: str
    created_at: datetime | None
    disabled: bool
    rep_known: bool  # for reps: a Rep with this email exists (else they see no contacts)


def _email(value: str) -> str:
    try:
        return clean_email(value)
    except ValueError as exc:
        raise InvalidInput(f"user email: {exc}") from None


def add_user(
    db: Database, email: str, role: str, password: str, now: datetime, replace: bool = False
) -> UserView:
    """Create a user (or, with `replace` or when it was removed, set its role and password)."""
    if role not in tuple(UserRole):
        raise InvalidInput(f"role must be {' or '.join(UserRole)}, not {role!r}")
    address = _email(email)
    password_hash = hash_password(password)
    with db.session() as session:
        user = session.exec(select(User).where(User.email == address)).first()
        if user is not None and not user.disabled and not replace:
            raise UserExists(
                f"user {address} exists; `campaign users add {address} --replace` sets a new"
                " role and password"
            )
        user = user or User(email=address, password_hash=password_hash, created_at=now)
        if user.id is not None:  # a new password or role: every open session ends
            end_logins(session, user.id)
        user.role, user.password_hash = role, password_hash
        user.disabled, user.disabled_at = False, None
        session.add(user)
        session.flush()
        return _view(session, user)


def list_users(db: Database) -> list[UserView]:
    with db.session() as session:
        users = session.exec(select(User).order_by(col(User.email))).all()
        return [_view(session, user) for user in users]


def remove_user(db: Database, email: str, now: datetime) -> None:
    """Disable the user: they can't log in and their open sessions end; the record stays."""
    with db.session() as session:
        user = session.exec(select(User).where(User.email == _email(email))).first()
        if user is None or user.disabled:
            raise NotFound(f"no user {email!r}; see `campaign users list`")
        user.disabled, user.disabled_at = True, now
        session.add(user)
        assert user.id is not None
        end_logins(session, user.id)


def authenticate(
    db: Database, email: str, password: str, now: datetime, ip_prefix: str | None = None
) -> User:
    """The user if the password matches; every refusal is recorded and counts for the limit."""
    address = email.strip().lower()[:320]
    with db.session() as session:
        since = now - FAILURE_WINDOW
        recent = session.exec(
            select(LoginFailure.at)
            .where(LoginFailure.email == address, col(LoginFailure.at) > since)
            .order_by(col(LoginFailure.at))
        ).all()
        if len(recent) >= MAX_FAILURES:
            oldest = recent[-MAX_FAILURES]
            assert oldest is not None
            wait = max(1, int((oldest + FAILURE_WINDOW - now).total_seconds()) + 1)
            raise TooManyFailures(
                f"too many failed logins for {address}; try again in {(wait + 59) // 60} minute(s)",
                wait,
            )
        user = session.exec(select(User).where(User.email == address)).first()
        ok = verify_password(user.password_hash if user else None, password)
        if user is None or user.disabled or not ok:
            session.add(LoginFailure(email=address, ip_prefix=ip_prefix, at=now))
            session.commit()
            raise LoginRefused("wrong email or password")
        session.connection().execute(
            sa.delete(LoginFailure).where(col(LoginFailure.email) == address)
        )
        return user


def _view(session: Session, user: User) -> UserView:
    rep = session.exec(select(Rep.id).where(Rep.email == user.email)).first()
    return UserView(user.email, user.role, user.created_at, user.disabled, rep is not None)
