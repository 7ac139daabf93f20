"""The FastAPI app factory every service uses: health, readiness, metrics, and clear 4xx errors."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Annotated, Any

from eventsourcing.persistence import IntegrityError, OperationalError
from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict
from pymongo.errors import ConnectionFailure, DocumentTooLarge, InvalidDocument, OperationFailure
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contracts import Actor
from contracts.codes import Channel
from infra.auth import TokenService
from infra.authorization import PUBLIC, Policy
from infra.errors import (
    Conflict,
    Malformed,
    NotFound,
    NotPermitted,
    RuleViolation,
    TooLarge,
    Unknown,
    Unsupported,
)
from infra.http.dependencies import read_your_writes
from infra.http.limits import BodyLimit, RateLimit, clean_parameters
from infra.http.openapi import make_openapi_true
from infra.http.problems import problem, refusal
from infra.eventstore import CommandContext
from infra.http.security import authorize
from infra.idempotency import MAX_KEY_LENGTH, IdempotencyKey
from infra.metrics import CONTENT_TYPE_LATEST, ServiceMetrics
from infra.mongo import backend_away
from infra.positions import (
    MIN_POSITION,
    POSITION_HEADER,
    Position,
    PositionNotReached,
)
from infra.readiness import Readiness

log = logging.getLogger(__name__)

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]

# Path and query parameters the services share: bounded, so no input reaches the store unchecked.
PathId = Annotated[str, Path(min_length=1, max_length=64)]
Skip = Annotated[int, Query(ge=0, le=1_000_000)]
Limit = Annotated[int, Query(ge=1, le=500)]


def create_app(
    *,
    service: str,
    routers: Sequence[APIRouter],
    tokens: TokenService,
    metrics: ServiceMetrics,
    readiness: Readiness,
    lifespan: Lifespan | None = None,
    state: dict[str, Any] | None = None,
    liveness: dict[str, Callable[[], str | None]] | None = None,
    policy: Policy,
) -> FastAPI:
    # the authorization policy on every route: a route that declares none is refused at start, never served open
    dependencies = [Depends(clean_parameters), Depends(read_your_writes), Depends(authorize)]
    app = FastAPI(
        title=f"QC platform: {service}",
        description=f"The {service} service of the mass quality activities platform.",
        version="0.1.0",
        lifespan=lifespan,
        # every read answers only once the read model has applied the caller's `min_position`, if given
        dependencies=dependencies,
    )
    make_openapi_true(app, lambda: app.state.policy)
    app.state.tokens = tokens
    app.state.metrics = metrics
    app.state.readiness = readiness
    for key, value in (state or {}).items():
        setattr(app.state, key, value)
    for router in routers:
        app.include_router(router)
    _add_operational_routes(app, service, metrics, readiness, liveness or {})
    app.state.policy = {**OPERATIONAL_POLICY, **policy}
    _require_a_policy_for_every_route(app, app.state.policy)
    _add_error_handlers(app)
    app.add_middleware(BodyLimit, settings=(state or {}).get("settings"))
    app.add_middleware(RateLimit, tokens=tokens, settings=(state or {}).get("settings"))
    app.add_middleware(ObserveLatency, service=service, metrics=metrics)
    return app


class Liveness(BaseModel):
    """`/health`: ok, or wedged with the problem of each check that failed."""

    model_config = ConfigDict(extra="allow")
    status: str
    service: str
    problems: dict[str, str] | None = None


class ReadinessAnswer(BaseModel):
    """`/ready`: each backend's check, and whether the service is far behind (degraded, still ready)."""

    model_config = ConfigDict(extra="allow")
    ready: bool
    service: str
    checks: dict[str, str]
    degraded: bool
    degraded_reasons: dict[str, str] | None = None


