"""The app's OpenAPI document made true in one place: every operation's refusals with the one error model.

What an operation can refuse follows from the authorization policy and the route's shape, the same for every
service, so it is derived here rather than written on each route:

- 401 on every operation (a token that is not valid is refused even where none is needed); 403 where the policy
  names roles; 404 where a path names an object, where the policy narrows to a scope (an object outside it
  answers 404) and on commands (they name other objects);
- 409 on commands (a conflict with the current state, a concurrent write) and on reads that wait for
  `min_position`; 429 on commands (writes per token); 400 and 413 where a body is taken; 422 where a
  parameter or a body is read; 503 wherever a backend is used.

FastAPI's own validation error schema is dropped: it does not describe what the services answer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fastapi import FastAPI

from infra.authorization import PUBLIC, Policy, Scope
from infra.http.problems import ErrorBody
from infra.positions import MIN_POSITION, OPERATIONAL_PATHS

WRITES = frozenset({"post", "put", "patch", "delete"})
ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}

REFUSALS: Mapping[int, str] = {
    400: "the body cannot be read (not UTF-8, not JSON, a broken gzip stream)",
    401: "no bearer token where one is needed, or a token that is not valid",
    403: "the caller's role may not do this, or the body names another organization",
    404: "not found, or outside the caller's scope (answered the same, so ids cannot be probed)",
    409: "a conflict with the current state or a concurrent write; on a read, `min_position` not reached yet",
    413: "the body is larger than the limit",
    415: "a media type or encoding that is not read",
    422: "a field, parameter or body breaks a rule: each is named with its rule",
    429: "too many writes with this token; Retry-After says when to try again",
    503: "a backend (event store, read model, broker) is unavailable; Retry-After says when to try again",
}


def make_openapi_true(app: FastAPI, policy: Callable[[], Policy]) -> None:
    """Wrap the app's OpenAPI generator: declare the real refusals, drop FastAPI's validation error schema and
    check that every link a route declares leads to an operation of the document."""

    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            rules = policy()
            for path, operations in document.get("paths", {}).items():
                for method, operation in operations.items():
                    _document_min_position_on_reads_only(path, method, operation)
                    _declare_refusals(path, method, operation, rules.get((method.upper(), path)))
            _check_links(document)
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            for name in ("HTTPValidationError", "ValidationError"):
                schemas.pop(name, None)
            error_schema = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(error_schema.pop("$defs", {}))
            schemas["ErrorBody"] = error_schema
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _document_min_position_on_reads_only(path: str, method: str, operation: dict[str, Any]) -> None:
    """The shared `min_position` dependency is declared on the app, so every route takes it; only the read
    routes act on it, so only they document it."""
    if method == "get" and path not in OPERATIONAL_PATHS:
        return
    kept = [item for item in operation.get("parameters", []) if item.get("name") != MIN_POSITION]
    if kept:
        operation["parameters"] = kept
    else:
        operation.pop("parameters", None)


def refusals_of(path: str, method: str, operation: Mapping[str, Any], rules: Mapping[Any, Scope] | None) -> set[int]:
    """The statuses an operation can refuse with (see the module's docstring)."""
    write = method in WRITES
    has_body = "requestBody" in operation
    has_parameters = bool(operation.get("parameters"))
    codes = {401}
    if path in OPERATIONAL_PATHS:
        return codes | ({422} if has_parameters else set())
    if rules is not PUBLIC:
        codes.add(403)
        narrowed = any(scope is not Scope.PLATFORM for scope in (rules or {}).values())
        if "{" in path or narrowed or write:
            codes.add(404)
    if write:
        codes |= {409, 429}
    elif any(item.get("name") == MIN_POSITION for item in operation.get("parameters", [])):
        codes.add(409)
    if has_body:
        codes |= {400, 413}
    if has_body or has_parameters or write:
        codes.add(422)
    return codes | {503}


def _declare_refusals(path: str, method: str, operation: dict[str, Any], rules: Mapping[Any, Scope] | None) -> None:
    responses = operation.setdefault("responses", {})
    responses.pop("422", None)  # FastAPI's HTTPValidationError: replaced by the services' own model
    for code in sorted(refusals_of(path, method, operation, rules)):
        responses.setdefault(str(code), {"description": REFUSALS[code]})
    for code, response in responses.items():
        if code[0] in "45" and "content" not in response:
            response["content"] = {"application/json": {"schema": ERROR_REF}}
    operation["responses"] = dict(sorted(responses.items()))


def link(operation_id: str, **parameters: str) -> dict[str, Any]:
    """A link to another operation of the same document, its parameters taken from this answer, e.g.
    `link("list_registrations", season_id="$response.body#/season_id")`."""
    return {"operationId": operation_id, "parameters": parameters}


def links_of(document: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """Every link of the document, as (operation, link name, the operationId it leads to)."""
    return [(operation.get("operationId", f"{method} {path}"), name, target.get("operationId", ""))
            for path, operations in document.get("paths", {}).items() for method, operation in operations.items()
            for response in operation.get("responses", {}).values()
            for name, target in response.get("links", {}).items()]


def _check_links(document: Mapping[str, Any]) -> None:
    known = {operation.get("operationId") for operations in document.get("paths", {}).values()
             for operation in operations.values()}
    broken = [item for item in links_of(document) if item[2] not in known]
    if broken:
        raise RuntimeError(f"links to operations the document does not have: {broken}")
