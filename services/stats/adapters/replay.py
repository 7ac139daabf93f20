"""Reading topics from offset 0 for a rebuild: a raw aiokafka consumer with manually assigned partitions,
large fetches, no consumer group and no commits; and the positions the live consumer group committed."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from infra.kafka_security import PLAINTEXT, KafkaSecurity

Positions = dict[TopicPartition, int]

FETCH_SETTINGS = {
    "fetch_max_bytes": 64 * 1024 * 1024,
    "max_partition_fetch_bytes": 16 * 1024 * 1024,
    "fetch_min_bytes": 1,
    "fetch_max_wait_ms": 100,
}
BATCH_RECORDS = 20_000


@dataclass
class TopicReader:
    """Every message of some topics, from given positions up to given end offsets."""

    bootstrap: str
    topics: list[str]
    consumer: AIOKafkaConsumer | None = None
    partitions: list[TopicPartition] | None = None
    security: KafkaSecurity = PLAINTEXT

    async def __aenter__(self) -> TopicReader:
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False, auto_offset_reset="earliest",
            **FETCH_SETTINGS, **self.security.client_kwargs(),
        )
        await self.consumer.start()
        partitions = []
        for topic in self.topics:
            for partition in sorted(await self._partitions_of(topic)):
                partitions.append(TopicPartition(topic, partition))
        self.partitions = partitions
        if partitions:
            self.consumer.assign(partitions)
        return self

    async def _partitions_of(self, topic: str) -> set[int]:
        assert self.consumer is not None
        known = self.consumer.partitions_for_topic(topic)
        if not known:
            await self.consumer._client.force_metadata_update()  # noqa: SLF001 - a topic created moments ago
            known = self.consumer.partitions_for_topic(topic)
        return set(known or ())

    async def __aexit__(self, *_: object) -> None:
        if self.consumer is not None:
            with contextlib.suppress(Exception):
                await self.consumer.stop()

    async def end_offsets(self) -> Positions:
        assert self.consumer is not None and self.partitions is not None
        return await self.consumer.end_offsets(self.partitions) if self.partitions else {}

    async def begin_offsets(self) -> Positions:
        assert self.consumer is not None and self.partitions is not None
        return await self.consumer.beginning_offsets(self.partitions) if self.partitions else {}

    async def read(self, start: Positions, end: Positions) -> AsyncIterator[list[ConsumerRecord]]:
        """Batches of messages from `start` (inclusive) to `end` (exclusive) per partition."""
        assert self.consumer is not None
        pending = {tp for tp in end if start.get(tp, 0) < end[tp]}
        if not pending:
            return  # nothing to read; an empty assignment is never made (aiokafka may then wait on stop)
        # a new assignment: earlier pauses are forgotten, every partition starts where asked
        self.consumer.assign(sorted(pending, key=lambda tp: (tp.topic, tp.partition)))
        for tp in pending:
            self.consumer.seek(tp, start.get(tp, 0))
        while pending:
            fetched = await self.consumer.getmany(timeout_ms=500, max_records=BATCH_RECORDS)
            for tp, messages in fetched.items():
                if tp not in pending:
                    continue
                limit = end[tp]
                inside = [message for message in messages if message.offset < limit]
                if inside:
                    yield inside
                if messages and messages[-1].offset + 1 >= limit:
                    pending.discard(tp)
                    self.consumer.pause(tp)
            for tp in list(pending):
                if await self.consumer.position(tp) >= end[tp]:
                    pending.discard(tp)


async def committed_offsets(bootstrap: str, group: str, partitions: list[TopicPartition], *,
                            security: KafkaSecurity = PLAINTEXT) -> Positions:
    """Where the live consumer group has committed (0 where it has not): it applied everything before."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **security.client_kwargs())
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(group, partitions=partitions)
    finally:
        await admin.close()
    return {tp: (committed[tp].offset if tp in committed and committed[tp].offset >= 0 else 0) for tp in partitions}
