"""Review's composition root: its write model, read model, topics and routes."""

from __future__ import annotations

from infra.bootstrap import ServiceDefinition
from services.review.adapters.read_model import ReviewReadModel
from services.review.application import ReviewApplication
from services.review.assignment.process import assignment_process
from services.review.cancellation import cancellation_process
from services.review.entrypoints.http import build_router
from services.review.entrypoints.messaging import CONSUMED_TOPICS
from services.review.entrypoints.policy import POLICY


def definition() -> ServiceDefinition:
    return ServiceDefinition(
        name="review",
        build_application=ReviewApplication,
        build_read_model=ReviewReadModel,
        build_router=build_router,
        consumes=CONSUMED_TOPICS,
        processes=(assignment_process(), cancellation_process()),
        policy=POLICY,
    )
