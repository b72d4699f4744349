"""/accounts/{name}/rep: give an account to a rep (what `campaign accounts assign` does)."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Path
from pydantic import BaseModel, Field

from campaign_engine.api.auth import Api, OpsOrIntegration, context
from campaign_engine.api.inputs import RequestBody
from campaign_engine.api.problems import problems
from campaign_engine.audience.accounts import assign_account
from campaign_engine.reps.request_alerts import hand_over_requests

__all__ = ["router"]

log = logging.getLogger(__name__)

router = APIRouter(tags=["accounts"], responses=problems(401))
Ctx = Annotated[Api, Depends(context)]


class RepIn(RequestBody):
    rep_email: str = Field(max_length=320, description="a known rep's address")


class AssignmentOut(BaseModel):
    account: str
    rep_email: str
    previous_rep_email: str = Field(description='"" when the account had no rep')
    changed: bool
    requests_moved: int = Field(description="open contact requests moved to the rep (alerted)")


@router.put(
    "/accounts/{name}/rep",
    response_model=AssignmentOut,
    summary="Give an account to a rep (logged); open contact requests move to them",
    responses=problems(400, 403, 404, 413, 422),
)
def assign(
    name: Annotated[str, Path(max_length=500, description="The account's name.")],
    body: RepIn,
    caller: OpsOrIntegration,
    api: Ctx,
    background: BackgroundTasks,
) -> AssignmentOut:
    now = api.clock()
    with api.db.session() as session:
        done = assign_account(session, name, body.rep_email, f"api:{caller.name}", now)
    moved = hand_over_requests(api.db, api.settings, now)
    log.info("API %s: %s", caller.name, done.sentence())
    background.add_task(api.send_alerts)  # the rep hears of the moved requests at once
    return AssignmentOut(**done.__dict__, requests_moved=moved)
