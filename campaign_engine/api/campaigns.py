"""/campaigns (status per step, launch), /contact-requests, /events (the cursor feed)."""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import date
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Query
from pydantic import BaseModel, Field
from sqlmodel import col, select

from campaign_engine.api.auth import Api, Caller, Ops, OpsOrIntegration, check_owns, context
from campaign_engine.api.contact_view import EventOut, event_out
from campaign_engine.api.inputs import CAMPAIGN_NAME_MAX, CampaignName, RequestBody
from campaign_engine.api.problems import ApiProblem, invalid, problems
from campaign_engine.api.tokens import ApiRole
from campaign_engine.core.errors import InvalidInput
from campaign_engine.core.kinds import Channel
from campaign_engine.engine.launch import launch, plan_launch
from campaign_engine.reporting.reports import CampaignStatus, campaign_statuses
from campaign_engine.reps.contact_requests import (
    MAX_MESSAGE,
    MAX_PREFERRED_TIME,
    ContactRequestResult,
    clean_form,
    record_contact_request,
)
from campaign_engine.sending.campaign_pause import set_campaign_paused
from campaign_engine.store.event_feed import event_horizon
from campaign_engine.store.models import MAX_ID, Account, Campaign, Contact, Event, Message, Rep

__all__ = ["MAX_PAGE", "router"]

log = logging.getLogger(__name__)

MAX_PAGE = 1000  # events per page
router = APIRouter(responses=problems(401))
Ctx = Annotated[Api, Depends(context)]


class LaunchIn(RequestBody):
    sequence: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$", examples=["premium-to-ultimate"]
    )
    start: date
    name: str | None = Field(None, min_length=1, max_length=CAMPAIGN_NAME_MAX)
    timezone: str | None = Field(None, max_length=64)
    dry_run: bool = False  # plan only: who would get which email when; nothing is written
    allow_overlap: bool = False  # also enrol contacts active in another running campaign


class Enrolled(BaseModel):
    segment: str
    channel: str
    contacts: int
    without_rep: int = 0  # rep channel: those at accounts no rep owns, whose drafts wait for one


class PlannedSendOut(BaseModel):
    day: date  # in the campaign's time zone
    step: int
    subject: str
    segment: str
    contacts: int


class LaunchOut(BaseModel):
    campaign_id: int | None  # None for a dry run
    name: str
    enrolled: list[Enrolled]
    not_enrolled: int  # outreach mode A
    overlapping: int = 0  # active in another running campaign, left out
    sends: list[PlannedSendOut] = []  # a dry run's automated emails per day and segment
    warmup: str = ""  # a dry run under a warm-up ramp: how it spreads the sends over days


class ContactRequestIn(RequestBody):
    email: str = Field(max_length=320)
    message: str = Field("", max_length=MAX_MESSAGE)
    preferred_time: str = Field("", max_length=MAX_PREFERRED_TIME)


class EventPage(BaseModel):
    events: list[EventOut]
    next_after: int = Field(description="pass it as ?after= to get the events that follow")
    has_more: bool = Field(description="true: ask again at once; false: poll again later")


@router.get(
    "/campaigns",
    response_model=list[CampaignStatus],
    tags=["campaigns"],
    summary="Every campaign with its delivery states per step",
    responses=problems(403),
)
def list_campaigns(caller: OpsOrIntegration, api: Ctx) -> list[CampaignStatus]:
    with api.db.session() as session:
        return campaign_statuses(session)


@router.post(
    "/campaigns",
    response_model=LaunchOut,
    status_code=201,
    tags=["campaigns"],
    summary="Launch a sequence as a campaign and enrol the contacts",
    responses=problems(400, 403, 409, 413, 422, notes={409: "a campaign of that name exists"}),
)
def launch_campaign(body: LaunchIn, caller: Ops, api: Ctx) -> LaunchOut:
    name = body.name or f"{body.sequence} {body.start.isoformat()}"
    with api.db.session() as session:
        if session.exec(select(Campaign.id).where(Campaign.name == name)).first() is not None:
            raise ApiProblem(409, f"a campaign named {name!r} exists already; pick another name")
    now = api.clock()
    plan = plan_launch(api.db, api.settings, body.sequence, body.start, now, name,
                       body.timezone, body.allow_overlap)  # fmt: skip
    enrolled = [
        Enrolled(
            segment=segment,
            channel=channel,
            contacts=n,
            without_rep=plan.without_rep[segment] if channel == Channel.REP else 0,
        )
        for (segment, channel), n in sorted(plan.enrolled.items())
    ]
    if body.dry_run:
        sends = [PlannedSendOut(**asdict(send)) for send in plan.sends]
        return LaunchOut(campaign_id=None, name=name, enrolled=enrolled, sends=sends,
                         not_enrolled=plan.not_enrolled, overlapping=plan.overlapping,
                         warmup=plan.warmup)  # fmt: skip
    result = launch(api.db, api.settings, body.sequence, body.start, now, plan=plan,
                    by=f"api:{caller.name}")  # fmt: skip
    log.info("API %s launched %r", caller.name, result.name)
    return LaunchOut(campaign_id=result.campaign_id, name=result.name, enrolled=enrolled,
                     not_enrolled=result.not_enrolled, overlapping=result.overlapping)  # fmt: skip


