"""Assembles a service's API process and worker process from its definition and settings."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from eventsourcing.persistence import PersistenceError
from faststream.kafka import KafkaBroker
from pymongo.asynchronous.database import AsyncDatabase

from infra.http.audit import DIGEST_POLICY, build_digest_router, event_store_digests
from infra.authorization import Policy
from infra.auth import TokenService, token_service
from infra.eventstore import Clock, EventStoreApplication, utc_now
from infra.http import create_app
from infra.kafka import build_broker, document_publisher
from infra.kafka_access import kafka_access
from infra.kafka_security import kafka_security
from infra.metrics import ServiceMetrics
from infra.mongo import build_client
from infra.http.operations import OPERATIONS_POLICY, build_operations_router
from infra.positions import AppliedPositions
from infra.projection import (
    EventConsumer,
    EventHandler,
    ProcessManagerRunner,
    Projection,
    ProjectionRunner,
)
from infra.readiness import Readiness, event_store_check, kafka_check, mongo_check
from infra.relay import OutboxRelay
from infra.relay_lease import lease_for, postgres_conninfo
from infra.relay_producer import RelayProducer, idempotent_producer_factory
from infra.relay_wakeups import Poll, PostgresNotifications, Wakeups
from infra.settings import ServiceSettings
from infra.worker import Worker

if TYPE_CHECKING:  # the app is built by infra.http; this module only wires it
    from fastapi import APIRouter, FastAPI


log = logging.getLogger(__name__)

STORE_OPEN_ATTEMPTS = 20


class ReadModel(Projection, Protocol):
    database: AsyncDatabase

    async def create_indexes(self) -> None: ...


@dataclass(frozen=True)
class ProcessContext:
    """What a process manager's handler is built from; it must not do I/O until it handles an event."""

    settings: ServiceSettings
    application: EventStoreApplication | None
    database: AsyncDatabase
    metrics: ServiceMetrics


class WorkerModel(ReadModel, Protocol):
    """A worker's own read model (stats: its live state), closed when the worker stops."""

    async def close(self) -> None: ...


class ProcessHandler(EventHandler, Protocol):
    async def start(self) -> None:
        """Called before consuming starts (indexes, clients); may be retried."""

    async def close(self) -> None: ...


@dataclass(frozen=True)
class ProcessDefinition:
    """A process manager of a service: its own consumer group, reacting to events with commands."""

    name: str
    consumes: list[str]
    build_handler: Callable[[ProcessContext], ProcessHandler]

    def group(self, settings: ServiceSettings) -> str:
        return settings.topic(f"{settings.service}.{self.name}")

    def dead_letter_topic(self, settings: ServiceSettings) -> str:
        return settings.topic(f"{settings.service}.{self.name}.dlq")


@dataclass(frozen=True)
class ServiceDefinition:
    """What makes one service: its write model (if any), read model, consumed topics, routes and process managers."""

    name: str
    build_read_model: Callable[[AsyncDatabase], ReadModel]
    build_router: Callable[[], APIRouter]
    consumes: list[str]
    # Who may call each of the service's routes (infra.authorization), as data: every route has its rules
    policy: Policy = field(default_factory=dict)
    build_application: Callable[[ServiceSettings, Clock], EventStoreApplication] | None = None
    processes: tuple[ProcessDefinition, ...] = field(default_factory=tuple)
    # The worker's read model when it differs from the API's (it needs the settings, has a close)
    build_worker_model: Callable[[AsyncDatabase, ServiceSettings], WorkerModel] | None = None


def open_event_store(
    definition: ServiceDefinition, settings: ServiceSettings, clock: Clock = utc_now
) -> EventStoreApplication | None:
    """The service's write model; retried briefly, since an API and a worker may create a new store at once."""
    if definition.build_application is None:
        return None
    for attempt in range(STORE_OPEN_ATTEMPTS):
        try:
            return definition.build_application(settings, clock)
        except PersistenceError as error:
            if attempt == STORE_OPEN_ATTEMPTS - 1:
                raise
            log.warning("event store not open yet (%s); retrying", error)
            time.sleep(1.0)
    return None


def tokens_for(settings: ServiceSettings) -> TokenService:
    """The service's tokens; SigningKeyRefused (before anything is opened) for a key it must not run with."""
    return token_service(settings)


def build_api(definition: ServiceDefinition, settings: ServiceSettings, *, clock: Clock = utc_now) -> FastAPI:
    """The service's HTTP app; tests may inject a clock, which commands and window checks then use."""
    tokens = tokens_for(settings)
    metrics = ServiceMetrics(settings.service)
    mongo = build_client(settings)
    application = open_event_store(definition, settings, clock)
    checks = {"kafka": kafka_check(settings.kafka_bootstrap, security=kafka_security(settings)),
              "mongodb": mongo_check(mongo)}
    if application is not None:
        checks["event_store"] = event_store_check(application)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await mongo.close()
        if application is not None:
            application.close()

    return create_app(
        service=settings.service,
        # Every service with an event store answers the audit digest routes (tamper evidence) and can
        # republish its events for operators (disaster recovery).
        routers=[
            definition.build_router(),
            *([build_digest_router(event_store_digests), build_operations_router()] if application else []),
        ],
        tokens=tokens,
        metrics=metrics,
        readiness=Readiness(checks),
        lifespan=lifespan,
        policy={**definition.policy, **({**DIGEST_POLICY, **OPERATIONS_POLICY} if application else {})},
        state={
            "settings": settings,
            "application": application,
            "read_model": definition.build_read_model(mongo[settings.database_name]),
            "mongo": mongo,
            "clock": clock,
        },
    )


