"""The worker's consumer lag, measured every few seconds: messages behind the end of each topic per group.

Measured from the groups' committed offsets against the topics' end offsets, so it is right when nothing
flows too (the per-message gauge only moves when a message arrives). It feeds the readiness ("degraded"
above a threshold, still ready), the Prometheus gauges, and the liveness: a group with lag that has made
no progress (no commit, no message handled or even retried) for a set time is wedged, and the worker must be restarted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from infra.kafka_log import kafka_reachable
from infra.kafka_security import PLAINTEXT, KafkaSecurity
from infra.projection import EventConsumer
from infra.stopping import sleep_unless_stopped

log = logging.getLogger(__name__)


@dataclass
class GroupLag:
    """One consumer group's last measurement and when it last made progress."""

    consumer: EventConsumer
    committed: dict[TopicPartition, int] = field(default_factory=dict)
    lag: dict[TopicPartition, int] = field(default_factory=dict)
    progressed_at: float = field(default_factory=time.monotonic)

    @property
    def total(self) -> int:
        return sum(self.lag.values())

    def by_topic(self) -> dict[str, int]:
        topics: dict[str, int] = {}
        for tp, behind in self.lag.items():
            topics[tp.topic] = topics.get(tp.topic, 0) + behind
        return topics

    def stalled_seconds(self, now: float) -> float:
        """How long it has neither committed nor tried a message while behind (0 when caught up)."""
        if self.total == 0:
            return 0.0
        return now - max(self.progressed_at, self.consumer.last_active)


class ConsumerLagMonitor:
    """Measures the lag of a worker's consumer groups periodically (never per request)."""

    def __init__(
        self,
        bootstrap: str,
        consumers: list[EventConsumer],
        *,
        interval: float,
        degraded_above: int,
        stall_seconds: float,
        security: KafkaSecurity = PLAINTEXT,
    ) -> None:
        self.bootstrap = bootstrap
        self.security = security
        self.groups = [GroupLag(consumer) for consumer in consumers]
        self.interval = interval
        self.degraded_above = degraded_above
        self.stall_seconds = stall_seconds
        self.measured_at: datetime | None = None
        self.measured_monotonic: float | None = None
        self.last_error: str | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Measure until stopped; Kafka being away only leaves the last measurement older."""
        for group in self.groups:  # progress is counted from when consuming began
            group.progressed_at = time.monotonic()
        while not stop.is_set():
            try:
                await self.measure()
                self.last_error = None
                kafka_reachable()
            except Exception as error:  # noqa: BLE001 - the next round tries again; the reason is reported
                self.last_error = f"{type(error).__name__}: {error}"
                log.warning("consumer lag not measured: %s", self.last_error)
            await sleep_unless_stopped(stop, self.interval)

    async def measure(self) -> None:
        topics = sorted({topic for group in self.groups for topic in group.consumer.topics})
        if not topics:
            return
        admin = AIOKafkaAdminClient(
            bootstrap_servers=self.bootstrap, request_timeout_ms=5_000, **self.security.client_kwargs()
        )
        reader = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, group_id=None, request_timeout_ms=5_000, **self.security.client_kwargs()
        )
        await admin.start()
        try:
            await reader.start()
            described = await admin.describe_topics(topics)
            partitions = [
                TopicPartition(item["topic"], part["partition"]) for item in described for part in item["partitions"]
            ]
            ends = await reader.end_offsets(partitions)
            begins = await reader.beginning_offsets(partitions)
            for group in self.groups:
                mine = [tp for tp in partitions if tp.topic in group.consumer.topics]
                offsets = await admin.list_consumer_group_offsets(group.consumer.group, partitions=mine)
                committed = {
                    tp: offsets[tp].offset if tp in offsets and offsets[tp].offset >= 0 else begins[tp] for tp in mine
                }
                if committed != group.committed:
                    group.progressed_at = time.monotonic()
                group.committed = committed
                group.lag = {tp: max(0, ends[tp] - committed[tp]) for tp in mine}
                self._export(group)
        finally:
            with contextlib.suppress(Exception):
                await reader.stop()
            with contextlib.suppress(Exception):
                await admin.close()
        self.measured_at = datetime.now(UTC)
        self.measured_monotonic = time.monotonic()

    @staticmethod
    def _export(group: GroupLag) -> None:
        meters = group.consumer.meters
        for tp, behind in group.lag.items():
            meters.consumer_lag.labels(*meters.labels, tp.topic, str(tp.partition)).set(behind)

    def fresh(self) -> bool:
        """Whether the last measurement is recent enough to act on (Kafka answered lately)."""
        return self.measured_monotonic is not None and time.monotonic() - self.measured_monotonic < 3 * self.interval + 10

    def report(self) -> dict[str, Any]:
        """The lag as /ready shows it: per group, per topic, with when it was measured."""
        now = time.monotonic()
        return {
            "measured_at": self.measured_at.isoformat() if self.measured_at else None,
            "interval_seconds": self.interval,
            "degraded_above_messages": self.degraded_above,
            **({"last_error": self.last_error} if self.last_error else {}),
            "groups": {
                group.consumer.group: {
                    "messages_behind": group.total,
                    "topics": group.by_topic(),
                    "stalled_seconds": round(group.stalled_seconds(now), 1),
                }
                for group in self.groups
            },
        }

    def degraded(self) -> str | None:
        """Why the worker is ready but degraded: a group further behind than the threshold."""
        behind = [f"{group.consumer.group} is {group.total} messages behind" for group in self.groups
                  if group.total > self.degraded_above]
        return f"{'; '.join(behind)} (threshold {self.degraded_above})" if behind else None

    def wedged(self) -> str | None:
        """Why the worker needs a restart: a group with lag that has made no progress for too long."""
        if not self.fresh():
            return None  # Kafka away or not measured yet: a restart would not help
        now = time.monotonic()
        stuck = [
            f"consumer group {group.consumer.group} has handled and committed nothing for"
            f" {group.stalled_seconds(now):.0f} s while {group.total} messages wait"
            for group in self.groups
            if group.stalled_seconds(now) >= self.stall_seconds
        ]
        return "; ".join(stuck) or None
