"""Projection runner: consume envelopes, apply them idempotently, ack after the write, dead-letter what cannot be handled."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import Protocol

from aiokafka import TopicPartition
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import Consumer, KafkaMessage
from pydantic import BaseModel, ValidationError
from pymongo.errors import ConnectionFailure, PyMongoError

from contracts import ContractError, Envelope, parse_payload
from infra.kafka import decode
from infra.metrics import ServiceMetrics

log = logging.getLogger(__name__)

# Errors that say the infrastructure is away, not that the message is bad: the message
# is not acknowledged, the partition is rewound to it, and it is tried again.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (ConnectionFailure, OSError, TimeoutError)


class Projection(Protocol):
    """A read model: applies one validated event; returns False when it had applied it before."""

    async def apply(self, envelope: Envelope, payload: BaseModel) -> bool: ...


class ProjectionRunner:
    """One consumer group reading some topics into one projection."""

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
    ) -> None:
        self.broker = broker
        self.group = group
        self.topics = topics
        self.projection = projection
        self.dead_letter_topic = dead_letter_topic
        self.metrics = metrics
        self.retry_backoff = retry_backoff
        self.subscriber = broker.subscriber(
            *topics,
            group_id=group,
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.NACK_ON_ERROR,
            decoder=_raw_body,
            max_poll_records=200,
            title=f"{group}:projection",
            description=f"{group} projection of {', '.join(topics)}",
        )
        self.subscriber(self.handle)

    async def handle(self, message: KafkaMessage, consumer: Consumer) -> None:
        raw = message.raw_message
        try:
            envelope = decode(message.body)
            payload = parse_payload(envelope.type, envelope.schema_version, envelope.payload)
        except (ValidationError, ContractError, ValueError) as error:
            await self.dead_letter(message, "unreadable", error)
            return
        try:
            applied = await self.projection.apply(envelope, payload)
        except TRANSIENT_ERRORS as error:
            log.warning("projection %s waiting for its store: %s", self.group, error)
            await asyncio.sleep(self.retry_backoff)
            raise
        except (PyMongoError, ValueError, KeyError, TypeError) as error:
            await self.dead_letter(message, "unprojectable", error)
            return
        self._observe(raw.topic, raw.partition, raw.offset, envelope, applied, consumer)

    async def dead_letter(self, message: KafkaMessage, reason: str, error: BaseException) -> None:
        """Publish the original bytes with the error to the dead-letter topic, then let the partition move on."""
        raw = message.raw_message
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
        service = self.metrics.service
        outcome = "applied" if applied else "duplicate"
        self.metrics.events_applied.labels(service, topic, outcome).inc()
        self.metrics.projection_lag.labels(service, topic).set(
            max(0.0, time.time() - envelope.recorded_at.timestamp())
        )
        highwater = consumer.highwater(TopicPartition(topic, partition))  # type: ignore[attr-defined]
        if highwater is not None:
            self.metrics.consumer_lag.labels(service, topic, str(partition)).set(highwater - offset - 1)


async def _raw_body(message: KafkaMessage) -> bytes:
    # Decoding is the runner's business: a malformed body must reach the handler to be dead-lettered.
    return message.body