def build_messaging(
    definition: ServiceDefinition,
    settings: ServiceSettings,
    read_model: ReadModel,
    metrics: ServiceMetrics,
    *,
    application: EventStoreApplication | None = None,
    handlers: list[ProcessHandler] | None = None,
    consumers: list[EventConsumer] | None = None,
) -> KafkaBroker:
    """The service's broker with its projection subscriber, a subscriber per process manager and, for a
    write service, its topic declared. The process managers' handlers are appended to `handlers`, and every
    consumer to `consumers`."""
    broker = build_broker(settings)
    projection = ProjectionRunner(
        broker,
        group=settings.consumer_group,
        topics=[settings.topic(name) for name in definition.consumes],
        projection=read_model,
        dead_letter_topic=settings.dead_letter_topic,
        metrics=metrics,
        retry_backoff=settings.retry_backoff_seconds,
        # a read model may keep its own position log (stats: recorded with its reports); the others record
        # each event's position after its write
        positions=getattr(read_model, "position_log", None) or AppliedPositions(read_model.database),
    )
    if consumers is not None:
        consumers.append(projection)
    for process in definition.processes:
        handler = process.build_handler(ProcessContext(settings, application, read_model.database, metrics))
        runner = ProcessManagerRunner(
            broker,
            name=process.name,
            group=process.group(settings),
            topics=[settings.topic(name) for name in process.consumes],
            handler=handler,
            dead_letter_topic=process.dead_letter_topic(settings),
            metrics=metrics,
            retry_backoff=settings.retry_backoff_seconds,
        )
        if handlers is not None:
            handlers.append(handler)
        if consumers is not None:
            consumers.append(runner)
    if definition.build_application is not None:
        document_publisher(broker, settings.own_topic, settings.service)
    return broker


def build_worker(definition: ServiceDefinition, settings: ServiceSettings) -> Worker:
    tokens = tokens_for(settings)
    metrics = ServiceMetrics(settings.service)
    mongo = build_client(settings)
    database = mongo[settings.database_name]
    read_model: ReadModel
    closing: list[Callable[[], Awaitable[None]]] = []
    if definition.build_worker_model is not None:
        worker_model = definition.build_worker_model(database, settings)
        if (observe := getattr(worker_model, "observe_with", None)) is not None:
            observe(metrics)  # a worker model with metrics of its own (stats' rebuild progress)
        read_model, closing = worker_model, [worker_model.close]
    else:
        read_model = definition.build_read_model(database)
    application = open_event_store(definition, settings)
    handlers: list[ProcessHandler] = []
    consumers: list[EventConsumer] = []
    broker = build_messaging(
        definition, settings, read_model, metrics, application=application, handlers=handlers, consumers=consumers
    )
    checks = {"kafka": kafka_check(settings.kafka_bootstrap, security=kafka_security(settings)),
              "mongodb": mongo_check(mongo)}
    relay = None
    # Only the topics it uses: its Kafka user may describe no others, so it could not tell others exist.
    topics = kafka_access(definition, settings).topics
    if application is not None:
        checks["event_store"] = event_store_check(application)
        relay = build_relay(settings, application, metrics)
        # A PostgreSQL store holds a pool of connections until closed: a worker stopped in a
        # process that goes on (tests, an embedding) must give them back.
        closing.append(_closer(application))
    return Worker(
        settings=settings,
        broker=broker,
        relay=relay,
        topics=topics,
        consumers=consumers,
        readiness=Readiness(checks),
        metrics=metrics,
        tokens=tokens,
        on_start=_in_turn([read_model.create_indexes, *(handler.start for handler in handlers)]),
        on_stop=_in_turn([*(handler.close for handler in handlers), *closing]),
    )


def build_relay(settings: ServiceSettings, application: EventStoreApplication, metrics: ServiceMetrics) -> OutboxRelay:
    """The service's outbox relay with a producer of its own and the lease that keeps it alone."""
    producer = RelayProducer(idempotent_producer_factory(
        settings.kafka_bootstrap, f"qcp-{settings.service}-relay", security=kafka_security(settings)))
    return OutboxRelay(
        application,
        settings.own_topic,
        producer,
        metrics,
        lease=lease_for(settings, settings.own_topic),
        batch_size=settings.relay_batch_size,
        poll_interval=settings.relay_poll_interval_seconds,
        retry_backoff=settings.retry_backoff_seconds,
        replace_after_failures=settings.relay_replace_producer_after_failures,
        yield_lease_after=settings.relay_yield_lease_after_seconds,
        publish_timeout=settings.relay_publish_timeout_seconds,
        wakeups=relay_wakeups(settings, application),
    )


def relay_wakeups(settings: ServiceSettings, application: EventStoreApplication) -> Wakeups:
    """PostgreSQL tells the relay when events are stored; SQLite is polled."""
    if settings.event_store != "postgres":
        return Poll(settings.relay_poll_interval_seconds)
    recorder = application.recorder
    return PostgresNotifications(
        postgres_conninfo(settings),
        recorder.datastore.schema,  # type: ignore[attr-defined]
        recorder.events_table_name,  # type: ignore[attr-defined]
        fallback_interval=settings.relay_fallback_poll_seconds,
        poll_interval=settings.relay_poll_interval_seconds,
        reconnect_backoff=settings.retry_backoff_seconds,
    )


def _closer(application: EventStoreApplication) -> Callable[[], Awaitable[None]]:
    async def close() -> None:
        application.close()

    return close


def _in_turn(steps: list[Callable[[], Awaitable[None]]]) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        for step in steps:
            await step()

    return run
