"""API bearer tokens: created once (shown once), stored as a SHA-256 hash, listed, revoked.

A token is 32 random bytes: a fast hash is enough (nothing to brute-force), and it makes the
lookup one indexed query per request.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlmodel import Session, col, select

from campaign_engine.audience.imports import clean_email
from campaign_engine.core.errors import CampaignEngineError, InvalidInput, NotFound
from campaign_engine.store.api_tables import ApiToken
from campaign_engine.store.db import Database

__all__ = [
    "TOKEN_PREFIX",
    "ApiRole",
    "NewToken",
    "TokenExists",
    "TokenView",
    "create_token",
    "hash_token",
    "list_tokens",
    "revoke_token",
    "token_for",
]

TOKEN_PREFIX = "ce_"  # lets secret scanners recognise a leaked token
_NAME_LIMIT = 100


class ApiRole(StrEnum):
    OPS = "ops"  # everything, like an ops user of the web app
    REP = "rep"  # the contacts of one rep's accounts, like a rep user of the web app
    INTEGRATION = "integration"  # a CRM or warehouse: contacts, lists, stages, events; no launch


class TokenExists(CampaignEngineError):
    """A token with that name exists already."""


@dataclass(frozen=True)
class TokenView:
    name: str
    role: str
    rep_email: str | None
    created_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class NewToken:
    view: TokenView
    token: str  # the only time it is known in clear


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(
    db: Database, name: str, role: str, now: datetime, rep_email: str | None = None
) -> NewToken:
    """A new token; reps' tokens name the rep whose contacts they may see."""
    name = " ".join(name.split())
    if not name or len(name) > _NAME_LIMIT:
        raise InvalidInput(f"token name must be 1 to {_NAME_LIMIT} characters")
    if role not in tuple(ApiRole):
        raise InvalidInput(f"role must be one of {', '.join(ApiRole)}, not {role!r}")
    if role == ApiRole.REP:
        try:
            rep_email = clean_email(rep_email or name)
        except ValueError as exc:
            raise InvalidInput(
                f"a rep token needs --rep EMAIL (the rep's address): {exc}"
            ) from None
    else:
        rep_email = None
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with db.session() as session:
        if session.exec(select(ApiToken.id).where(ApiToken.name == name)).first() is not None:
            raise TokenExists(f"a token named {name!r} exists; revoke it or pick another name")
        row = ApiToken(
            name=name, role=role, rep_email=rep_email, token_hash=hash_token(token), created_at=now
        )
        session.add(row)
        session.flush()
        return NewToken(_view(row), token)


def list_tokens(db: Database, include_revoked: bool = False) -> list[TokenView]:
    with db.session() as session:
        query = select(ApiToken).order_by(col(ApiToken.name))
        if not include_revoked:
            query = query.where(col(ApiToken.revoked_at).is_(None))
        return [_view(row) for row in session.exec(query).all()]


def revoke_token(db: Database, name: str, now: datetime) -> None:
    """The token stops working at once; the record stays (who had access, until when)."""
    with db.session() as session:
        row = session.exec(
            select(ApiToken).where(ApiToken.name == name, col(ApiToken.revoked_at).is_(None))
        ).first()
        if row is None:
            raise NotFound(f"no active token named {name!r}; see `campaign tokens list`")
        row.revoked_at = now
        session.add(row)


def token_for(session: Session, token: str) -> TokenView | None:
    """The active token behind a bearer value, or None."""
    row = session.exec(
        select(ApiToken).where(
            ApiToken.token_hash == hash_token(token), col(ApiToken.revoked_at).is_(None)
        )
    ).first()
    return _view(row) if row is not None else None


def _view(row: ApiToken) -> TokenView:
    return TokenView(row.name, row.role, row.rep_email, row.created_at, row.revoked_at)
