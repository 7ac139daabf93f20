"""The one shape of every refusal the services answer: `{"detail": "...", "errors": [{field, rule, message}]}`.

`errors` is there whenever the refusal names a field; a 404 names none (what was not found is in `detail`).

Every error body is built here (`refusal`), from the handlers in `infra.http` and from the middlewares in
`infra.http.limits`, and the OpenAPI documents declare the same model (`ErrorBody`) on every operation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse


class FieldError(BaseModel):
    """One problem of a request: the field (or header, parameter, `body`), the rule it broke, in plain words."""

    field: str = Field(description="the field, parameter or header at fault (`body` for the body as a whole)")
    rule: str = Field(description="the rule broken, a stable id such as `entry.team_name.suffix`")
    message: str = Field(description="what is wrong, in words a user understands")


class ErrorBody(BaseModel):
    """A refusal: nothing was changed. Some refusals add fields of their own (a position not reached yet)."""

    model_config = ConfigDict(extra="allow")

    detail: str = Field(description="the refusal in one sentence")
    errors: list[FieldError] = Field(default_factory=list, description=(
        "each problem with its field and rule; left out where the refusal names no field (a 404 says what was "
        "not found in `detail`, the same whether it is missing or outside the caller's scope)"))


def problem(field: str, rule: str, message: str) -> dict[str, str]:
    return {"field": field, "rule": rule, "message": message}


def error_body(detail: str, errors: Iterable[Mapping[str, str]] = (), **extra: Any) -> dict[str, Any]:
    """The body of a refusal, checked against the model, so that no other shape can be answered."""
    body = ErrorBody(detail=detail, errors=[FieldError(**item) for item in errors], **extra).model_dump(mode="json")
    if not body["errors"]:
        del body["errors"]
    return body


def refusal(status_code: int, detail: str, errors: Iterable[Mapping[str, str]] = (),
            headers: Mapping[str, str] | None = None, **extra: Any) -> JSONResponse:
    """A refusal's answer: its status, the one error body and its headers (Retry-After, WWW-Authenticate, Allow)."""
    return JSONResponse(error_body(detail, errors, **extra), status_code=status_code, headers=dict(headers or {}) or None)