def _add_operational_routes(
    app: FastAPI,
    service: str,
    metrics: ServiceMetrics,
    readiness: Readiness,
    liveness: dict[str, Callable[[], str | None]],
) -> None:
    @app.get("/health", tags=["operations"], summary="Liveness: the process answers and is not wedged",
             responses={200: {"model": Liveness}, 503: {"model": Liveness, "description": "wedged"}})
    async def health() -> JSONResponse:
        problems = {name: problem for name, check in liveness.items() if (problem := check()) is not None}
        if problems:
            return JSONResponse({"status": "wedged", "service": service, "problems": problems}, status_code=503)
        return JSONResponse({"status": "ok", "service": service})

    @app.get("/ready", tags=["operations"], summary="Readiness: Kafka, event store and MongoDB reachable; degraded (still ready) when far behind",
             responses={200: {"model": ReadinessAnswer}, 503: {"model": ReadinessAnswer, "description": "not ready"}})
    async def ready() -> JSONResponse:
        is_ready, checks = await readiness.report()
        degraded = readiness.degraded()
        answer = {"ready": is_ready, "service": service, "checks": checks, "degraded": bool(degraded)}
        if degraded:
            answer["degraded_reasons"] = degraded
        return JSONResponse(answer | readiness.shown(), status_code=200 if is_ready else 503)

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics", response_class=PlainTextResponse,
             responses={200: {"description": "the Prometheus text exposition format",
                              "content": {"text/plain": {"schema": {"type": "string"}}}}})
    async def prometheus_metrics() -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)


OPERATIONAL_POLICY: Policy = {("GET", "/health"): PUBLIC, ("GET", "/ready"): PUBLIC, ("GET", "/metrics"): PUBLIC,
                              ("GET", "/openapi.json"): PUBLIC, ("GET", "/docs"): PUBLIC,
                              ("GET", "/docs/oauth2-redirect"): PUBLIC, ("GET", "/redoc"): PUBLIC}


def operations_of(app: FastAPI) -> list[tuple[str, str]]:
    """Every (method, path) the app answers: its OpenAPI operations (included routers are not listed one route
    by one in `app.routes`) and the routes it declares itself."""
    documented = {(method.upper(), path) for path, operations in app.openapi().get("paths", {}).items()
                  for method in operations}
    own = {(method, route.path) for route in app.routes
           for method in (getattr(route, "methods", None) or ()) if method != "HEAD"}
    return sorted(documented | own)


def _require_a_policy_for_every_route(app: FastAPI, policy: Policy) -> None:
    missing = [operation for operation in operations_of(app) if operation not in policy]
    if missing:
        raise RuntimeError(f"routes without an authorization policy: {missing}")


# The one place a domain error becomes an HTTP status: the most specific kind wins.
STATUS_OF_ERROR: dict[type[RuleViolation], int] = {
    Conflict: 409, NotPermitted: 403, Unknown: 404, TooLarge: 413, Unsupported: 415, Malformed: 400,
}


