"""Consumers take batches: a poison message in the middle of a batch goes alone to the dead-letter topic while
the rest of the batch is applied, a rebalance in the middle of a batch loses nothing and applies nothing
twice in effect, and the bulk write keeps the version guard (redelivery and replay change nothing)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer
from pydantic import BaseModel
from pymongo import AsyncMongoClient
from pymongo.errors import AutoReconnect

from contracts import Envelope
from contracts.envelope import event_id_for
from infra.kafka import build_broker, encode, ensure_topics
from infra.metrics import ServiceMetrics
from qcp.demo import DEMO_UNITS
from infra.projection import Delivery, Event, Outcome, ProjectionRunner
from services.registration.adapters.read_model import RegistrationReadModel
from tests.harness import eventually, group_caught_up, isolated_settings, new_namespace, read_topic
from tests.integration.test_projection_runner import registration_envelope as demo_envelope


def registration_envelope(index: int, version: int = 1) -> Envelope:
    """A demo unit's registration (or its amendment), under an aggregate of its own for any index."""
    envelope = demo_envelope(index % len(DEMO_UNITS), version)
    aggregate = uuid.uuid5(uuid.NAMESPACE_URL, f"test-batch-registration-{index}")
    return envelope.model_copy(update={"aggregate_id": aggregate, "event_id": event_id_for(aggregate, version)})


class CountingStore:
    """The real read model; counts the batches and events it is handed, and can take its time over a batch."""

    def __init__(self, inner: RegistrationReadModel, pause: float = 0.0) -> None:
        self.inner = inner
        self.pause = pause
        self.batches: list[int] = []
        self.applying = asyncio.Event()

    async def apply(self, envelope: Envelope, payload: BaseModel) -> bool:
        return await self.inner.apply(envelope, payload)

    async def apply_batch(self, events: Sequence[Event]) -> list[Outcome]:
        self.batches.append(len(events))
        self.applying.set()
        if self.pause:
            await asyncio.sleep(self.pause)
        return await self.inner.apply_batch(events)


class StoreGoneMidBatch:
    """The real read model whose store goes away halfway through the first batch: the first half is written,
    the rest meets a dropped connection."""

    def __init__(self, inner: RegistrationReadModel) -> None:
        self.inner = inner
        self.batches: list[list[int]] = []

    async def apply(self, envelope: Envelope, payload: BaseModel) -> bool:
        return await self.inner.apply(envelope, payload)

    async def apply_batch(self, events: Sequence[Event]) -> list[Outcome]:
        self.batches.append([event.delivery.offset for event in events])
        if len(self.batches) > 1:
            return await self.inner.apply_batch(events)
        half = len(events) // 2
        written = await self.inner.apply_batch(events[:half])
        return [*written, *[AutoReconnect("connection to the read model's store dropped")] * (len(events) - half)]


async def produce(bootstrap: str, topic: str, messages: list[tuple[bytes, bytes]], partition: int | None = None) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20)
    await producer.start()
    try:
        for value, key in messages:
            await producer.send(topic, value, key=key, partition=partition)
        await producer.flush()
    finally:
        await producer.stop()


def message(envelope: Envelope) -> tuple[bytes, bytes]:
    return encode(envelope)[0], str(envelope.aggregate_id).encode()


async def test_the_bulk_write_applies_each_version_once_in_order(stack, tmp_path) -> None:
    settings = isolated_settings(stack, "registration", tmp_path, new_namespace())
    mongo = AsyncMongoClient(settings.mongo_url)
    read_model = RegistrationReadModel(mongo[settings.database_name])
    try:
        one, two = registration_envelope(0), registration_envelope(0, version=2)
        other = registration_envelope(1)

        def events(*envelopes: Envelope) -> list[Event]:
            return [Event(item, _payload(item), Delivery("t", 0, index, b"")) for index, item in enumerate(envelopes)]

        assert await read_model.apply_batch(events(one, two, other)) == [True, True, True]
        # the whole batch again, then a stale version alone: nothing changes
        assert await read_model.apply_batch(events(one, two, other)) == [False, False, False]
        assert await read_model.apply_batch(events(one)) == [False]
        document = await read_model.registrations.find_one({"_id": str(one.aggregate_id)})
        assert (document["_version"], document["_applied_events"], "amended_at" in document) == (2, 2, True)
    finally:
        await mongo.drop_database(settings.database_name)
        await mongo.close()