class PauseOut(BaseModel):
    name: str
    paused: bool
    changed: bool  # false when it already was


@router.post(
    "/campaigns/{name}/pause",
    response_model=PauseOut,
    tags=["campaigns"],
    summary="Pause a campaign: nothing more of it is queued or sent until it is resumed",
    responses=problems(400, 403, 404),
)
def pause_campaign(name: CampaignName, caller: Ops, api: Ctx) -> PauseOut:
    return _set_paused(name, True, caller, api)


@router.post(
    "/campaigns/{name}/resume",
    response_model=PauseOut,
    tags=["campaigns"],
    summary="Resume a paused campaign: what was queued goes out in the next send window",
    responses=problems(400, 403, 404),
)
def resume_campaign(name: CampaignName, caller: Ops, api: Ctx) -> PauseOut:
    return _set_paused(name, False, caller, api)


def _set_paused(name: str, paused: bool, caller: Caller, api: Api) -> PauseOut:
    with api.db.session() as session:
        changed = set_campaign_paused(session, name, paused, api.clock(), f"api:{caller.name}")
    log.info("API %s %s %r", caller.name, "paused" if paused else "resumed", name)
    return PauseOut(name=name, paused=paused, changed=changed)


@router.post(
    "/contact-requests",
    response_model=ContactRequestResult,
    status_code=201,
    tags=["contacts"],
    summary="The contact asked to talk to sales: same effects as the contact page",
    responses=problems(400, 404, 413, 422),
)
def create_contact_request(
    body: ContactRequestIn, caller: Caller, api: Ctx, background: BackgroundTasks
) -> ContactRequestResult:
    try:
        form = clean_form({"message": body.message, "preferred_time": body.preferred_time})
    except InvalidInput as exc:
        raise invalid("message", str(exc)) from None
    with api.db.session() as session:
        check_owns(session, caller, body.email)
    result = record_contact_request(
        api.db, api.settings, api.clock(), email=body.email, form=form, source=f"api:{caller.name}"
    )
    log.info("API %s: contact request of %s", caller.name, result.contact_email)
    background.add_task(api.send_alerts)  # at once, as from the contact page
    return result


@router.get(
    "/events",
    response_model=EventPage,
    tags=["events"],
    summary="Engagement and delivery events in order, each once: ?after=CURSOR&limit=N",
    responses=problems(400),
)
def events(
    caller: Caller,
    api: Ctx,
    after: Annotated[
        int, Query(ge=0, le=MAX_ID, description="next_after of the previous page (0: start)")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> EventPage:
    with api.db.session() as session:
        horizon = event_horizon(session)
        query = (
            select(Event, Contact.email, Campaign.name, Message.step)
            .join(Contact, col(Contact.id) == Event.contact_id, isouter=True)
            .join(Message, col(Message.id) == Event.message_id, isouter=True)
            .join(Campaign, col(Campaign.id) == Message.campaign_id, isouter=True)
            .where(col(Event.id) > after, col(Event.id) <= horizon)
            .order_by(col(Event.id))
            .limit(limit + 1)
        )
        if caller.role == ApiRole.REP:
            mine = (
                select(Contact.id)
                .join(Account, col(Account.id) == Contact.account_id)
                .join(Rep, col(Rep.id) == Account.rep_id)
                .where(Rep.email == caller.rep_email)
            )
            query = query.where(col(Event.contact_id).in_(mine))
        rows = session.exec(query).all()
    page = [event_out(e, email, name, step) for e, email, name, step in rows[:limit]]
    has_more = len(rows) > limit
    # A last page read everything up to the horizon (for a rep token, the rows in between
    # are other reps'), so the next one starts there.
    next_after = page[-1].id if has_more else max(after, horizon)
    return EventPage(events=page, next_after=next_after, has_more=has_more)
