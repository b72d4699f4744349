"""Who is calling: the bearer token, its role, and what that role may see.

Roles mirror the web app: ops may do everything; a rep token sees only the contacts of the
accounts its rep owns (others are a 404, as if they did not exist); an integration token (a
CRM, a warehouse) works with contacts, lists, stages and events but launches nothing and
erases no one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session, col, select

from campaign_engine.api.problems import ApiProblem
from campaign_engine.api.tokens import ApiRole, TokenView, token_for
from campaign_engine.core.config import Settings
from campaign_engine.store.db import Database
from campaign_engine.store.models import Account, Contact, Rep

__all__ = [
    "Api",
    "Caller",
    "Ops",
    "OpsOrIntegration",
    "allowed",
    "check_owns",
    "context",
]

_bearer = HTTPBearer(auto_error=False, description="`campaign tokens create NAME --role ROLE`")


@dataclass(frozen=True)
class Api:
    """What every route needs: settings, the database, the clock, and a way to send alerts."""

    settings: Settings
    db: Database
    clock: Callable[[], datetime]
    send_alerts: Callable[[], Awaitable[None]]  # right after a contact request


def context(request: Request) -> Api:
    api = request.app.state.api
    assert isinstance(api, Api)
    return api


def _caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> TokenView:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ApiProblem(
            401, "send Authorization: Bearer <token>", headers={"WWW-Authenticate": "Bearer"}
        )
    with context(request).db.session() as session:
        token = token_for(session, credentials.credentials)
    if token is None:
        raise ApiProblem(
            401,
            "unknown or revoked token",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    request.state.api_token = token.name  # every call is logged with it
    return token


Caller = Annotated[TokenView, Depends(_caller)]


def allowed(*roles: ApiRole) -> Callable[[TokenView], TokenView]:
    """A dependency: the caller, if its role is one of `roles`, else 403."""

    def check(caller: Caller) -> TokenView:
        if caller.role not in roles:
            raise ApiProblem(
                403, f"a {caller.role} token may not do this (needs {' or '.join(roles)})"
            )
        return caller

    return check


Ops = Annotated[TokenView, Depends(allowed(ApiRole.OPS))]
OpsOrIntegration = Annotated[TokenView, Depends(allowed(ApiRole.OPS, ApiRole.INTEGRATION))]


def check_owns(session: Session, caller: TokenView, email: str) -> None:
    """A rep token asking for a contact of another rep's account gets a 404 (it is not theirs)."""
    if caller.role != ApiRole.REP:
        return
    owned = session.exec(
        select(Contact.id)
        .join(Account, col(Account.id) == Contact.account_id)
        .join(Rep, col(Rep.id) == Account.rep_id)
        .where(Contact.email == email.strip().lower(), Rep.email == caller.rep_email)
    ).first()
    if owned is None:
        raise ApiProblem(404, f"no contact {email.strip().lower()!r} among your accounts")
