"""The feed's HTTP routes, the same in every service that takes feeds: post a batch, read the quarantine and reports.

A province's platform posts a batch (NDJSON, gzip accepted) to `POST /feeds/batches` of the service that owns
the records' rules. The body is read as a stream (its size capped by the app's body limit, `infra.http.limits`),
then unpacked, split and parsed in a thread, so neither a large batch nor a gzip bomb holds the event loop.
The caller: role `feed`, its token's org a province's GB/T 2260 code (`310000`), or 403; readers as the service's
authorization policy says, a province's own staff and feed their province's only.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import threading
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from contracts import Actor
from contracts.codes import Role
from contracts.identity import PROVINCES
from infra.authorization import Grant
from infra.errors import NotFound, NotPermitted, RuleViolation
from infra.feeds.intake import BatchInterrupted, FeedIntake
from infra.feeds.parsing import FeedLimits, FeedLine, batch_id_of_digest, read_batch
from infra.feeds.read_model import batch_report as stored_batch_report
from infra.feeds.read_model import quarantine_page
from infra.http import Limit, PathId, Skip
from infra.http.problems import problem, refusal
from infra.http.security import Authorized
from infra.pages import empty_page


def province_of(actor: Actor) -> str:
    """The province a feed token speaks for, or 403: role `feed` (the service's policy lets no other role post),
    org a province's GB/T 2260 code."""
    if actor.role is not Role.FEED:
        raise NotPermitted("authorization", "feed.role", f"role {actor.role.value} may not post feeds; a province's "
                           f"platform posts with role feed ({Role.FEED.label})")
    if not is_province(actor.org):
        raise NotPermitted("authorization", "feed.province", f"{actor.org} is not a province: a feed token's org is a "
                           "province's GB/T 2260 code (e.g. 310000 上海市, 370000 山东省, 540000 西藏自治区)")
    return actor.org


def is_province(code: str) -> bool:
    return bool(re.fullmatch(r"[0-9]{2}0000", code)) and code[:2] in PROVINCES


def _readable_province(grant: Grant, asked: str | None) -> tuple[bool, str | None]:
    """The province a reader's query selects: a province's staff and feed read their own province's only (a query
    naming another selects nothing), the national association and auditors any. False: nothing to read."""
    own = grant.constraints().get("organizer")
    if own is None:
        return True, asked
    return (asked is None or asked == own), own


def _background_priority() -> None:
    """A parsing thread gives way to the event loop's for the CPU, so unpacking a large batch never slows `/health`."""
    with contextlib.suppress(OSError, AttributeError):  # a platform without per-thread priorities parses as it can
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)


# Two threads of their own: at most two bodies are unpacked at once in a process, at a lower priority than the rest.
_PARSERS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="feed-parsing", initializer=_background_priority)


def limits_of(request: Request) -> FeedLimits:
    return FeedLimits.of(getattr(request.app.state, "settings", None))


async def _body(request: Request) -> bytearray:
    """The body as sent (compressed or not), read chunk by chunk; its size is capped while it arrives."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
    return body


Prepare = Callable[[Request, Sequence[FeedLine]], Awaitable[FeedIntake]]
"""Builds the service's intake for one batch: reads what its rules need from its projection first."""

FEED_OUTCOMES = ("in", "accepted", "duplicates", "quarantined")


def count_batch(metrics: Any, service: str, province: str, report: dict[str, Any]) -> None:  # noqa: ANN401
    """A batch's report as metrics: the batch, and the records of a batch posted for the first time per type by
    outcome (a repeated batch takes nothing new and adds no quarantine entry: only the batch is counted)."""
    if metrics is None:
        return
    repeated = bool(report.get("repeated"))
    metrics.feed_batches.labels(service, province, str(repeated).lower()).inc()
    if repeated:
        return
    for record_type, line in report.get("by_type", {}).items():
        for outcome in FEED_OUTCOMES:
            if line.get(outcome):
                metrics.feed_records.labels(service, province, record_type, outcome).inc(line[outcome])


ProvinceQuery = Annotated[str | None, Query(pattern=r"^[0-9]{6}$")]
TextQuery = Annotated[str | None, Query(min_length=1, max_length=128)]


