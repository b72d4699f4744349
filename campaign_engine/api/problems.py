"""Errors as RFC 9457 problem details (application/problem+json), one shape for every failure.

`errors` lists each invalid field with a JSON pointer into the request (`#/contacts/0/email`,
`#/query/limit`) and what is wrong with it. A malformed request (a parameter out of range or of
the wrong type, a body that is not JSON) is a 400; a well-formed body with invalid fields a 422.
Routes list the problems they can answer with `problems(...)`, so the OpenAPI document says so.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response

from campaign_engine.core.errors import CampaignEngineError, NotFound, SequenceError

__all__ = [
    "PROBLEM_JSON",
    "ApiProblem",
    "FieldProblem",
    "Problem",
    "install_problem_handlers",
    "invalid",
    "pointer",
    "problem_document",
    "problem_response",
    "problems",
]

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


class FieldProblem(BaseModel):
    pointer: str  # JSON pointer into the request body or parameters, e.g. #/contacts/0/email
    detail: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str = ""
    errors: list[FieldProblem] = []


class ApiProblem(Exception):
    """Raised by a route: answer with this status, detail and field errors."""

    def __init__(
        self,
        status: int,
        detail: str,
        errors: Sequence[FieldProblem] = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = list(errors)
        self.headers = headers or {}


def invalid(field: str, detail: str) -> ApiProblem:
    """A 422 about one field of the body: `raise invalid("email", "is empty") from None`."""
    return ApiProblem(422, detail, [FieldProblem(pointer=pointer(field), detail=detail)])


def pointer(*parts: object) -> str:
    """pointer("contacts", 0, "email") -> '#/contacts/0/email' (RFC 6901 escaping)."""
    escaped = (str(p).replace("~", "~0").replace("/", "~1") for p in parts)
    return "#/" + "/".join(escaped)


def problem_response(
    status: int,
    detail: str = "",
    errors: Sequence[FieldProblem] = (),
    headers: Mapping[str, str] | None = None,
) -> Response:
    body = Problem(
        title=HTTPStatus(status).phrase, status=status, detail=detail, errors=list(errors)
    )
    return JSONResponse(
        body.model_dump(exclude_defaults=False),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=dict(headers) if headers else None,
    )


_MEANINGS = {
    400: "a malformed request: a parameter out of range or of the wrong type, or a body that is"
    " not JSON (UTF-8); `errors` names each parameter",
    401: "no bearer token, or an unknown or revoked one",
    403: "this token's role may not do this",
    404: "no such thing (for a rep token: none among its accounts)",
    409: "it exists already",
    413: "the body is over 1 MiB",
    422: "a field of the body is invalid; `errors` names each field",
}


def problems(
    *statuses: int, notes: Mapping[int, str] | None = None
) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI `responses` of a route for these error statuses, each a problem+json
    document; `notes` says what a status means on this route, where the usual words don't."""
    meanings = {**_MEANINGS, **(notes or {})}
    return {status: {"model": Problem, "description": meanings[status]} for status in statuses}


def problem_document(document: dict[str, Any]) -> None:
    """Make the generated OpenAPI document say what is sent: every error response a
    problem+json document, and no FastAPI validation-error shape (it is never sent)."""
    for item in document.get("paths", {}).values():
        for operation in item.values():
            responses = operation.get("responses", {})
            for status in [s for s in responses if s[:1] in ("4", "5")]:
                content = responses[status].get("content", {})
                schema = content.get("application/json", {}).get("schema", {})
                if schema.get("$ref", "").endswith("/HTTPValidationError"):
                    del responses[status]  # FastAPI's own 422: a route's real ones are declared
                elif "application/json" in content:
                    content[PROBLEM_JSON] = content.pop("application/json")
    schemas = document.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiProblem, _api_problem)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(CampaignEngineError, _engine_error)
    app.add_exception_handler(Exception, _crash)


async def _api_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiProblem)
    return problem_response(exc.status, exc.detail, exc.errors, exc.headers or None)


async def _invalid_request(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [_field_problem(error) for error in exc.errors()]
    if any(error.get("type") == "json_invalid" for error in exc.errors()):
        return problem_response(400, "the body is not valid JSON (UTF-8)", errors)
    if any(tuple(error.get("loc", ()))[:1] != ("body",) for error in exc.errors()):
        return problem_response(400, "the request has invalid parameters", errors)
    return problem_response(422, "the request has invalid fields", errors)


def _field_problem(error: dict[str, Any]) -> FieldProblem:
    location = list(error.get("loc", ()))
    if location and location[0] == "body":
        location = location[1:]
    return FieldProblem(pointer=pointer(*location), detail=str(error.get("msg", "invalid")))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return problem_response(exc.status_code, str(exc.detail or ""), headers=exc.headers)


async def _engine_error(request: Request, exc: Exception) -> Response:
    """The services' errors: a missing thing is a 404, a refused input a 422."""
    status = 404 if isinstance(exc, NotFound) else 422
    if isinstance(exc, SequenceError):
        status = 422
    return problem_response(status, str(exc))


async def _crash(request: Request, exc: Exception) -> Response:
    log.exception("API %s %s failed", request.method, request.url.path)
    return problem_response(500, "internal error; it was logged")