async def test_a_poison_message_in_the_middle_of_a_batch_goes_alone_to_the_dead_letters(stack, tmp_path) -> None:
    settings = isolated_settings(stack, "registration", tmp_path, new_namespace())
    topic, dead_letters = settings.own_topic, settings.dead_letter_topic
    await ensure_topics(settings, [topic, dead_letters])
    mongo = AsyncMongoClient(settings.mongo_url)
    store = CountingStore(RegistrationReadModel(mongo[settings.database_name]))
    broker = build_broker(settings)
    ProjectionRunner(broker, group=settings.consumer_group, topics=[topic], projection=store,
                     dead_letter_topic=dead_letters, metrics=ServiceMetrics("registration"), retry_backoff=0.2)
    before = [registration_envelope(index) for index in range(5)]
    after = [registration_envelope(index) for index in range(5, 10)]
    poison = json.loads(before[0].model_dump_json())
    poison["payload"]["promoter"]["mobile"] = "12345"
    # one partition, all on the topic before the consumer starts: they come in one fetch
    await produce(settings.kafka_bootstrap, topic,
                  [*map(message, before), (json.dumps(poison).encode(), b"poison"), *map(message, after)], partition=0)
    await broker.start()
    try:
        await eventually(lambda: group_caught_up(settings.kafka_bootstrap, settings.consumer_group, topic), timeout=60)
        applied = await store.inner.registrations.count_documents({})
        dead = await read_topic(settings.kafka_bootstrap, dead_letters, expect=1)
        assert store.batches[0] == 10  # the ten readable events of the batch, handed over together
        assert applied == 10
        assert [record.value for record in dead] == [json.dumps(poison).encode()]
        headers = {key: value.decode() for key, value in dead[0].headers}
        assert (headers["original_offset"], headers["reason"]) == ("5", "unreadable")
        assert "mobile" in headers["error"]
    finally:
        await broker.stop()
        await mongo.drop_database(settings.database_name)
        await mongo.close()


async def test_a_store_gone_mid_batch_rewinds_to_the_first_unapplied_event(stack, tmp_path) -> None:
    settings = isolated_settings(stack, "registration", tmp_path, new_namespace())
    topic, dead_letters = settings.own_topic, settings.dead_letter_topic
    await ensure_topics(settings, [topic, dead_letters])
    mongo = AsyncMongoClient(settings.mongo_url)
    store = StoreGoneMidBatch(RegistrationReadModel(mongo[settings.database_name]))
    broker = build_broker(settings)
    ProjectionRunner(broker, group=settings.consumer_group, topics=[topic], projection=store,
                     dead_letter_topic=dead_letters, metrics=ServiceMetrics("registration"), retry_backoff=0.2)
    await produce(settings.kafka_bootstrap, topic, [message(registration_envelope(index)) for index in range(10)],
                  partition=0)
    await broker.start()
    try:
        await eventually(lambda: group_caught_up(settings.kafka_bootstrap, settings.consumer_group, topic), timeout=60)
        documents = [item async for item in store.inner.registrations.find({})]
        dead = await read_topic(settings.kafka_bootstrap, dead_letters, expect=1, timeout=3)
        assert store.batches[:2] == [list(range(10)), list(range(5, 10))]  # taken again from the first unapplied
        assert sorted(item["_applied_events"] for item in documents) == [1] * 10
        assert dead == []
    finally:
        await broker.stop()
        await mongo.drop_database(settings.database_name)
        await mongo.close()


async def test_a_rebalance_in_the_middle_of_a_batch_loses_nothing_and_applies_each_event_once(stack, tmp_path) -> None:
    settings = isolated_settings(stack, "registration", tmp_path, new_namespace())
    topic, dead_letters = settings.own_topic, settings.dead_letter_topic
    await ensure_topics(settings, [topic, dead_letters])
    mongo = AsyncMongoClient(settings.mongo_url)
    database = mongo[settings.database_name]
    first_store = CountingStore(RegistrationReadModel(database), pause=3.0)
    second_store = CountingStore(RegistrationReadModel(database))
    brokers = [build_broker(settings), build_broker(settings)]
    for broker, store in zip(brokers, (first_store, second_store), strict=True):
        ProjectionRunner(broker, group=settings.consumer_group, topics=[topic], projection=store,
                         dead_letter_topic=dead_letters, metrics=ServiceMetrics("registration"), retry_backoff=0.2)
    # every aggregate gets three versions, spread over the topic's partitions by key
    first_wave = [registration_envelope(index, version) for version in (1, 2) for index in range(30)]
    second_wave = [registration_envelope(index, 3) for index in range(30)]
    await produce(settings.kafka_bootstrap, topic, [message(item) for item in first_wave])
    await brokers[0].start()
    try:
        await asyncio.wait_for(first_store.applying.wait(), timeout=60)
        # the first consumer is in the middle of a batch: a second one joins the group
        await brokers[1].start()
        await produce(settings.kafka_bootstrap, topic, [message(item) for item in second_wave])
        await eventually(lambda: group_caught_up(settings.kafka_bootstrap, settings.consumer_group, topic), timeout=90)
        documents = [item async for item in database["unit_registrations"].find({})]
        assert sorted((item["_version"], item["_applied_events"]) for item in documents) == [(3, 3)] * 30
        assert second_store.batches  # the second consumer took partitions and applied some of the events
        dead = await read_topic(settings.kafka_bootstrap, dead_letters, expect=1, timeout=3)
        assert dead == []
    finally:
        for broker in brokers:
            await broker.stop()
        await mongo.drop_database(settings.database_name)
        await mongo.close()


def _payload(envelope: Envelope) -> BaseModel:
    from contracts import parse_payload

    return parse_payload(envelope.type, envelope.schema_version, envelope.payload)
