"""The relay's own Kafka producer: idempotent, acks=all, and replaced when it can no longer send."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, OutOfOrderSequenceNumber, ProducerClosed, ProducerFenced, UnknownProducerId

from contracts import Envelope
from infra.kafka import encode
from infra.kafka_security import PLAINTEXT, KafkaSecurity

log = logging.getLogger(__name__)

# After these the producer never sends again (aiokafka stops its sender for good), so only a
# new producer, with a new producer id and fresh sequence numbers, gets events out.
FATAL_PRODUCER_ERRORS: tuple[type[Exception], ...] = (
    OutOfOrderSequenceNumber,
    ProducerFenced,
    ProducerClosed,
    UnknownProducerId,
)

ProducerFactory = Callable[[], AIOKafkaProducer]


def idempotent_producer_factory(bootstrap: str, client_id: str, *, security: KafkaSecurity = PLAINTEXT) -> ProducerFactory:
    def build() -> AIOKafkaProducer:
        return AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            client_id=client_id,
            enable_idempotence=True,
            acks="all",
            request_timeout_ms=15_000,
            **security.client_kwargs(),
        )

    return build


def needs_new_producer(error: BaseException) -> bool:
    """True for errors a retry with the same producer cannot cure.

    aiokafka marks its own timeouts as not retriable too; a new producer costs little and starts
    with sequence numbers the broker has not seen, which is what a restarted broker needs."""
    if isinstance(error, FATAL_PRODUCER_ERRORS):
        return True
    return isinstance(error, KafkaError) and not error.retriable


class RelayProducer:
    """Sends a batch of envelopes and settles every send of it before answering.

    A batch is sent again only from the relay's recorded position, so no send of an earlier try
    may still be queued in the producer then: that is how an idempotent producer's sequence gets
    a gap it never recovers from."""

    def __init__(self, factory: ProducerFactory, *, stop_timeout: float = 10.0) -> None:
        self.factory = factory
        self.stop_timeout = stop_timeout
        self.replacements = 0
        self._producer: AIOKafkaProducer | None = None

    async def publish(self, topic: str, envelopes: list[Envelope]) -> None:
        producer = await self._started()
        pending: list[asyncio.Future] = []
        try:
            for envelope in envelopes:
                value, key, headers = encode(envelope)
                pending.append(
                    await producer.send(topic, value, key=key, headers=[(k, v.encode()) for k, v in headers.items()])
                )
        finally:
            outcomes = await asyncio.gather(*pending, return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    async def replace(self, reason: str) -> None:
        """Drop the current producer; the next publish starts a new one."""
        log.warning("relay producer replaced: %s", reason)
        self.replacements += 1
        await self.close()

    async def close(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            # A dead sender cannot flush, and a live one must not hold the relay for long.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(producer.stop(), timeout=self.stop_timeout)

    async def _started(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = self.factory()
            try:
                await producer.start()
            except BaseException:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(producer.stop(), timeout=self.stop_timeout)
                raise
            self._producer = producer
        return self._producer
