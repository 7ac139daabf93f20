"""Stats' composition root: no write model; the worker keeps the live state of every topic, the API reads reports."""

from __future__ import annotations

from infra.bootstrap import ServiceDefinition
from services.stats.adapters.read_model import StatsReadModel
from services.stats.audit.journal import journal_process
from services.stats.entrypoints.http import build_router
from services.stats.entrypoints.messaging import CONSUMED_TOPICS, StatsWorkerModel
from services.stats.entrypoints.policy import POLICY


def definition() -> ServiceDefinition:
    return ServiceDefinition(
        name="stats",
        build_read_model=StatsReadModel,
        build_router=build_router,
        consumes=CONSUMED_TOPICS,
        processes=(journal_process(),),
        build_worker_model=StatsWorkerModel,
        policy=POLICY,
    )
