"""Operators' routes of a write service: republish its stored events after the broker lost its data."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from contracts.codes import Role
from infra.authorization import Policy, Scope
from infra.errors import NotFound
from infra.http import PathId
from infra.http.security import Authorized
from infra.kafka_security import kafka_security
from infra.relay_producer import RelayProducer, idempotent_producer_factory
from infra.republish import republish

log = logging.getLogger(__name__)


class RepublishRequest(BaseModel):
    from_position: int = Field(default=0, ge=0, description="notification id after which to republish; 0 for all")


# Platform-wide operations are the ops role's alone.
OPERATIONS_POLICY: Policy = {
    ("POST", "/operations/republish"): {Role.OPS: Scope.PLATFORM},
    ("GET", "/operations/republish/{job_id}"): {Role.OPS: Scope.PLATFORM},
}


async def start_republish(body: RepublishRequest, request: Request, grant: Authorized) -> dict[str, Any]:
    """Republish every stored event from the event store, in the background."""
    state = request.app.state
    job = {
        "_id": str(uuid.uuid4()),
        "kind": "republish",
        "status": "running",
        "requested_by": grant.actor.id,
        "requested_at": datetime.now(UTC),
        "from_position": body.from_position,
    }
    jobs = _jobs(request)
    await jobs.insert_one(job)
    task = asyncio.create_task(_run(state, jobs, job["_id"], body.from_position))
    state.background_tasks = getattr(state, "background_tasks", set()) | {task}
    task.add_done_callback(state.background_tasks.discard)
    return _view(job)


async def republish_status(job_id: PathId, request: Request, grant: Authorized) -> dict[str, Any]:  # noqa: ARG001 - the grant is the check
    """A republish's status and report."""
    job = await _jobs(request).find_one({"_id": job_id, "kind": "republish"})
    if job is None:
        raise NotFound(f"republish {job_id} is not known to this service")
    return _view(job)


def build_operations_router() -> APIRouter:
    router = APIRouter(tags=["operations"])
    router.add_api_route("/operations/republish", start_republish, methods=["POST"], status_code=202,
                         summary="Republish every stored event from the event store")
    router.add_api_route("/operations/republish/{job_id}", republish_status, methods=["GET"],
                         summary="A republish's status and report")
    return router


async def _run(state: Any, jobs: Any, job_id: str, from_position: int) -> None:  # noqa: ANN401 - FastAPI's app state
    settings = state.settings
    producer = RelayProducer(idempotent_producer_factory(
        settings.kafka_bootstrap, f"qcp-{settings.service}-republish", security=kafka_security(settings)))
    try:
        report = await republish(settings, state.application, producer, from_position=from_position)
    except Exception as error:  # noqa: BLE001 - the operator reads the reason in the job
        log.exception("republish %s failed", job_id)
        await jobs.update_one({"_id": job_id}, {"$set": {"status": "failed", "error": f"{type(error).__name__}: {error}"}})
        return
    await jobs.update_one({"_id": job_id}, {"$set": {"status": "done", "report": report.as_dict()}})


def _jobs(request: Request) -> Any:  # noqa: ANN401
    return request.app.state.mongo[request.app.state.settings.database_name]["operations"]


def _view(job: dict[str, Any]) -> dict[str, Any]:
    return {"job_id": job["_id"]} | {key: value for key, value in job.items() if key != "_id"}
