"""Stats' composition root: no write model, projections of every topic, report routes."""

from __future__ import annotations

from infra.bootstrap import ServiceDefinition
from services.stats.adapters.read_model import StatsReadModel
from services.stats.audit.journal import journal_process
from services.stats.entrypoints.http import build_router
from services.stats.entrypoints.messaging import CONSUMED_TOPICS


def definition() -> ServiceDefinition:
    return ServiceDefinition(
        name="stats",
        build_read_model=StatsReadModel,
        build_router=build_router,
        consumes=CONSUMED_TOPICS,
        processes=(journal_process(),),
    )
