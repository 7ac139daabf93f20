"""A rebuild's fold in shares of the partitions, in processes of their own, gives the same state as one process.

Two seasons' envelopes on a fresh namespace's topics (4 partitions each); the rebuild reads them once in
this process and once split over three processes (two forked children), and once in small groups of
partitions; the records, the counts and every report are the same; the records, packed by season and written
while the fold goes on, are exactly the generation's records.
"""

from __future__ import annotations

import json

from aiokafka import AIOKafkaProducer

from benchmarks.stats_events import SeasonPlan, season_events
from infra.kafka import ensure_topics
from infra.mongo import build_client
from infra.settings import ServiceSettings
from services.stats.adapters.replay import TopicReader
from services.stats.adapters.store import StatsStore
from services.stats.domain.comparison import differences
from services.stats.domain.records import StatsState
from services.stats.rebuild import RebuildSettings, Rebuilder
from services.stats.domain.reports import reports_for
from services.stats.entrypoints.messaging import CONSUMED_TOPICS
from tests.harness import isolated_settings, new_namespace


async def _ignore(_: dict) -> None:
    return None


def _by_id(records) -> dict:
    return {record["_id"]: record for record in records}


def _rebuild_settings(settings: ServiceSettings, topics: list[str], processes: int) -> RebuildSettings:
    return RebuildSettings(settings.kafka_bootstrap, topics, settings.consumer_group, settings.dead_letter_topic,
                           fold_processes=processes, parallel_from_events=0)


async def _seasons_on_topics(stack, tmp_path, *plans: SeasonPlan) -> tuple[ServiceSettings, list[str], int]:
    """A fresh namespace whose topics (4 partitions each) hold the seasons' envelopes; how many."""
    settings = isolated_settings(stack, "stats", tmp_path, new_namespace(), topic_partitions=4)
    topics = [settings.topic(name) for name in CONSUMED_TOPICS]
    await ensure_topics(settings, topics)
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, linger_ms=5)
    await producer.start()
    produced = 0
    try:
        for plan in plans:
            for topic, envelope in season_events(plan):
                await producer.send(settings.topic(topic), json.dumps(envelope).encode(),
                                    key=envelope["aggregate_id"].encode(), headers=[("type", envelope["type"].encode())])
                produced += 1
        await producer.flush()
    finally:
        await producer.stop()
    return settings, topics, produced


async def test_a_fold_split_over_processes_equals_the_fold_in_one(stack, tmp_path) -> None:
    settings, topics, produced = await _seasons_on_topics(stack, tmp_path, SeasonPlan(1), SeasonPlan(2, organizer="370000"))
    folds = {}
    for processes in (1, 3):
        rebuilder = Rebuilder(None, _rebuild_settings(settings, topics, processes))  # type: ignore[arg-type]
        async with TopicReader(settings.kafka_bootstrap, topics) as reader:
            folds[processes] = await rebuilder.read_all(reader, _ignore)

    alone, shared = folds[1], folds[3]
    assert alone.counts.read == shared.counts.read == produced
    assert alone.counts.__dict__ == shared.counts.__dict__
    alone_state, shared_state = (StatsState.of(fold.packed.all_records()) for fold in (alone, shared))
    assert alone_state.records == shared_state.records
    assert differences(reports_for(alone_state.seasons), reports_for(shared_state.seasons)) == []


async def test_a_fold_in_small_groups_of_partitions_equals_the_fold_in_one_group(stack, tmp_path) -> None:
    """Each group's records are packed by season before the next group is folded: none is lost or doubled."""
    settings, topics, produced = await _seasons_on_topics(stack, tmp_path, SeasonPlan(4), SeasonPlan(5, organizer="370000"))
    folds = {}
    for group_events in (produced, 50):
        rebuild_settings = _rebuild_settings(settings, topics, 1)
        rebuild_settings.group_events = group_events
        async with TopicReader(settings.kafka_bootstrap, topics) as reader:
            folds[group_events] = await Rebuilder(None, rebuild_settings).read_all(reader, _ignore)  # type: ignore[arg-type]
    whole, grouped = folds[produced].packed, folds[50].packed
    assert len({chunk.partitions for chunk in grouped.chunks}) > len({chunk.partitions for chunk in whole.chunks})
    assert grouped.records == whole.records
    for season_id in whole.season_ids():
        assert _by_id(grouped.season(season_id)) == _by_id(whole.season(season_id))
    assert grouped.season_ids() == whole.season_ids()


async def test_the_records_written_while_folding_are_the_generations_records(stack, tmp_path) -> None:
    settings, topics, _ = await _seasons_on_topics(stack, tmp_path, SeasonPlan(3))
    mongo = build_client(settings)
    store = StatsStore(mongo[settings.database_name])
    try:
        rebuilder = Rebuilder(store, _rebuild_settings(settings, topics, 2))
        async with TopicReader(settings.kafka_bootstrap, topics) as reader:
            fold = await rebuilder.read_all(reader, _ignore, generation="gtest")
        assert fold.writing is not None
        assert await rebuilder.write("gtest", fold) == fold.packed.records
        stored = await store.load_records("gtest")
        assert sorted(stored, key=lambda record: record["_id"]) == sorted(fold.packed.all_records(),
                                                                          key=lambda record: record["_id"])
    finally:
        await store.drop_generation("gtest")
        await mongo.close()
