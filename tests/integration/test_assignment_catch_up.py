"""Assignment waits for review's projection of registration.events: `CatchUp` passes only once the
projection's consumer group has committed what was on the topic when the wait began."""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaConsumer

from benchmarks.review_backlog import JudgeSpec, judge_registered, produce
from infra.catch_up import CatchUp
from infra.kafka import ensure_topics
from infra.projection import NotReady
from tests.harness import isolated_settings, new_namespace

SEASON = "310000-2024-qc_group"


async def consume_and_commit(bootstrap: str, group: str, topic: str, count: int) -> None:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=group, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    try:
        seen = 0
        while seen < count:
            batch = await consumer.getmany(timeout_ms=1000)
            seen += sum(len(items) for items in batch.values())
        await consumer.commit()
    finally:
        await consumer.stop()


async def test_the_wait_ends_when_the_projection_group_has_consumed_the_topic(stack, tmp_path) -> None:
    settings = isolated_settings(stack, "review", tmp_path, new_namespace())
    topic, group = settings.topic("registration.events"), settings.consumer_group
    await ensure_topics(settings, [topic])
    judges = [judge_registered(SEASON, index, JudgeSpec(f"j{index}", f"评审中心{index}")) for index in range(3)]
    await produce(settings.kafka_bootstrap, topic, judges)
    catch_up = CatchUp(settings.kafka_bootstrap, group, [topic], fresh_for=0.0, poll_interval=0.1)
    try:
        with pytest.raises(NotReady, match="behind"):
            await catch_up.wait(timeout=0.5)
        await consume_and_commit(settings.kafka_bootstrap, group, topic, 3)
        await catch_up.wait(timeout=5)

        await produce(settings.kafka_bootstrap, topic, [judge_registered(SEASON, 9, JudgeSpec("j9", "评审中心9"))])
        with pytest.raises(NotReady):
            await catch_up.wait(timeout=0.5)
        await consume_and_commit(settings.kafka_bootstrap, group, topic, 1)
        await catch_up.wait(timeout=5)
    finally:
        await catch_up.close()
