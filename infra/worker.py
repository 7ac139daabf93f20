"""The worker process: the outbox relay, the projection consumer and process managers, with health and metrics over HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import uvicorn
from faststream.kafka import KafkaBroker

from infra.auth import TokenService
from infra.consumer_lag import ConsumerLagMonitor
from infra.http import create_app
from infra.kafka import ensure_topics
from infra.kafka_log import kafka_reachable, summarise_broker_trouble
from infra.kafka_security import kafka_security
from infra.metrics import ServiceMetrics
from infra.projection import EventConsumer
from infra.readiness import Readiness
from infra.relay import OutboxRelay
from infra.settings import ServiceSettings
from infra.stopping import sleep_unless_stopped

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
        consumers: list[EventConsumer] | None = None,
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
        self.relay_task: asyncio.Task[None] | None = None
        self.topics_ready = asyncio.Event()
        # aiokafka writes a reconnect error many times a second while Kafka is away: one line away, one back
        summarise_broker_trouble(f"qcp.{settings.service}.kafka")
        readiness.extra["consumers"] = lambda: self.consumers_problem
        self.lag = ConsumerLagMonitor(
            settings.kafka_bootstrap,
            consumers or [],
            interval=settings.consumer_lag_interval_seconds,
            degraded_above=settings.consumer_lag_degraded_messages,
            stall_seconds=settings.consumer_liveness_stall_seconds,
            security=kafka_security(settings),
        )
        self.lag_task: asyncio.Task[None] | None = None
        readiness.details["consumer_lag"] = self.lag.report
        readiness.degradations["consumer_lag"] = self.lag.degraded
        liveness: dict[str, Callable[[], str | None]] = {"consumers": self.consumers_wedged}
        if relay is not None:
            readiness.extra["relay"] = lambda: relay.last_error and f"retrying: {relay.last_error}"
            liveness["relay"] = self.relay_wedged
        self.health_app = create_app(
            service=f"{settings.service}-worker",
            routers=[],
            tokens=tokens,
            metrics=metrics,
            readiness=readiness,
            liveness=liveness,
            policy={},  # the worker answers only the operational routes, which need no token
        )

    def relay_wedged(self) -> str | None:
        """Why the relay needs a restart of this process, if it does: it died, or it has published
        nothing for too long while stored events wait."""
        if self.relay is None:
            return None
        if self.relay_task is not None and self.relay_task.done() and not self.relay_task.cancelled():
            error = self.relay_task.exception()
            return f"the relay stopped: {type(error).__name__}: {error}" if error else "the relay stopped"
        stalled = self.relay.stalled_seconds()
        if stalled >= self.settings.relay_liveness_stall_seconds:
            return (
                f"the relay published nothing for {stalled:.0f} s while {self.relay.backlog} stored events wait"
                f" (last error: {self.relay.last_error})"
            )
        return None

    def consumers_wedged(self) -> str | None:
        """Why the consumers need a restart of this process, if they do: a group stopped consuming with lag."""
        if self.consumers_problem is not None:
            return None  # not consuming yet (Kafka or MongoDB away): a restart would not help
        return self.lag.wedged()

    async def start_consumers(self, stop: asyncio.Event) -> bool:
        """Keep trying until Kafka answers; report why not meanwhile. Returns False if stopped first."""
        while not stop.is_set():
            try:
                if self.on_start is not None:
                    await self.on_start()
                await ensure_topics(self.settings, self.topics)
                self.topics_ready.set()
                await self.broker.start()
                kafka_reachable()
                self.consumers_problem = None
                log.info("%s worker consuming", self.settings.service)
                return True
            except Exception as error:  # noqa: BLE001 - any start failure is retried
                self.consumers_problem = f"waiting for Kafka/MongoDB: {type(error).__name__}: {error}"
                log.warning("%s worker not started: %s", self.settings.service, self.consumers_problem)
                with contextlib.suppress(Exception):
                    await self.broker.stop()
                await sleep_unless_stopped(stop, self.settings.retry_backoff_seconds * 2)
        return False

    async def run(self, stop: asyncio.Event, *, host: str = "127.0.0.1", port: int | None = None) -> None:
        server = None
        server_task = None
        if port is not None:
            config = uvicorn.Config(self.health_app, host=host, port=port, log_level="warning", lifespan="off")
            server = uvicorn.Server(config)
            server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
            server_task = asyncio.create_task(server.serve())
        try:
            # The relay measures its lag from the start, and publishes once its topic exists
            # (created with infinite retention, never auto-created by a first send).
            if self.relay is not None:
                self.relay_task = asyncio.create_task(self.relay.run(stop, topic_ready=self.topics_ready))
            if await self.start_consumers(stop):
                self.lag_task = asyncio.create_task(self.lag.run(stop))
                await stop.wait()
        finally:
            for task in (self.relay_task, self.lag_task):
                if task is not None:
                    with contextlib.suppress(Exception):
                        await task
            with contextlib.suppress(Exception):
                await self.broker.stop()
            if self.on_stop is not None:
                with contextlib.suppress(Exception):
                    await self.on_stop()
            if server is not None and server_task is not None:
                server.should_exit = True
                await server_task
