"""Stats takes batches: a batch rewrites only the report documents it changed (another season's are left alone),
a poison message in the middle of a batch goes alone to stats.dlq while the rest of the batch reaches the
reports, an event the reducer cannot fold is that event's error alone, and a store gone mid-batch leaves the
state as it was so that the batch is taken again."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest_asyncio
from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import AutoReconnect

from benchmarks.stats_events import SeasonPlan, season_events
from contracts import Envelope, parse_payload
from contracts.envelope import event_id_for
from infra.bootstrap import build_worker
from infra.kafka import encode, ensure_topics
from infra.projection import Delivery, Event
from infra.settings import ServiceSettings
from qcp.services import definition
from services.stats.adapters.store import WRITTEN_AT, StatsStore, reports_collection
from services.stats.domain.records import Header, StatsState
from services.stats.domain.reports import reports_for
from services.stats.entrypoints.messaging import CONSUMED_TOPICS
from services.stats.live import LiveStats
from tests.harness import eventually, group_caught_up, isolated_settings, new_namespace, read_topic

SEASON_A = SeasonPlan(season_no=21, recommenders=2, units_per_recommender=2, entries_per_unit=1, judges=5)
SEASON_B = SeasonPlan(season_no=22, organizer="370000", recommenders=2, units_per_recommender=2, entries_per_unit=1,
                      judges=5)


@dataclass
class RunningWorker:
    settings: ServiceSettings
    database: AsyncDatabase
    producer: AIOKafkaProducer

    async def publish(self, topic: str, envelope: dict[str, Any] | bytes, partition: int | None = None) -> None:
        if isinstance(envelope, bytes):
            value, key = envelope, b"poison"
        else:
            value, key, _ = encode(Envelope.model_validate(envelope))
        await self.producer.send_and_wait(self.settings.topic(topic), value, key=key, partition=partition)

    async def caught_up(self) -> None:
        async def everywhere() -> bool:
            for topic in CONSUMED_TOPICS:
                if not await group_caught_up(self.settings.kafka_bootstrap, self.settings.consumer_group,
                                             self.settings.topic(topic)):
                    return False
            return True

        await eventually(everywhere, timeout=90)

    async def written_at(self, prefix: str) -> dict[str, Any]:
        """When each report document whose key starts with `prefix` was last written."""
        generation = await StatsStore(self.database).active_generation()
        cursor = self.database[reports_collection(generation)].find({"_id": {"$regex": f"^{prefix}"}})
        return {document["_id"]: document[WRITTEN_AT] async for document in cursor}


async def run_worker(stack, tmp_path, before_start: list[tuple[str, dict[str, Any] | bytes]]  # noqa: ANN001
                     ) -> AsyncIterator[RunningWorker]:
    """A stats worker started after these messages are on partition 0 of their topics (so that they come in few
    batches); yields once it has committed them all."""
    settings = isolated_settings(stack, "stats", tmp_path, new_namespace())
    await ensure_topics(settings, [settings.topic(name) for name in CONSUMED_TOPICS] + [settings.dead_letter_topic])
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, linger_ms=5)
    await producer.start()
    mongo = AsyncMongoClient(settings.mongo_url, tz_aware=True)
    running = RunningWorker(settings, mongo[settings.database_name], producer)
    for topic, envelope in before_start:
        await running.publish(topic, envelope, partition=0)
    stop = asyncio.Event()
    worker = asyncio.create_task(build_worker(definition("stats"), settings).run(stop))
    try:
        await running.caught_up()
        yield running
    finally:
        stop.set()
        await worker
        await producer.stop()
        await mongo.drop_database(settings.database_name)
        await mongo.close()


@pytest_asyncio.fixture(loop_scope="session")
async def two_seasons(stack, tmp_path) -> AsyncIterator[RunningWorker]:
    async for running in run_worker(stack, tmp_path, [*season_events(SEASON_A), *season_events(SEASON_B)]):
        yield running


def another_unit(plan: SeasonPlan) -> tuple[str, dict[str, Any]]:
    """One more unit registered in the season: a new aggregate with a registration of the plan's."""
    topic, envelope = next((topic, item) for topic, item in season_events(plan) if item["type"] == "UnitRegistered")
    aggregate = uuid.uuid4()
    return topic, envelope | {"aggregate_id": str(aggregate), "event_id": str(event_id_for(aggregate, 1))}


