"""What the API accepts: request bodies that refuse unknown fields (422 naming the field), no
query parameter an operation does not take (400 naming it), and path parameters with bounds."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict

from campaign_engine.api.problems import ApiProblem, FieldProblem, pointer

__all__ = ["CAMPAIGN_NAME_MAX", "CampaignName", "Email", "RequestBody", "known_query"]

CAMPAIGN_NAME_MAX = 200

Email = Annotated[str, Path(max_length=320, description="The contact's address (any case).")]
CampaignName = Annotated[str, Path(max_length=CAMPAIGN_NAME_MAX, description="The campaign.")]


class RequestBody(BaseModel):
    """The base of every request body: unknown fields are errors, so a misspelt field (or one
    meant for another version) is never silently dropped while the rest is applied."""

    model_config = ConfigDict(extra="forbid")


def known_query(request: Request) -> None:
    """A dependency of every operation: a query parameter it does not take, or one given twice
    (all take one value), is a 400 naming it, so a misspelt `?limt=5` is never ignored and
    `?limit=5&limit=500` never means one of them."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    known = _query_names(route.dependant)
    problems = [
        FieldProblem(pointer=pointer("query", name), detail=why)
        for name in dict.fromkeys(request.query_params)
        if (why := _query_problem(name, known, len(request.query_params.getlist(name))))
    ]
    if problems:
        raise ApiProblem(400, "the request has invalid query parameters", problems)


def _query_problem(name: str, known: set[str], times: int) -> str:
    if name not in known:
        return "not a parameter here"
    return "given more than once" if times > 1 else ""


def _query_names(dependant: Dependant) -> set[str]:
    names = {field.alias for field in dependant.query_params}
    for dependency in dependant.dependencies:
        names |= _query_names(dependency)
    return names
