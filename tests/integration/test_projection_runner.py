"""The projection runner applies each event once, acknowledges after the write, retries when its
store is away, and sends what it cannot handle to the dead-letter topic without stopping the partition."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer
from pydantic import BaseModel
from pymongo import AsyncMongoClient
from pymongo.errors import AutoReconnect

from contracts import Envelope
from contracts.envelope import event_id_for
from infra.kafka import build_broker, encode, ensure_topics
from infra.metrics import ServiceMetrics
from infra.projection import ProjectionRunner
from qcp.demo import demo_registration
from services.registration.adapters.read_model import RegistrationReadModel
from tests.harness import eventually, isolated_settings, new_namespace, read_topic


def registration_envelope(index: int, version: int = 1) -> Envelope:
    payload = demo_registration(index) | {"season_id": "310000-2026-qc_group"}
    aggregate = uuid.uuid5(uuid.NAMESPACE_URL, f"test-registration-{index}")
    now = datetime.now(UTC)
    return Envelope(
        event_id=event_id_for(aggregate, version), type="UnitRegistered" if version == 1 else "UnitRegistrationAmended",
        schema_version=2 if version == 1 else 1, aggregate_id=aggregate, aggregate_version=version,
        season_id="310000-2026-qc_group", organizer="310000", occurred_at=now, recorded_at=now,
        actor={"id": "staff-1", "role": "organizer", "org": "310000"}, channel="organizer", source={},
        trace_id="trace", payload=payload,
    )


class FlakyStore:
    """The real read model behind a store connection that drops the first write."""

    def __init__(self, inner: RegistrationReadModel) -> None:
        self.inner = inner
        self.failures_left = 1

    async def apply(self, envelope: Envelope, payload: BaseModel) -> bool:
        if self.failures_left:
            self.failures_left -= 1
            raise AutoReconnect("connection to the read model's store dropped")
        return await self.inner.apply(envelope, payload)


async def test_duplicates_skip_poison_goes_to_dead_letters_and_the_partition_keeps_flowing(stack, tmp_path) -> None:
    settings = isolated_settings(stack, "registration", tmp_path, new_namespace())
    topic, dead_letters = settings.own_topic, settings.dead_letter_topic
    await ensure_topics(settings, [topic, dead_letters])
    mongo = AsyncMongoClient(settings.mongo_url)
    read_model = RegistrationReadModel(mongo[settings.database_name])
    metrics = ServiceMetrics("registration")
    broker = build_broker(settings)
    ProjectionRunner(
        broker, group=settings.consumer_group, topics=[topic], projection=FlakyStore(read_model),
        dead_letter_topic=dead_letters, metrics=metrics, retry_backoff=0.2,
    )
    first, amended, last = registration_envelope(0), registration_envelope(0, version=2), registration_envelope(1)
    unknown_type = json.loads(first.model_dump_json()) | {"type": "UnitTeleported"}
    bad_payload = json.loads(first.model_dump_json())
    bad_payload["payload"]["promoter"]["mobile"] = "12345"
    same_key = str(first.aggregate_id).encode()
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for value in [
            encode(first)[0],
            encode(first)[0],  # redelivered
            b"\xff not json at all",
            json.dumps(unknown_type).encode(),
            json.dumps(bad_payload).encode(),
            encode(amended)[0],
            encode(first)[0],  # a stale replay after a newer version
        ]:
            await producer.send_and_wait(topic, value, key=same_key, partition=0)
        await producer.send_and_wait(topic, encode(last)[0], key=str(last.aggregate_id).encode(), partition=0)
    finally:
        await producer.stop()

    await broker.start()
    try:
        registrations = read_model.registrations
        await eventually(lambda: registrations.find_one({"_id": str(last.aggregate_id)}), timeout=60)
        document = await registrations.find_one({"_id": str(first.aggregate_id)})
        assert (document["_version"], document["_applied_events"]) == (2, 2)
        assert "amended_at" in document
        dead = await read_topic(settings.kafka_bootstrap, dead_letters, expect=3)
        assert len(dead) == 3
        headers = [{key: value.decode() for key, value in record.headers} for record in dead]
        assert [item["original_offset"] for item in headers] == ["2", "3", "4"]
        assert headers[0]["reason"] == "unreadable" and "JSON" in headers[0]["error"]
        assert "unknown event type" in headers[1]["error"]
        assert "mobile" in headers[2]["error"]
        assert dead[0].value == b"\xff not json at all"
        counted = {
            outcome: metrics.registry.get_sample_value(
                "qcp_projection_events_total", {"service": "registration", "topic": topic, "outcome": outcome}
            )
            for outcome in ("applied", "duplicate")
        }
        assert counted == {"applied": 3.0, "duplicate": 2.0}
        assert metrics.registry.get_sample_value(
            "qcp_dead_letters_total", {"service": "registration", "topic": topic, "reason": "unreadable"}
        ) == 3.0
    finally:
        await broker.stop()
        await mongo.close()
