"""Event consumers: projections and process managers.

One mechanism for both: consume envelopes in batches, hand them to a handler, commit after the handler's
writes, retry while a store is away, dead-letter what cannot be handled. A projection writes a read
model; a process manager runs commands on the service's write model (e.g. review's judge assignment).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from collections.abc import Sequence
from typing import Protocol

from aiokafka import ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError
from eventsourcing.persistence import InterfaceError, OperationalError, PersistenceError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import Consumer, KafkaMessage
from prometheus_client import Counter, Gauge
from pydantic import BaseModel
from pymongo.errors import ConnectionFailure, PyMongoError

from contracts import Envelope
from infra.kafka import UNREADABLE, read_message
from infra.kafka_log import kafka_reachable
from infra.metrics import ServiceMetrics
from infra.mongo import backend_away

log = logging.getLogger(__name__)

# Fault injection for the wedged-consumer test: the handler blocks forever on its first message,
# a consumer that stopped consuming while the process lives (liveness must catch it).
HANG_ON_FIRST_MESSAGE_ENV = "QCP_FAULT_CONSUMER_HANG"

# A batch is what one fetch returns, up to this many records; an idle consumer asks again this often.
BATCH_MAX_RECORDS = 500
BATCH_TIMEOUT_MS = 50

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


@dataclass(frozen=True)
class Event:
    """One readable message of a batch: its envelope, its validated payload and where it came from."""

    envelope: Envelope
    payload: BaseModel
    delivery: Delivery


# What a handler made of one event of a batch: applied (True) or not its business / seen before (False),
# the error it met, or None when it did not try it (an earlier event made the batch wait).
Outcome = bool | BaseException | None


class PositionLog(Protocol):
    """Where a consumer records that an event is applied, for reads that wait for their own writes."""

    async def record(self, envelope: Envelope) -> None: ...


class EventHandler(Protocol):
    """Handles one validated event; returns False when it had handled it before (or it is not its business).

    A handler may also offer `apply_batch(events: Sequence[Event]) -> list[Outcome]`, one outcome per event
    in order, applying each aggregate's events in order (a store's bulk write); the consumer uses it when present.
    """

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
    """One consumer group reading some topics into one handler, a batch at a time.

    A FastStream batch subscriber (`getmany`, in order per partition) with manual commits and a
    raw-bytes decoder: the consumer decides what is committed. A batch is handed to the handler (in
    bulk when it has `apply_batch`, else event by event); then, per partition, the offsets of the
    events handled and of the poison dead-lettered alone are committed, and a partition whose event
    met a store away or NotReady is rewound to it (nothing committed past it) and tried again after a
    back-off. A rebalance waits for the batch being applied and committed, so what was applied is
    committed and nothing is lost.
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
        max_records: int = BATCH_MAX_RECORDS,
        batch_timeout_ms: int = BATCH_TIMEOUT_MS,
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
        # when a batch was last handled or retried (monotonic): the worker's liveness tells a consumer that
        # waits (a store away, NotReady) or is slow from one that stopped turning altogether
        self.last_active = time.monotonic()
        self.hang_on_first_message = os.environ.get(HANG_ON_FIRST_MESSAGE_ENV) == "1"
        # held while a batch is applied and committed; a rebalance waits for it before giving partitions away
        self.applying = asyncio.Lock()
        self.subscriber = broker.subscriber(
            *topics,
            group_id=group,
            auto_offset_reset="earliest",
            batch=True,
            max_records=max_records,
            batch_timeout_ms=batch_timeout_ms,
            ack_policy=AckPolicy.MANUAL,
            decoder=_raw_body,
            listener=_CommitBeforeRevoke(self),
            title=title,
            description=description,
        )
        self.subscriber(self.handle)

    async def handle(self, message: KafkaMessage, consumer: Consumer) -> None:
        records: tuple[ConsumerRecord, ...] = message.raw_message  # type: ignore[assignment]
        if self.hang_on_first_message:
            log.error("%s hangs on its first message (fault injected by %s)", self.group, HANG_ON_FIRST_MESSAGE_ENV)
            await asyncio.Event().wait()
        waiting: str | None = None
        async with self.applying:
            # records fetched before a rebalance may belong to partitions given away meanwhile: their new
            # owner reads them from what was committed
            assigned = consumer.assignment()
            mine = [record for record in records if TopicPartition(record.topic, record.partition) in assigned]
            try:
                waiting = await self._apply_batch(mine, consumer)
            except Exception as error:  # noqa: BLE001 - e.g. the commit with Kafka away: the whole batch again
                log.warning("%s will take its batch again: %s: %s", self.group, type(error).__name__, error)
                waiting = str(error)
                for tp, offset in _first_offsets(mine).items():
                    with contextlib.suppress(IllegalStateError):
                        consumer.seek(tp, offset)
            finally:
                self.last_active = time.monotonic()
        if waiting is not None:
            await asyncio.sleep(self.retry_backoff)
            self.last_active = time.monotonic()

    async def _apply_batch(self, records: list[ConsumerRecord], consumer: Consumer) -> str | None:
        """Apply, dead-letter, record positions, commit and rewind; why a partition waits, if one does."""
        events: list[Event] = []
        readable: dict[int, int] = {}  # index in records -> index in events
        unreadable: dict[int, BaseException] = {}
        for index, record in enumerate(records):
            try:
                envelope, payload = read_message(record.value)
            except UNREADABLE as error:
                unreadable[index] = error
                continue
            readable[index] = len(events)
            events.append(Event(envelope, payload, Delivery(record.topic, record.partition, record.offset, record.value)))
        outcomes = await self._outcomes(events)

        commits: dict[TopicPartition, int] = {}
        rewinds: dict[TopicPartition, int] = {}
        handled: list[tuple[ConsumerRecord, Event, bool]] = []
        poison: list[tuple[ConsumerRecord, str, BaseException]] = []
        waiting: str | None = None
        for index, record in enumerate(records):
            tp = TopicPartition(record.topic, record.partition)
            if tp in rewinds:
                continue  # the partition waits at an earlier record
            if index in unreadable:
                poison.append((record, "unreadable", unreadable[index]))
                commits[tp] = record.offset + 1
                continue
            event = events[readable[index]]
            outcome = outcomes[readable[index]]
            if isinstance(outcome, bool):
                handled.append((record, event, outcome))
                commits[tp] = record.offset + 1
            elif isinstance(outcome, BaseException) and not asks_to_wait(outcome):
                poison.append((record, self.meters.failure_reason, outcome))
                commits[tp] = record.offset + 1
            else:
                waiting = self._wait_reason(record, outcome)
                rewinds[tp] = record.offset

        # dead letters first: a partition moves past its poison only once the poison is on the dead-letter topic
        for record, reason, error in poison:
            if record.offset >= rewinds.get(_tp(record), record.offset + 1):
                continue  # its partition waits at an earlier poison the dead-letter topic did not take
            try:
                await self.dead_letter(record, reason, error)
            except Exception as failure:  # noqa: BLE001 - Kafka away: the poison and what follows wait
                tp = TopicPartition(record.topic, record.partition)
                waiting = f"dead-letter topic unavailable: {failure}"
                log.warning("%s cannot dead-letter %s[%s]@%s yet: %s", self.group, *_where(record), failure)
                rewinds[tp] = min(rewinds.get(tp, record.offset), record.offset)
        for tp, offset in rewinds.items():  # nothing committed past a record that waits
            if tp in commits:
                commits[tp] = min(commits[tp], offset)
        handled = [item for item in handled if item[0].offset < rewinds.get(_tp(item[0]), item[0].offset + 1)]

        # after the writes, before the commit: a read waiting for these events may answer now
        if self.positions is not None and handled:
            try:
                await self._record_positions([event.envelope for _, event, _ in handled])
            except Exception as error:  # noqa: BLE001 - the store went away after the writes: all of it again
                log.warning("%s waiting for its store (positions): %s", self.group, error)
                for record in records:
                    tp = _tp(record)
                    rewinds[tp] = min(rewinds.get(tp, record.offset), record.offset)
                commits = {}
                handled = []
                waiting = str(error)
        for record, event, applied in handled:
            self._observe(record.topic, record.partition, record.offset, event.envelope, applied, consumer)
        if commits:
            try:
                await consumer.commit(commits)
                kafka_reachable()
            except (CommitFailedError, IllegalStateError) as error:
                # the group rebalanced under this batch: its new owners read from the last commit, and the
                # writes done here are found done again (idempotent)
                log.warning("%s could not commit after a rebalance: %s", self.group, error)
                return waiting
        for tp, offset in rewinds.items():
            consumer.seek(tp, offset)
        return waiting

    async def _outcomes(self, events: list[Event]) -> list[Outcome]:
        """What the handler made of each event, in order: applied or not, the error it raised, None if not tried."""
        if not events:
            return []
        apply_batch = getattr(self.handler, "apply_batch", None)
        if apply_batch is not None:
            try:
                return list(await apply_batch(events))
            except Exception as error:  # noqa: BLE001 - the whole batch failed: each event is classified alike
                return [error] * len(events)
        return await apply_each(self.handler, events)

    async def _record_positions(self, envelopes: list[Envelope]) -> None:
        record_many = getattr(self.positions, "record_many", None)
        if record_many is not None:
            versions: dict[str, int] = {}
            for envelope in envelopes:
                key = str(envelope.aggregate_id)
                versions[key] = max(versions.get(key, 0), envelope.aggregate_version)
            await record_many(versions)
            return
        for envelope in envelopes:
            await self.positions.record(envelope)  # type: ignore[union-attr]

    def _wait_reason(self, record: ConsumerRecord, outcome: Outcome) -> str:
        if isinstance(outcome, NotReady):
            log.info("%s not ready for %s[%s]@%s: %s", self.group, *_where(record), outcome)
            return f"not ready: {outcome}"
        if outcome is None:
            return "not tried: an earlier event of the batch waits"
        log.warning("%s waiting for its store: %s", self.group, outcome)
        return f"store away: {outcome}"

    async def dead_letter(self, record: ConsumerRecord, reason: str, error: BaseException) -> None:
        """Publish the original bytes with the error to the dead-letter topic, then let the partition move on."""
        self.last_active = time.monotonic()
        log.error("dead-lettering %s[%s]@%s: %s", record.topic, record.partition, record.offset, error)
        await self.broker.publish(
            record.value,
            topic=self.dead_letter_topic,
            key=record.key,
            headers={
                "error": f"{type(error).__name__}: {error}"[:4000],
                "reason": reason,
                "consumer_group": self.group,
                "original_topic": record.topic,
                "original_partition": str(record.partition),
                "original_offset": str(record.offset),
                "dead_lettered_at": datetime.now(UTC).isoformat(),
            },
        )
        self.metrics.dead_letters.labels(self.metrics.service, record.topic, reason).inc()

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


