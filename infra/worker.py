"""The worker process: the outbox relay, the projection consumer and process managers, with health and metrics over HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import uvicorn
from faststream.kafka import KafkaBroker

from infra.auth import TokenService
from infra.http import create_app
from infra.kafka import ensure_topics
from infra.metrics import ServiceMetrics
from infra.readiness import Readiness
from infra.relay import OutboxRelay
from infra.settings import ServiceSettings

log = logging.getLogger(__name__)


class Worker:
    """Starts consumers once Kafka answers, retrying instead of crash-looping; relays from the outbox."""

    def __init__(
        self,
        *,
        settings: ServiceSettings,
        broker: KafkaBroker,
        relay: OutboxRelay | None,
        topics: list[str],
        readiness: Readiness,
        metrics: ServiceMetrics,
        tokens: TokenService,
        on_start: Callable[[], Awaitable[None]] | None = None,
        on_stop: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.settings = settings
        self.broker = broker
        self.relay = relay
        self.topics = topics
        self.metrics = metrics
        self.on_start = on_start
        self.on_stop = on_stop
        self.consumers_problem: str | None = "not started yet"
        readiness.extra["consumers"] = lambda: self.consumers_problem
        if relay is not None:
            readiness.extra["relay"] = lambda: relay.last_error and f"retrying: {relay.last_error}"
        self.health_app = create_app(
            service=f"{settings.service}-worker", routers=[], tokens=tokens, metrics=metrics, readiness=readiness
        )

    async def start_consumers(self, stop: asyncio.Event) -> bool:
        """Keep trying until Kafka answers; report why not meanwhile. Returns False if stopped first."""
        while not stop.is_set():
            try:
                if self.on_start is not None:
                    await self.on_start()
                await ensure_topics(self.settings, self.topics)
                await self.broker.start()
                self.consumers_problem = None
                log.info("%s worker consuming", self.settings.service)
                return True
            except Exception as error:  # noqa: BLE001 - any start failure is retried
                self.consumers_problem = f"waiting for Kafka/MongoDB: {type(error).__name__}: {error}"
                log.warning("%s worker not started: %s", self.settings.service, self.consumers_problem)
                with contextlib.suppress(Exception):
                    await self.broker.stop()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self.settings.retry_backoff_seconds * 2)
        return False

    async def run(self, stop: asyncio.Event, *, host: str = "127.0.0.1", port: int | None = None) -> None:
        server = None
        server_task = None
        if port is not None:
            config = uvicorn.Config(self.health_app, host=host, port=port, log_level="warning", lifespan="off")
            server = uvicorn.Server(config)
            server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
            server_task = asyncio.create_task(server.serve())
        relay_task = None
        try:
            if await self.start_consumers(stop):
                if self.relay is not None:
                    relay_task = asyncio.create_task(self.relay.run(stop))
                await stop.wait()
        finally:
            if relay_task is not None:
                await relay_task
            with contextlib.suppress(Exception):
                await self.broker.stop()
            if self.on_stop is not None:
                with contextlib.suppress(Exception):
                    await self.on_stop()
            if server is not None and server_task is not None:
                server.should_exit = True
                await server_task