async def test_a_batch_of_one_season_rewrites_none_of_another_seasons_reports(two_seasons: RunningWorker) -> None:
    season_b = await two_seasons.written_at(f"season/{SEASON_B.season_id}/")
    season_a = await two_seasons.written_at(f"season/{SEASON_A.season_id}/")
    overview_a = f"season/{SEASON_A.season_id}/overview"

    await two_seasons.publish(*another_unit(SEASON_A))

    async def overview_a_rewritten() -> bool:
        return (await two_seasons.written_at(overview_a))[overview_a] != season_a[overview_a]

    await eventually(overview_a_rewritten, timeout=60)
    await two_seasons.caught_up()
    rewritten_a = {key for key, when in (await two_seasons.written_at(f"season/{SEASON_A.season_id}/")).items()
                   if when != season_a.get(key)}
    assert season_b and await two_seasons.written_at(f"season/{SEASON_B.season_id}/") == season_b
    # within the season too, only what the registration changed: the judges' workload is left alone
    assert overview_a in rewritten_a and f"season/{SEASON_A.season_id}/judge-workload" not in rewritten_a


POISON = {"not": "an envelope"}


@pytest_asyncio.fixture(loop_scope="session")
async def poisoned(stack, tmp_path) -> AsyncIterator[tuple[RunningWorker, list[dict[str, Any]]]]:
    events = list(season_events(SEASON_A))
    middle = len(events) // 2
    messages: list[tuple[str, dict[str, Any] | bytes]] = [
        *events[:middle], ("registration.events", json.dumps(POISON).encode()), *events[middle:]]
    async for running in run_worker(stack, tmp_path, messages):
        yield running, [envelope for _, envelope in events]


async def test_a_poison_message_in_the_middle_of_a_batch_goes_alone_to_the_dead_letters(poisoned) -> None:  # noqa: ANN001
    running, _ = poisoned

    dead = await read_topic(running.settings.kafka_bootstrap, running.settings.dead_letter_topic, expect=1)

    assert [(json.loads(record.value), dict(record.headers)["reason"]) for record in dead] == [(POISON, b"unreadable")]


async def test_the_rest_of_the_poisoned_batch_reaches_the_reports(poisoned) -> None:  # noqa: ANN001
    running, envelopes = poisoned
    state = StatsState()
    for envelope in envelopes:
        state.apply(Header.of(envelope), envelope["payload"])
    expected = json.loads(json.dumps(reports_for(state.seasons)))
    store = StatsStore(running.database)

    stored = {key: await store.report(key) for key in expected}

    assert stored == expected


def event(envelope: dict[str, Any], offset: int) -> Event:
    parsed = Envelope.model_validate(envelope)
    return Event(parsed, parse_payload(parsed.type, parsed.schema_version, parsed.payload),
                 Delivery("registration.events", 0, offset, b""))


@pytest_asyncio.fixture(loop_scope="session")
async def live(stack, tmp_path) -> AsyncIterator[LiveStats]:
    settings = isolated_settings(stack, "stats", tmp_path, new_namespace())
    mongo = AsyncMongoClient(settings.mongo_url, tz_aware=True)
    stats = LiveStats(StatsStore(mongo[settings.database_name]))
    await stats.start()
    try:
        yield stats
    finally:
        await mongo.drop_database(settings.database_name)
        await mongo.close()


async def test_an_event_the_reducer_cannot_fold_is_its_own_error_and_the_rest_is_applied(live: LiveStats) -> None:
    season_opened, recommender, other_recommender = [envelope for _, envelope in season_events(SEASON_A)][:3]
    registered = event(recommender, 1)
    # readable, but its payload lacks what the reducer needs (a quota raised for no recommending unit)
    broken = Event(registered.envelope.model_copy(update={
        "type": "RecommenderQuotaRaised", "schema_version": 1, "aggregate_version": 2,
        "payload": {"season_id": SEASON_A.season_id}}), registered.payload, Delivery("registration.events", 0, 2, b""))

    outcomes = await live.apply_batch([event(season_opened, 0), registered, broken, event(other_recommender, 3)])

    assert ([type(item).__name__ if isinstance(item, BaseException) else item for item in outcomes],
            live.state.records[recommender["aggregate_id"]]["v"]) == ([True, True, "KeyError", True], 1)


class StoreGoneOnce(StatsStore):
    """The real store, whose first bulk write of records meets a dropped connection."""

    def __init__(self, database: AsyncDatabase) -> None:
        super().__init__(database)
        self.failed = False

    async def save_records(self, generation, records, outcomes) -> None:  # noqa: ANN001
        if not self.failed:
            self.failed = True
            raise AutoReconnect("connection to the stats store dropped")
        await super().save_records(generation, records, outcomes)


async def test_a_store_gone_mid_batch_changes_no_state_and_the_batch_applies_when_taken_again(live: LiveStats) -> None:
    live.store = StoreGoneOnce(live.store.database)
    batch = [event(envelope, offset) for offset, (_, envelope) in enumerate(season_events(SEASON_A)) if offset < 5]

    first = await live.apply_batch(batch)
    records_after_failure = dict(live.state.records)
    again = await live.apply_batch(batch)

    assert ([type(item).__name__ for item in first], records_after_failure, again) == (
        ["AutoReconnect"] * 5, {}, [True] * 5)
