"""Waiting for another consumer group to catch up: a process manager acts on a read model only once the
projection feeding it has consumed what was on its topics when the process manager looked.

Example: review assigns judges from its projection of `registration.events`. When a backlog is
consumed from scratch (a new deployment, a replay), the assignment must not run before the
judges are projected, or it would find none.
"""

from __future__ import annotations

import asyncio
import logging
import time

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from infra.kafka_security import PLAINTEXT, KafkaSecurity
from infra.projection import NotReady

log = logging.getLogger(__name__)


class CatchUp:
    """`wait()` returns once `group` has committed, on every partition of `topics`, at least the end
    offsets read when the wait began; an answer is trusted for `fresh_for` seconds."""

    def __init__(
        self,
        bootstrap: str,
        group: str,
        topics: list[str],
        *,
        fresh_for: float = 1.0,
        poll_interval: float = 0.2,
        security: KafkaSecurity = PLAINTEXT,
    ) -> None:
        self.bootstrap = bootstrap
        self.security = security
        self.group = group
        self.topics = topics
        self.fresh_for = fresh_for
        self.poll_interval = poll_interval
        self.caught_up_at: float | None = None
        self._admin: AIOKafkaAdminClient | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._lock = asyncio.Lock()

    async def wait(self, timeout: float = 10.0) -> None:
        """Raises NotReady when the group is still behind after `timeout` seconds (the caller retries later)."""
        async with self._lock:
            if self.caught_up_at is not None and time.monotonic() - self.caught_up_at < self.fresh_for:
                return
            started = time.monotonic()
            targets = await self._end_offsets()
            while True:
                behind = await self._behind(targets)
                if not behind:
                    self.caught_up_at = started
                    return
                if time.monotonic() - started > timeout:
                    raise NotReady(f"consumer group {self.group} is behind on {behind}")
                await asyncio.sleep(self.poll_interval)

    async def close(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None
        if self._admin is not None:
            await self._admin.close()
            self._admin = None

    async def _clients(self) -> tuple[AIOKafkaAdminClient, AIOKafkaConsumer]:
        if self._admin is None or self._consumer is None:
            admin = AIOKafkaAdminClient(
                bootstrap_servers=self.bootstrap, request_timeout_ms=10_000, **self.security.client_kwargs()
            )
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False, **self.security.client_kwargs()
            )
            await admin.start()
            try:
                await consumer.start()
            except Exception:
                await admin.close()
                raise
            self._admin, self._consumer = admin, consumer
        return self._admin, self._consumer

    async def _end_offsets(self) -> dict[TopicPartition, int]:
        admin, consumer = await self._clients()
        partitions = [
            TopicPartition(description["topic"], item["partition"])
            for description in await admin.describe_topics(self.topics)
            for item in description["partitions"]
        ]
        return await consumer.end_offsets(partitions) if partitions else {}

    async def _behind(self, targets: dict[TopicPartition, int]) -> dict[str, int]:
        admin, _ = await self._clients()
        try:
            committed = await admin.list_consumer_group_offsets(self.group)
        except KafkaError as error:
            # A broker just started (or wiped) has no group coordinator yet: not knowing where the
            # group stands is "behind", and the wait polls again until its timeout.
            if not error.retriable:
                raise
            log.info("consumer group %s: offsets not known yet (%s)", self.group, type(error).__name__)
            return {f"{partition.topic}[{partition.partition}]": end for partition, end in targets.items()}
        behind = {}
        for partition, end in targets.items():
            meta = committed.get(partition)
            position = meta.offset if meta is not None and meta.offset >= 0 else 0
            if position < end:
                behind[f"{partition.topic}[{partition.partition}]"] = end - position
        return behind