def status_of(error: RuleViolation) -> int:
    return next((STATUS_OF_ERROR[kind] for kind in type(error).__mro__ if kind in STATUS_OF_ERROR), 422)


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, error: RequestValidationError) -> JSONResponse:
        problems = [problem(_field_of(item), item["type"], _message_of(item)) for item in error.errors()]
        summary = "; ".join(f"{item['field']}: {item['message']}" for item in problems)
        return refusal(422, f"the request was refused: {summary}", problems)

    @app.exception_handler(StarletteHTTPException)
    async def http_refusal(request: Request, error: StarletteHTTPException) -> JSONResponse:
        """FastAPI's and Starlette's own refusals (a token missing, a path or method not served, a body that
        is not text) in the services' one error format."""
        headers = dict(error.headers or {})
        detail = str(error.detail)
        if error.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(request))
            detail = f"{request.method} is not served at {request.url.path}; it takes {headers['Allow']}"
        elif error.status_code == 400:
            detail = "the request body cannot be read: it is not UTF-8 text; nothing was changed"
        named = _HTTP_REFUSALS.get(error.status_code, ("request", f"http.{error.status_code}"))
        return refusal(error.status_code, detail, [problem(*named, detail)] if named else [], headers)

    @app.exception_handler(RuleViolation)
    async def rule_violation(_: Request, error: RuleViolation) -> JSONResponse:
        return refusal(status_of(error), error.message, [problem(error.field, error.rule, error.message)])

    @app.exception_handler(PositionNotReached)
    async def position_not_reached(_: Request, error: PositionNotReached) -> JSONResponse:
        answer = error.answer()
        detail = answer.pop("detail")
        return refusal(409, detail, [problem(MIN_POSITION, "position.not_reached", detail)], {"Retry-After": "1"},
                       **answer)

    @app.exception_handler(NotFound)
    async def not_found(_: Request, error: NotFound) -> JSONResponse:
        return refusal(404, str(error))  # no field: which part of the request was not found is in the detail

    unavailable = {ConnectionFailure: "read model", OperationalError: "event store"}

    def unavailable_answer(backend: str, error: Exception) -> JSONResponse:
        log.warning("%s unavailable: %s", backend, error)
        message = f"the service's {backend} is unavailable at the moment; nothing was changed, try again shortly"
        return refusal(503, message, [problem("request", "service.unavailable", message)], {"Retry-After": "5"})

    async def backend_unavailable(_: Request, error: Exception) -> JSONResponse:
        return unavailable_answer(next(name for kind, name in unavailable.items() if isinstance(error, kind)), error)

    for kind in unavailable:
        app.add_exception_handler(kind, backend_unavailable)

    @app.exception_handler(OperationFailure)
    @app.exception_handler(InvalidDocument)
    async def read_model_failure(_: Request, error: OperationFailure | InvalidDocument) -> JSONResponse:
        """A store's refusal is the request's fault (413, 422) or the store's (503), never a 500."""
        if isinstance(error, OperationFailure) and backend_away(error):  # FerretDB without its PostgreSQL
            return unavailable_answer("read model", error)
        log.warning("read model refused an operation: %s", error)
        status_code = _status_of_store_refusal(error)
        if status_code == 503:
            return unavailable_answer("read model", error)
        rule = "request.too_large" if status_code == 413 else "request.unreadable_by_store"
        message = ("the request makes a document larger than the store takes" if status_code == 413 else
                   "the store cannot take a value of the request (a character or an operator it does not accept)")
        return refusal(status_code, message, [problem("request", rule, message)])

    @app.exception_handler(IntegrityError)
    async def concurrent_write(_: Request, error: IntegrityError) -> JSONResponse:
        message = "another change to the same record was saved at the same moment; send it again"
        return refusal(409, message, [problem("request", "concurrent_write", message)])


# The field and rule of FastAPI's and Starlette's own refusals; a 404 names none, like a NotFound.
_HTTP_REFUSALS: dict[int, tuple[str, str] | None] = {
    400: ("body", "request.body.unreadable"),
    401: ("Authorization", "authentication.required"),
    404: None,
    405: ("method", "method.not_allowed"),
}


def _field_of(item: dict[str, Any]) -> str:
    """The field a validation error names: its location without `body`; a body that is not JSON is `body`."""
    if item["type"] == "json_invalid":
        return "body"
    return ".".join(str(part) for part in item["loc"] if part != "body") or "body"


def _message_of(item: dict[str, Any]) -> str:
    if item["type"] == "json_invalid":
        return f"the body is not JSON: {item.get('ctx', {}).get('error', item['msg'])}"
    return str(item["msg"])


def allowed_methods(request: Request) -> list[str]:
    """Every method the requested path takes, over all the app's operations (a 405's Allow header)."""
    app = request.app
    if getattr(app.state, "methods_by_path", None) is None:
        by_path: dict[str, set[str]] = {}
        for method, path in operations_of(app):
            by_path.setdefault(path, set()).add(method)
        app.state.methods_by_path = [(compile_path(path)[0], methods) for path, methods in by_path.items()]
    methods = {method for pattern, taken in app.state.methods_by_path if pattern.match(request.url.path)
               for method in taken}
    return sorted(methods | ({"HEAD"} if "GET" in methods else set()))


