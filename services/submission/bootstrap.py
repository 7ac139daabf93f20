"""Submission's composition root: its write model, read model, topics and routes."""

from __future__ import annotations

from infra.bootstrap import ServiceDefinition
from services.submission.adapters.read_model import SubmissionReadModel
from services.submission.application import SubmissionApplication
from services.submission.entrypoints.http import build_router
from services.submission.entrypoints.messaging import CONSUMED_TOPICS
from services.submission.entrypoints.policy import POLICY


def definition() -> ServiceDefinition:
    return ServiceDefinition(
        name="submission",
        build_application=SubmissionApplication,
        build_read_model=SubmissionReadModel,
        build_router=build_router,
        consumes=CONSUMED_TOPICS,
        policy=POLICY,
    )
