"""Event consumers: projections and process managers.

One mechanism for both: consume envelopes, hand each to a handler, acknowledge after the handler's
write, retry while a store is away, dead-letter what cannot be handled. A projection writes a read
model; a process manager runs commands on the service's write model (e.g. review's judge assignment).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from aiokafka import TopicPartition
from eventsourcing.persistence import InterfaceError, OperationalError, PersistenceError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import Consumer, KafkaMessage
from prometheus_client import Counter, Gauge
from pydantic import BaseModel
from pymongo.errors import ConnectionFailure, PyMongoError

from contracts import Envelope
from infra.kafka import UNREADABLE, read_message
from infra.metrics import ServiceMetrics
from infra.mongo import backend_away

log = logging.getLogger(__name__)

# Fault injection for the wedged-consumer test: the handler blocks forever on its first message,
# a consumer that stopped consuming while the process lives (liveness must catch it).
HANG_ON_FIRST_MESSAGE_ENV = "QCP_FAULT_CONSUMER_HANG"

# Errors that say the infrastructure is away, not that the message is bad: the message
# is not acknowledged, the partition is rewound to it, and it is tried again.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    ConnectionFailure,
    OSError,
    TimeoutError,
    OperationalError,
    InterfaceError,
)
# Errors that say this message cannot be handled, now or later: it goes to the dead-letter topic.
PERMANENT_ERRORS: tuple[type[BaseException], ...] = (PyMongoError, PersistenceError, ValueError, KeyError, TypeError)


class NotReady(Exception):  # noqa: N818 - a state, not a failure
    """Raised by a handler that cannot act on a message yet (something it needs is not in place):
    the message is not acknowledged and is tried again after a back-off, like a store being away."""


@dataclass(frozen=True)
class Delivery:
    """Where the message being handled came from, and its bytes as received (for handlers that keep them, e.g. a journal)."""

    topic: str
    partition: int
    offset: int
    body: bytes


# Set for the duration of each handler call, so the handler protocol stays (envelope, payload).
current_delivery: ContextVar[Delivery | None] = ContextVar("current_delivery", default=None)


class PositionLog(Protocol):
    """Where a consumer records that an event is applied, for reads that wait for their own writes."""

    async def record(self, envelope: Envelope) -> None: ...


class EventHandler(Protocol):
    """Handles one validated event; returns False when it had handled it before (or it is not its business)."""

    async def apply(self, envelope: Envelope, payload: BaseModel) -> bool: ...


# A read model is an event handler whose writes are idempotent.
Projection = EventHandler


@dataclass(frozen=True)
class ConsumerMeters:
    """The metrics one kind of consumer reports; `labels` come first in every series (e.g. the service)."""

    labels: tuple[str, ...]
    events: Counter  # labels + (topic, outcome)
    lag: Gauge  # labels + (topic,)
    consumer_lag: Gauge  # labels + (topic, partition)
    failure_reason: str  # the dead-letter reason when the handler refuses a message

    @classmethod
    def projection(cls, metrics: ServiceMetrics) -> ConsumerMeters:
        return cls(
            (metrics.service,), metrics.events_applied, metrics.projection_lag, metrics.consumer_lag, "unprojectable"
        )

    @classmethod
    def process(cls, metrics: ServiceMetrics, process: str) -> ConsumerMeters:
        return cls(
            (metrics.service, process),
            metrics.process_events,
            metrics.process_lag,
            metrics.process_consumer_lag,
            "unprocessable",
        )


class EventConsumer:
    """One consumer group reading some topics into one handler.

    FastStream subscriber with `AckPolicy.NACK_ON_ERROR` and a raw-bytes decoder: the handler's
    outcome decides, so a malformed body reaches `handle` and is dead-lettered, a handled message
    is committed after the write, and an exception (store away, not ready) rewinds the partition.
    """

    def __init__(
        self,
        broker: KafkaBroker,
        *,
        group: str,
        topics: list[str],
        handler: EventHandler,
        dead_letter_topic: str,
        metrics: ServiceMetrics,
        meters: ConsumerMeters,
        retry_backoff: float = 1.0,
        title: str,
        description: str,
        positions: PositionLog | None = None,
    ) -> None:
        self.broker = broker
        self.group = group
        self.topics = topics
        self.handler = handler
        self.dead_letter_topic = dead_letter_topic
        self.metrics = metrics
        self.meters = meters
        self.retry_backoff = retry_backoff
        self.positions = positions
        # when a message was last handled or retried (monotonic): the worker's liveness tells a consumer that
        # waits (a store away, NotReady) or is slow from one that stopped turning altogether
        self.last_active = time.monotonic()
        self.hang_on_first_message = os.environ.get(HANG_ON_FIRST_MESSAGE_ENV) == "1"
        self.subscriber = broker.subscriber(
            *topics,
            group_id=group,
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.NACK_ON_ERROR,
            decoder=_raw_body,
            max_poll_records=200,
            title=title,
            description=description,
        )
        self.subscriber(self.handle)

    async def handle(self, message: KafkaMessage, consumer: Consumer) -> None:
        raw = message.raw_message
        try:
            envelope, payload = read_message(message.body)
        except UNREADABLE as error:
            await self.dead_letter(message, "unreadable", error)
            return
        current_delivery.set(Delivery(raw.topic, raw.partition, raw.offset, message.body))
        if self.hang_on_first_message:
            log.error("%s hangs on its first message (fault injected by %s)", self.group, HANG_ON_FIRST_MESSAGE_ENV)
            await asyncio.Event().wait()
        try:
            applied = await self.handler.apply(envelope, payload)
            # after the handler's write, before the commit: a read waiting for this event may answer now
            if self.positions is not None:
                await self.positions.record(envelope)
        except NotReady as error:
            log.info("%s not ready for %s[%s]@%s: %s", self.group, raw.topic, raw.partition, raw.offset, error)
            await asyncio.sleep(self.retry_backoff)
            raise
        except TRANSIENT_ERRORS as error:
            log.warning("%s waiting for its store: %s", self.group, error)
            await asyncio.sleep(self.retry_backoff)
            raise
        except PERMANENT_ERRORS as error:
            if backend_away(error):  # the read model's storage is away: the message is fine, try it again
                log.warning("%s waiting for its store: %s", self.group, error)
                await asyncio.sleep(self.retry_backoff)
                raise
            await self.dead_letter(message, self.meters.failure_reason, error)
            return
        finally:
            self.last_active = time.monotonic()
        self._observe(raw.topic, raw.partition, raw.offset, envelope, applied, consumer)

    async def dead_letter(self, message: KafkaMessage, reason: str, error: BaseException) -> None:
        """Publish the original bytes with the error to the dead-letter topic, then let the partition move on."""
        raw = message.raw_message
        self.last_active = time.monotonic()
        log.error("dead-lettering %s[%s]@%s: %s", raw.topic, raw.partition, raw.offset, error)
        await self.broker.publish(
            message.body,
            topic=self.dead_letter_topic,
            key=raw.key,
            headers={
                "error": f"{type(error).__name__}: {error}"[:4000],
                "reason": reason,
                "consumer_group": self.group,
                "original_topic": raw.topic,
                "original_partition": str(raw.partition),
                "original_offset": str(raw.offset),
                "dead_lettered_at": datetime.now(UTC).isoformat(),
            },
        )
        self.metrics.dead_letters.labels(self.metrics.service, raw.topic, reason).inc()

    def _observe(
        self, topic: str, partition: int, offset: int, envelope: Envelope, applied: bool, consumer: object
    ) -> None:
        labels = self.meters.labels
        outcome = "applied" if applied else "duplicate"
        self.meters.events.labels(*labels, topic, outcome).inc()
        self.meters.lag.labels(*labels, topic).set(max(0.0, time.time() - envelope.recorded_at.timestamp()))
        highwater = consumer.highwater(TopicPartition(topic, partition))  # type: ignore[attr-defined]
        if highwater is not None:
            self.meters.consumer_lag.labels(*labels, topic, str(partition)).set(highwater - offset - 1)


class ProjectionRunner(EventConsumer):
    """The service's consumer group reading its topics into its read model."""

    def __init__(
        self,
        broker: KafkaBroker,
        *,
        group: str,
        topics: list[str],
        projection: Projection,
        dead_letter_topic: str,
        metrics: ServiceMetrics,
        retry_backoff: float = 1.0,
        positions: PositionLog | None = None,
    ) -> None:
        super().__init__(
            broker,
            group=group,
            topics=topics,
            handler=projection,
            dead_letter_topic=dead_letter_topic,
            metrics=metrics,
            meters=ConsumerMeters.projection(metrics),
            retry_backoff=retry_backoff,
            title=f"{group}:projection",
            description=f"{group} projection of {', '.join(topics)}",
            positions=positions,
        )
        self.projection = projection


class ProcessManagerRunner(EventConsumer):
    """A consumer group of its own that reacts to events with commands (e.g. assigning judges).

    Its handler must be idempotent like a projection's: a redelivered event finds its command
    already recorded and changes nothing.
    """

    def __init__(
        self,
        broker: KafkaBroker,
        *,
        name: str,
        group: str,
        topics: list[str],
        handler: EventHandler,
        dead_letter_topic: str,
        metrics: ServiceMetrics,
        retry_backoff: float = 1.0,
    ) -> None:
        super().__init__(
            broker,
            group=group,
            topics=topics,
            handler=handler,
            dead_letter_topic=dead_letter_topic,
            metrics=metrics,
            meters=ConsumerMeters.process(metrics, name),
            retry_backoff=retry_backoff,
            title=f"{group}:process",
            description=f"{group}: the {name} process manager, reacting to {', '.join(topics)}",
        )


async def _raw_body(message: KafkaMessage) -> bytes:
    # Decoding is the consumer's business: a malformed body must reach the handler to be dead-lettered.
    return message.body
