"""/contacts: upsert, read with history, outreach mode, sales stages, export and forget."""

from __future__ import annotations

import logging
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from campaign_engine.api.auth import Api, Caller, Ops, OpsOrIntegration, check_owns, context
from campaign_engine.api.contact_rows import RowProblem, upsert_contacts
from campaign_engine.api.contact_view import ContactDetail, contact_detail
from campaign_engine.api.inputs import Email, RequestBody
from campaign_engine.api.problems import ApiProblem, FieldProblem, invalid, pointer, problems
from campaign_engine.audience.contactrows import MAX_EMPLOYEES
from campaign_engine.audience.privacy import ForgetReport, export_person, forget_person
from campaign_engine.reporting.stages import StageRecord, parse_stage, record_stage
from campaign_engine.reps.outreach import ModeChange, set_outreach_mode

__all__ = ["MAX_CONTACTS", "router"]

log = logging.getLogger(__name__)

MAX_CONTACTS = 1000  # rows per upsert request
_CELL = 10_000  # characters in one field, as in a CSV cell
router = APIRouter(tags=["contacts"], responses=problems(401))
Ctx = Annotated[Api, Depends(context)]


class ContactIn(RequestBody):
    """One contact, with the columns of the contacts CSV (same rules; see the guide: Contacts
    CSV)."""

    email: str = Field(max_length=_CELL)
    first_name: str = Field("", max_length=_CELL)
    last_name: str = Field("", max_length=_CELL)
    title: str = Field("", max_length=_CELL)
    account: str = Field("", max_length=_CELL)
    employees: int | None = Field(None, ge=0, le=MAX_EMPLOYEES)
    segment: str = Field(
        "", max_length=_CELL, description="SMB, MM or ENT; from employees if blank"
    )
    owner_email: str = Field(
        "", max_length=_CELL, description="the account's rep, if it has none yet"
    )
    outreach_mode: str = Field(
        "",
        max_length=_CELL,
        description="A, B or C (default: C for SMB, B for MM, Large and Strategic)",
    )
    consent: str = Field("", max_length=_CELL, description="lawful basis / consent source")
    timezone: str = Field("", max_length=_CELL, description="IANA zone, e.g. Europe/Berlin")
    country: str = Field(
        "", max_length=_CELL, description="name or ISO code; gives the zone when none is given"
    )
    region: str = Field(
        "", max_length=_CELL, description="state or province, for countries of several zones"
    )


class ContactBatch(RequestBody):
    contacts: list[ContactIn] = Field(min_length=1, max_length=MAX_CONTACTS)
    strict: bool = Field(False, description="apply nothing when any contact is rejected")


class ContactProblem(BaseModel):
    index: int
    pointer: str
    field: str
    reason: str


class UpsertResult(BaseModel):
    created: int
    updated: int
    unchanged: int
    applied: bool
    rejected: list[ContactProblem]
    warnings: list[ContactProblem] = Field(
        description="applied, but changed or worth a look (e.g. control characters removed,"
        " an owner who is no known rep yet, an address that needs SMTPUTF8)"
    )


class ModeIn(RequestBody):
    mode: str = Field(description="A do nothing, B sales direct only, C marketing email")


class StageIn(RequestBody):
    stage: str | int = Field(description="'1', '1 - Discovery', 'discovery', 'SAO'...")
    on: date | None = Field(None, description="the day it happened (default: today, UTC)")


@router.post(
    "/contacts",
    response_model=UpsertResult,
    summary="Upsert one or many contacts (by email), row by row like the CSV import",
    responses=problems(
        400, 403, 413, 422, notes={422: "no contact was applied; `errors` says which and why"}
    ),
)
def upsert(batch: ContactBatch, caller: OpsOrIntegration, api: Ctx) -> UpsertResult:
    rows = [c.model_dump(exclude_none=True) for c in batch.contacts]
    outcome = upsert_contacts(api.db, rows, api.clock(), f"api:{caller.name}", batch.strict)
    rejected = _problems(outcome.rejected)
    applied_any = outcome.created + outcome.updated + outcome.unchanged > 0
    if rejected and (not outcome.applied or not applied_any):
        raise ApiProblem(
            422,
            f"{len(rejected)} of {len(rows)} contact(s) rejected; nothing was applied",
            [FieldProblem(pointer=r.pointer, detail=r.reason) for r in rejected],
        )
    return UpsertResult(
        created=outcome.created,
        updated=outcome.updated,
        unchanged=outcome.unchanged,
        applied=True,
        rejected=rejected,
        warnings=_problems(outcome.warnings),
    )


def _problems(problems: list[RowProblem]) -> list[ContactProblem]:
    return [
        ContactProblem(
            index=p.index,
            pointer=pointer("contacts", p.index, p.field),
            field=p.field,
            reason=p.reason,
        )
        for p in problems
    ]


@router.get(
    "/contacts/{email}",
    response_model=ContactDetail,
    summary="A contact and its history",
    responses=problems(400, 404),
)
def get_contact(email: Email, caller: Caller, api: Ctx) -> ContactDetail:
    with api.db.session() as session:
        check_owns(session, caller, email)
        return contact_detail(session, email)


@router.put(
    "/contacts/{email}/mode",
    response_model=ModeChange,
    summary="Set the outreach mode",
    responses=problems(400, 404, 413, 422),
)
def set_mode(email: Email, body: ModeIn, caller: Caller, api: Ctx) -> ModeChange:
    with api.db.session() as session:
        check_owns(session, caller, email)
        change = set_outreach_mode(session, api.settings, email, body.mode, api.clock())
    log.info("API %s: %s", caller.name, change.summary())
    return change


@router.post(
    "/contacts/{email}/stages",
    response_model=StageRecord,
    summary="Record a sales stage (what `campaign stages set` does)",
    responses=problems(400, 404, 413, 422),
)
def record_sales_stage(email: Email, body: StageIn, caller: Caller, api: Ctx) -> StageRecord:
    try:
        stage = parse_stage(str(body.stage))
    except ValueError as exc:
        raise invalid("stage", str(exc)) from None
    with api.db.session() as session:
        check_owns(session, caller, email)
    now = api.clock()
    return record_stage(api.db, email, stage, body.on or now.date(), now, f"api:{caller.name}")


@router.get(
    "/contacts/{email}/export",
    summary="Everything held on a person (data-subject access request)",
    response_model=dict[str, Any],
    responses=problems(400, 403, 404),
)
def export(email: Email, caller: Ops, api: Ctx) -> dict[str, Any]:
    return export_person(api.db, email)


@router.delete(
    "/contacts/{email}",
    response_model=ForgetReport,
    summary="Forget a person: erase their data, keep a hashed suppression",
    responses=problems(400, 403),
)
def forget(email: Email, caller: Ops, api: Ctx) -> ForgetReport:
    report = forget_person(api.db, email, api.clock())
    log.warning("API %s: forgot a person (contact erased: %s)", caller.name, report.contact_erased)
    return report