def feed_router(service: str, prepare: Prepare) -> APIRouter:
    """`POST /feeds/batches`, `GET /feeds/quarantine`, `GET /feeds/batches/{batch_id}` for one service."""
    router = APIRouter(tags=["feeds"])

    @router.post(
        "/feeds/batches",
        summary="A province's batch (NDJSON, gzip accepted, at most 50,000 records); answers the batch report",
        responses={400: {"description": "truncated or corrupt gzip"}, 403: {"description": "not a province's feed"},
                   413: {"description": "over 50,000 records, or over the compressed or unpacked size limit"},
                   415: {"description": "a Content-Encoding other than gzip, or a body that is not UTF-8 NDJSON"}},
        # the body is read as sent (not parsed by FastAPI), so it is declared here
        openapi_extra={"requestBody": {"required": True, "content": {"application/x-ndjson": {"schema": {
            "type": "string", "description": "one record a line (`Content-Encoding: gzip` accepted); see feeds/README.md",
        }}}}},
    )
    async def post_batch(
        request: Request,
        grant: Authorized,
        batch_id: Annotated[str | None, Query(min_length=1, max_length=128, pattern=r"^[0-9A-Za-z][0-9A-Za-z_.:-]*$")] = None,
        keys: Annotated[bool, Query(description="list the records now stored, as record_type/external_id")] = False,
    ) -> JSONResponse:
        actor = grant.actor
        province = province_of(actor)
        given = batch_id or request.headers.get("x-batch-id")
        if given is not None and not re.fullmatch(r"[0-9A-Za-z][0-9A-Za-z_.:-]{0,127}", given):
            raise RuleViolation("X-Batch-Id", "feed.batch_id", "a batch id is 1 to 128 letters, digits, _ . : -")
        body = await _body(request)
        batch = await asyncio.get_running_loop().run_in_executor(
            _PARSERS, read_batch, body, request.headers.get("content-encoding"), limits_of(request))
        del body
        intake = await prepare(request, batch.lines)
        trace = (request.headers.get("x-trace-id") or "")[:64] or batch.content_sha256[:32]
        try:
            report = await asyncio.to_thread(
                intake.receive, batch.lines, province=province, batch_id=given or batch_id_of_digest(batch.content_sha256),
                content_sha256=batch.content_sha256, actor=actor, trace_id=trace, with_keys=keys,
            )
        except BatchInterrupted as interrupted:
            return refusal(503, str(interrupted), [problem("body", "feed.batch.interrupted", str(interrupted))],
                           {"Retry-After": "5"}, stored_records=interrupted.stored_records, report=interrupted.report)
        count_batch(getattr(request.app.state, "metrics", None), service, province, report)
        return JSONResponse(report)

    @router.get("/feeds/quarantine", summary="Quarantined records with every reason, by province, batch, type, external id")
    async def quarantine(
        request: Request,
        grant: Authorized,
        province: ProvinceQuery = None,
        batch_id: TextQuery = None,
        record_type: TextQuery = None,
        external_id: TextQuery = None,
        resolved: bool | None = None,
        skip: Skip = 0,
        limit: Limit = 100,
    ) -> dict[str, Any]:
        readable, province = _readable_province(grant, province)
        if not readable:
            return empty_page(skip, limit)
        query: dict[str, Any] = {"service": service}
        filters = {"province": province, "batch_id": batch_id, "record_type": record_type,
                   "external_id": external_id, "resolved": resolved}
        query |= {key: value for key, value in filters.items() if value is not None}
        return await quarantine_page(request.app.state.read_model.database, query, skip, limit)

    @router.get("/feeds/batches/{batch_id}", summary="A batch's report as recorded when it was complete")
    async def batch_report(
        batch_id: PathId, request: Request, grant: Authorized, province: ProvinceQuery = None
    ) -> dict[str, Any]:
        readable, scope = _readable_province(grant, province)
        if not readable:
            raise NotFound(f"batch {batch_id} of province {province} at {service}")
        if scope is None:
            raise RuleViolation("province", "feed.province.required", "say which province's batch: ?province=310000")
        report = await stored_batch_report(request.app.state.read_model.database, service, scope, batch_id)
        if report is None:
            raise NotFound(f"batch {batch_id} of province {scope} at {service}")
        return report

    return router