# MongoDB's codes for a value it refuses (BadValue, FailedToParse, TypeMismatch, an invalid regex, names with
# $ or dots), for a document too large, and PostgreSQL's data exceptions (SQLSTATE 22...) behind FerretDB.
_REFUSED_VALUE_CODES = frozenset({2, 9, 14, 15, 16, 22, 51091, 52, 53, 56, 57})
_TOO_LARGE_CODES = frozenset({10334, 17419, 17420})
_DATA_EXCEPTION = re.compile(r"SQLSTATE 22[0-9A-Z]{3}")


def _status_of_store_refusal(error: OperationFailure | InvalidDocument) -> int:
    if isinstance(error, DocumentTooLarge) or getattr(error, "code", None) in _TOO_LARGE_CODES:
        return 413
    if isinstance(error, InvalidDocument) or error.code in _REFUSED_VALUE_CODES or _DATA_EXCEPTION.search(str(error)):
        return 422
    return 503


class ObserveLatency:
    """Each answered request's latency by route and status, as plain ASGI: Starlette's `BaseHTTPMiddleware` (what
    `@app.middleware("http")` builds) costs every request a task group and wraps its body and answer in streams."""

    def __init__(self, app: ASGIApp, service: str, metrics: ServiceMetrics) -> None:
        self.app, self.service, self.metrics = app, service, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status: list[int] = []

        async def answering(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        await self.app(scope, receive, answering)
        if status:  # the router set the matched route on the request's scope
            path = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.request_latency.labels(self.service, scope["method"], path, str(status[0])).observe(
                time.perf_counter() - started
            )


@asynccontextmanager
async def no_lifespan(_: FastAPI) -> AsyncIterator[None]:
    yield


def command_context(request: Request, actor: Actor, channel: Channel) -> CommandContext:
    """The command's metadata from the request: the actor, the channel and the caller's trace id if any."""
    trace = request.headers.get("x-trace-id")
    return CommandContext(actor=actor, channel=channel, **({"trace_id": trace[:64]} if trace else {}))


def idempotency_for(request: Request, actor: Actor, body: BaseModel) -> IdempotencyKey | None:
    """The request's Idempotency-Key, scoped to the actor and fingerprinted with the route and body."""
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    if not 1 <= len(key) <= MAX_KEY_LENGTH:
        raise RuleViolation(
            "Idempotency-Key", "idempotency.key_length", f"an Idempotency-Key has 1 to {MAX_KEY_LENGTH} characters"
        )
    return IdempotencyKey.for_request(key, actor.id, request.url.path, body.model_dump(mode="json"))


def command_answer(result: dict[str, Any]) -> JSONResponse:
    """201 for a new aggregate, 200 for a change to one; a replayed answer says so in a header.

    The answer carries the position of its event (also in a header), which a read can pass as `min_position`
    to see its own write; answers stored before positions existed get theirs from the aggregate and version.
    """
    replayed = result.pop("replayed", False)
    created = result.pop("created", False)
    headers = {"Idempotent-Replayed": "true"} if replayed else {}
    position = Position.of_answer(result)
    if position is not None:
        result["position"] = str(position)
        headers[POSITION_HEADER] = str(position)
    return JSONResponse(result, status_code=201 if created else 200, headers=headers or None)


async def execute(
    request: Request, actor: Actor, channel: Channel, command: Callable[..., dict[str, Any]], *arguments: Any, body: BaseModel
) -> JSONResponse:
    """Run a synchronous command off the event loop with the request's context and Idempotency-Key, and answer it."""
    context = command_context(request, actor, channel)
    result = await asyncio.to_thread(command, *arguments, context, idempotency_for(request, actor, body))
    return command_answer(result)


def found(document: dict[str, Any] | None, what: str) -> dict[str, Any]:
    """The document, or a 404 that says what was asked for."""
    if document is None:
        raise NotFound(what)
    return document
