"""A rebuild's fold in shares of the partitions, in processes of their own, gives the same state as one process.

Two seasons' envelopes on a fresh namespace's topics (4 partitions each); the rebuild reads them once in
this process and once split over three processes (two forked children); the records, the
counts and every report are the same, and the shares' records arrive packed for the fresh generation.
"""

from __future__ import annotations

import json

from aiokafka import AIOKafkaProducer

from benchmarks.stats_events import SeasonPlan, season_events
from infra.kafka import ensure_topics
from services.stats.adapters.replay import TopicReader
from services.stats.application import RebuildSettings, Rebuilder, differences
from services.stats.domain.reports import reports_for
from services.stats.entrypoints.messaging import CONSUMED_TOPICS
from tests.harness import isolated_settings, new_namespace


async def _ignore(_: dict) -> None:
    return None


async def test_a_fold_split_over_processes_equals_the_fold_in_one(stack, tmp_path) -> None:
    settings = isolated_settings(stack, "stats", tmp_path, new_namespace(), topic_partitions=4)
    topics = [settings.topic(name) for name in CONSUMED_TOPICS]
    await ensure_topics(settings, topics)
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, linger_ms=5)
    await producer.start()
    produced = 0
    try:
        for plan in (SeasonPlan(1), SeasonPlan(2, organizer="370000")):
            for topic, envelope in season_events(plan):
                await producer.send(settings.topic(topic), json.dumps(envelope).encode(),
                                    key=envelope["aggregate_id"].encode(), headers=[("type", envelope["type"].encode())])
                produced += 1
        await producer.flush()
    finally:
        await producer.stop()

    folds = {}
    for processes in (1, 3):
        rebuilder = Rebuilder(None, RebuildSettings(settings.kafka_bootstrap, topics, settings.consumer_group,  # type: ignore[arg-type]
                                                    settings.dead_letter_topic, fold_processes=processes,
                                                    parallel_from_events=0))
        async with TopicReader(settings.kafka_bootstrap, topics) as reader:
            folds[processes] = await rebuilder.read_all(reader, _ignore)

    alone, shared = folds[1].folder, folds[3].folder
    assert alone.counts.read == shared.counts.read == produced
    assert alone.counts.__dict__ == shared.counts.__dict__
    assert alone.state.records == shared.state.records
    assert differences(reports_for(alone.state.seasons), reports_for(shared.state.seasons)) == []
    assert folds[1].packed_parts == [] and len(folds[3].packed_parts) == 3
