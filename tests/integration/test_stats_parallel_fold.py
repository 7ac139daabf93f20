"""A rebuild's fold in shares of the partitions, in processes of their own, gives the same state as one process.

Two seasons' envelopes on a fresh namespace's topics (4 partitions each); the rebuild reads them once in
this process and once split over three processes (two forked children); the records, the
counts and every report are the same, and the shares' records arrive packed for the fresh generation;
written while the others fold, they are exactly the generation's records.
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
from services.stats.rebuild import RebuildSettings, Rebuilder
from services.stats.domain.reports import reports_for
from services.stats.entrypoints.messaging import CONSUMED_TOPICS
from tests.harness import isolated_settings, new_namespace


async def _ignore(_: dict) -> None:
    return None


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

    alone, shared = folds[1].folder, folds[3].folder
    assert alone.counts.read == shared.counts.read == produced
    assert alone.counts.__dict__ == shared.counts.__dict__
    assert alone.state.records == shared.state.records
    assert differences(reports_for(alone.state.seasons), reports_for(shared.state.seasons)) == []
    assert folds[1].packed_parts == [] and len(folds[3].packed_parts) == 3


async def test_the_shares_records_written_while_folding_are_the_generations_records(stack, tmp_path) -> None:
    settings, topics, _ = await _seasons_on_topics(stack, tmp_path, SeasonPlan(3))
    mongo = build_client(settings)
    store = StatsStore(mongo[settings.database_name])
    try:
        rebuilder = Rebuilder(store, _rebuild_settings(settings, topics, 2))
        async with TopicReader(settings.kafka_bootstrap, topics) as reader:
            fold = await rebuilder.read_all(reader, _ignore, generation="gtest")
        assert fold.writing is not None
        await rebuilder.write("gtest", fold, with_reports=True)
        stored = await store.load_records("gtest")
        assert sorted(stored, key=lambda record: record["_id"]) == sorted(fold.folder.state.records.values(),
                                                                          key=lambda record: record["_id"])
    finally:
        await store.drop_generation("gtest")
        await mongo.close()
