"""Kafka wiring: the broker factory, topics with infinite retention, and envelope encoding."""

from __future__ import annotations

import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from faststream.kafka import KafkaBroker

from pydantic import BaseModel, ValidationError

from contracts import ContractError, Envelope, parse_payload
from infra.kafka_security import kafka_security
from infra.settings import ServiceSettings

log = logging.getLogger(__name__)

EVENT_TOPICS = ("registration.events", "submission.events", "review.events")
CONTENT_TYPE = "application/json"


def build_broker(settings: ServiceSettings) -> KafkaBroker:
    """One broker per worker: the idempotent producer with acks=all, as the outbox requires."""
    return KafkaBroker(
        settings.kafka_bootstrap,
        client_id=f"qcp-{settings.service}",
        enable_idempotence=True,
        acks="all",
        request_timeout_ms=15_000,
        security=kafka_security(settings).broker_security(),
        logger=logging.getLogger(f"qcp.{settings.service}.kafka"),
        # FastStream's "Received" / "Processed" line for every message: debug only
        log_level=logging.DEBUG,
    )


def encode(envelope: Envelope) -> tuple[bytes, bytes, dict[str, str]]:
    """Value, key and headers of an envelope on its topic; the key orders one aggregate's events."""
    value = envelope.model_dump_json().encode()
    key = str(envelope.aggregate_id).encode()
    headers = {
        "content-type": CONTENT_TYPE,
        "event_id": str(envelope.event_id),
        "type": envelope.type,
        "schema_version": str(envelope.schema_version),
    }
    return value, key, headers


def decode(value: bytes) -> Envelope:
    return Envelope.model_validate_json(value)


# What makes a message unreadable: not an envelope, an unknown type or version, an invalid payload.
UNREADABLE: tuple[type[Exception], ...] = (ValidationError, ContractError, ValueError)


def read_message(value: bytes) -> tuple[Envelope, BaseModel]:
    """A message's envelope and its validated (upcast) payload; one of UNREADABLE if it cannot be read.

    Every consumer reads messages this way, so a rebuild accepts exactly what the live consumers accepted."""
    envelope = decode(value)
    return envelope, parse_payload(envelope.type, envelope.schema_version, envelope.payload)


async def ensure_topics(settings: ServiceSettings, topics: list[str], replication_factor: int = 1) -> None:
    """Create missing topics with infinite retention: the log is what stats rebuilds from."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap, request_timeout_ms=10_000, **kafka_security(settings).client_kwargs()
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(
                name,
                num_partitions=settings.topic_partitions,
                replication_factor=replication_factor,
                topic_configs={"retention.ms": "-1", "retention.bytes": "-1"},
            )
            for name in topics
            if name not in existing
        ]
        if missing:
            try:
                await admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass
            log.info("created topics %s", [topic.name for topic in missing])
    finally:
        await admin.close()


def document_publisher(broker: KafkaBroker, topic: str, service: str) -> None:
    """Declare the service's topic on its broker for the AsyncAPI document.

    The relay publishes through a producer of its own (infra.relay_producer), which it can
    replace without touching the consumers that share this broker."""
    broker.publisher(
        topic,
        title=f"{topic}:publish",
        description=f"Domain events stored by the {service} service, keyed by aggregate id",
        schema=Envelope,
    )
