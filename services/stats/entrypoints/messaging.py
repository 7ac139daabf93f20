"""Stats' messaging: every producing service's topic into the live state a batch at a time (each batch's
changed reports written before its offsets are committed), with the rebuild runner alongside in the worker."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

from pydantic import BaseModel
from pymongo.asynchronous.database import AsyncDatabase

from contracts import Envelope
from infra.kafka_security import kafka_security
from infra.metrics import ServiceMetrics
from infra.projection import Event, Outcome
from infra.settings import ServiceSettings
from services.stats.adapters.store import StatsStore
from services.stats.live import LiveStats
from services.stats.rebuild import RebuildSettings, Rebuilder

CONSUMED_TOPICS = ["registration.events", "submission.events", "review.events"]


class StatsWorkerModel:
    """The worker's handler of every event: the live state, its report documents and the rebuilds.

    One worker holds the whole state (every partition): stats runs a single worker replica.
    """

    def __init__(self, database: AsyncDatabase, settings: ServiceSettings) -> None:
        self.database = database
        self.store = StatsStore(database)
        self.live = LiveStats(self.store, retry_interval=settings.retry_backoff_seconds)
        self.rebuilder = Rebuilder(self.store, rebuild_settings(settings), self.live)
        # applied means "in the reports the API answers": positions are recorded with the report documents
        self.position_log = self.live
        self.stop = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []

    def observe_with(self, metrics: ServiceMetrics) -> None:
        """The worker's metrics, for the rebuilds' progress."""
        self.rebuilder.metrics = metrics

    async def create_indexes(self) -> None:
        """The worker's start hook (retried until it succeeds): indexes, the state loaded, the background tasks."""
        await self.store.create_indexes()
        if not self.live.started:
            for rebuild_id in await self.store.interrupted_rebuilds():
                await self.store.drop_generation(f"r{rebuild_id}")
            await self.live.start()
            self.tasks = [
                asyncio.create_task(self.live.materialise_until_done(self.stop)),
                asyncio.create_task(self.rebuilder.run_requests(self.stop)),
            ]

    async def apply(self, envelope: Envelope, payload: BaseModel) -> bool:
        return await self.live.apply(envelope, payload)

    async def apply_batch(self, events: Sequence[Event]) -> list[Outcome]:
        return await self.live.apply_batch(events)

    async def close(self, grace_seconds: float = 5.0) -> None:
        """Stop the background tasks: the reports' first writing after a start ends; a rebuild in progress is abandoned
        (its generation is never switched to, and a later rebuild starts afresh)."""
        self.stop.set()
        if self.tasks:
            _, pending = await asyncio.wait(self.tasks, timeout=grace_seconds)
            for task in pending:
                task.cancel()
            for task in self.tasks:
                with contextlib.suppress(BaseException):
                    await task


def rebuild_settings(settings: ServiceSettings) -> RebuildSettings:
    return RebuildSettings(
        bootstrap=settings.kafka_bootstrap,
        topics=[settings.topic(name) for name in CONSUMED_TOPICS],
        live_group=settings.consumer_group,
        dead_letter_topic=settings.dead_letter_topic,
        security=kafka_security(settings),
    )
