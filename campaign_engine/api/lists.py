"""/exclusions and /suppressions: add, list, remove (exclusion removals keep an audit record)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field
from sqlmodel import Session

from campaign_engine.api.auth import Api, OpsOrIntegration, context
from campaign_engine.api.inputs import CAMPAIGN_NAME_MAX, Email, RequestBody
from campaign_engine.api.problems import ApiProblem, invalid, problems
from campaign_engine.audience import exclusion_file, exclusions, suppression
from campaign_engine.audience.exclusion_apply import apply_entries  # the upload's own step
from campaign_engine.audience.imports import clean_email
from campaign_engine.core.errors import NotFound
from campaign_engine.core.kinds import SuppressReason
from campaign_engine.store.queries import campaign_by_name

__all__ = ["router"]

log = logging.getLogger(__name__)

router = APIRouter(responses=problems(401, 403))
Ctx = Annotated[Api, Depends(context)]
Campaign = Annotated[
    str | None,
    Query(max_length=CAMPAIGN_NAME_MAX, description="one campaign (default: every campaign)"),
]


class ExclusionIn(RequestBody):
    target: str = Field(max_length=320, description="an address, or a domain as acme.example")
    reason: str = Field("", max_length=500)
    campaign: str | None = Field(
        None, max_length=CAMPAIGN_NAME_MAX, description="one campaign (default: every campaign)"
    )


class ExclusionAdded(BaseModel):
    added: bool  # False: the same exclusion was already active
    contacts_excluded: int  # known contacts it stops
    already_sent: int  # emails that went to them before it arrived


class SuppressionIn(RequestBody):
    email: str = Field(max_length=320)
    reason: SuppressReason = SuppressReason.MANUAL


class SuppressionOut(BaseModel):
    email: str
    reason: str
    source: str
    created_at: datetime | None


class Removed(BaseModel):
    removed: int


@router.post(
    "/exclusions",
    response_model=ExclusionAdded,
    status_code=201,
    tags=["exclusions"],
    summary="Exclude an address or a domain (checked at send time)",
    responses=problems(400, 404, 413, 422),
)
def add_exclusion(body: ExclusionIn, caller: OpsOrIntegration, api: Ctx) -> ExclusionAdded:
    try:
        email, domain = exclusion_file.parse_target(body.target)
    except ValueError as exc:
        raise invalid("target", str(exc)) from None
    reason = " ".join(body.reason.split())
    result = exclusion_file.ExclusionResult(file=f"api:{caller.name}", campaign=body.campaign)
    entry = exclusion_file.ExclusionEntry(0, email, domain, reason)
    with Session(api.db.engine, expire_on_commit=False) as session:
        campaign_id = campaign_by_name(session, body.campaign).id if body.campaign else None
        contacts: set[int] = set()
        apply_entries(session, [entry], campaign_id, caller.name, api.clock(), result, contacts)
        session.commit()
    result.contacts_excluded = len(contacts)
    log.info("API %s excluded %s (%s)", caller.name, entry.target, body.campaign or "all")
    return ExclusionAdded(
        added=result.added == 1,
        contacts_excluded=result.contacts_excluded,
        already_sent=len(result.already_sent),
    )


@router.get(
    "/exclusions",
    response_model=list[exclusions.ExclusionView],
    tags=["exclusions"],
    summary="Exclusions, newest first (with a campaign: its own and the global ones)",
    responses=problems(400, 404),
)
def list_exclusions(
    caller: OpsOrIntegration,
    api: Ctx,
    campaign: Campaign = None,
    include_removed: bool = False,
) -> list[exclusions.ExclusionView]:
    return exclusions.list_exclusions(api.db, campaign, include_removed)


@router.delete(
    "/exclusions/{target}",
    response_model=Removed,
    tags=["exclusions"],
    summary="Lift an exclusion; recorded (who, when, why), never deleted",
    responses=problems(400, 404),
)
def remove_exclusion(
    target: Annotated[str, Path(max_length=320, description="an address or a domain")],
    caller: OpsOrIntegration,
    api: Ctx,
    campaign: Campaign = None,
    reason: Annotated[str, Query(max_length=500)] = "",
) -> Removed:
    count = exclusions.remove_exclusion(api.db, target, api.clock(), campaign, caller.name, reason)
    return Removed(removed=count)


@router.post(
    "/suppressions",
    response_model=SuppressionOut,
    status_code=201,
    tags=["suppressions"],
    summary="Suppress an address for all marketing mail",
    responses=problems(
        400, 409, 413, 422, notes={409: "already suppressed (the first reason is kept)"}
    ),
)
def add_suppression(body: SuppressionIn, caller: OpsOrIntegration, api: Ctx) -> SuppressionOut:
    try:
        email = clean_email(body.email)
    except ValueError as exc:
        raise invalid("email", str(exc)) from None
    source = f"api:{caller.name}"
    now = api.clock()
    with api.db.session() as session:
        if not suppression.add_suppression(session, email, body.reason, source, now):
            raise ApiProblem(409, f"{email} is already suppressed")
    log.info("API %s suppressed %s (%s)", caller.name, email, body.reason)
    return SuppressionOut(email=email, reason=body.reason, source=source, created_at=now)


@router.get(
    "/suppressions",
    response_model=list[SuppressionOut],
    tags=["suppressions"],
    summary="Every suppressed address: reason, since when, source",
    responses=problems(400),
)
def list_suppressions(
    caller: OpsOrIntegration, api: Ctx, reason: SuppressReason | None = None
) -> list[SuppressionOut]:
    return [
        SuppressionOut(email=s.email, reason=s.reason, source=s.source, created_at=s.created_at)
        for s in suppression.list_suppressions(api.db, reason)
    ]


@router.delete(
    "/suppressions/{email}",
    response_model=Removed,
    tags=["suppressions"],
    summary="Lift a suppression (only when the person asked); logged with the token name",
    responses=problems(400, 404),
)
def remove_suppression(email: Email, caller: OpsOrIntegration, api: Ctx) -> Removed:
    address = email.strip().lower()
    if not suppression.remove_suppression(api.db, address):
        raise NotFound(f"{address} is not suppressed")
    log.warning("API %s lifted the suppression of %s", caller.name, address)
    return Removed(removed=1)