class _CommitBeforeRevoke(ConsumerRebalanceListener):
    """Before partitions are given away, the batch being applied finishes and commits what it applied."""

    def __init__(self, consumer: EventConsumer) -> None:
        self.consumer = consumer

    async def on_partitions_revoked(self, revoked: object) -> None:  # noqa: ARG002
        async with self.consumer.applying:
            pass

    async def on_partitions_assigned(self, assigned: object) -> None:
        return None


def _first_offsets(records: Sequence[ConsumerRecord]) -> dict[TopicPartition, int]:
    first: dict[TopicPartition, int] = {}
    for record in records:
        first.setdefault(_tp(record), record.offset)
    return first


def _tp(record: ConsumerRecord) -> TopicPartition:
    return TopicPartition(record.topic, record.partition)


def _where(record: ConsumerRecord) -> tuple[str, int, int]:
    return record.topic, record.partition, record.offset


def asks_to_wait(error: BaseException) -> bool:
    """Whether an error says "try again later" (a store away, not ready), not "this message is bad"."""
    if isinstance(error, (NotReady, *TRANSIENT_ERRORS)):
        return True
    if isinstance(error, PERMANENT_ERRORS):
        return backend_away(error)
    return True  # an unforeseen error: the message waits rather than being dropped


async def apply_each(handler: EventHandler, events: Sequence[Event]) -> list[Outcome]:
    """A handler without a bulk path, event by event in order: a permanent error is that event's alone;
    at an error that says "wait", the rest of the batch is left untried (it is fetched again)."""
    outcomes: list[Outcome] = [None] * len(events)
    for index, event in enumerate(events):
        token = current_delivery.set(event.delivery)
        try:
            outcomes[index] = await handler.apply(event.envelope, event.payload)
        except Exception as error:  # noqa: BLE001 - classified by the consumer
            outcomes[index] = error
            if asks_to_wait(error):
                break
        finally:
            current_delivery.reset(token)
    return outcomes


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
