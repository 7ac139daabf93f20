"""Dead-letter topics for operators: what a consumer group could not handle, and its replay once the cause is fixed.

A dead letter is the original message's bytes and key with headers saying why (`error`, `reason`,
`consumer_group`, `original_topic`, `original_partition`, `original_offset`, `dead_lettered_at`).

Replay, exactly once: each dead letter not yet replayed is published again to its original topic and partition
with its original key (where its aggregate's events go), acknowledged by every in-sync replica, and
only then a replay marker is appended to the same dead-letter partition (an empty message whose headers
`replay_of_partition` / `replay_of_offset` name the dead letter). A replay skips every dead letter that has a
marker, so a second replay publishes nothing. A replay killed between the two steps publishes that one
message again next time: the consumers apply each event once by its aggregate version (a copy of an event
already applied changes nothing), so the event is still applied once. A replayed event that fails again is
dead-lettered again, as a new dead letter, to be replayed after the next fix. Bytes that will never be an
event (reason `unreadable` with a body that is not JSON) are best left where they are: replayed, every group
reading the topic would dead-letter them again; a replay can be limited to some reasons.

The consumer groups that had already handled the event (those of other services reading the same topic)
receive the copy too and skip it as a duplicate. Markers carry no `consumer_group` header, so stats' rebuild,
which skips what its live group dead-lettered, ignores them. Only the service's own dead-letter topics and
the original topics are touched: no consumer group is created.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from infra.kafka_access import kafka_access
from infra.kafka_security import kafka_security
from infra.settings import ServiceSettings

REPLAY_OF_PARTITION, REPLAY_OF_OFFSET = "replay_of_partition", "replay_of_offset"
DEAD_LETTER_HEADERS = ("error", "reason", "consumer_group", "original_topic", "original_partition",
                       "original_offset", "dead_lettered_at")


class DeadLetterTopicUnknown(LookupError):
    """A topic that is not one of the service's dead-letter topics, or that Kafka does not have."""


@dataclass(frozen=True)
class DeadLetter:
    """One message of a dead-letter topic, where it sits, and whether a replay has handed it back."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: dict[str, str]
    replayed_at: str | None = None

    @property
    def original_topic(self) -> str | None:
        return self.headers.get("original_topic")

    @property
    def original_partition(self) -> int | None:
        """Where the message was: its aggregate's partition (the key decides it when the header is missing)."""
        value = self.headers.get("original_partition", "")
        return int(value) if value.isdigit() else None

    def summary(self) -> dict[str, str | int | None]:
        return {"topic": self.topic, "partition": self.partition, "offset": self.offset,
                **{name: self.headers.get(name) for name in DEAD_LETTER_HEADERS},
                "replayed_at": self.replayed_at, "bytes": len(self.value)}


@dataclass
class DeadLetterTopic:
    """A dead-letter topic read from its beginning to its end: the dead letters, markers applied."""

    topic: str
    letters: list[DeadLetter] = field(default_factory=list)

    @property
    def waiting(self) -> list[DeadLetter]:
        return [letter for letter in self.letters if letter.replayed_at is None]


def dead_letter_topics(service: str, settings: ServiceSettings, topic: str | None = None) -> list[str]:
    """The service's dead-letter topics (with its settings' prefix), or the one asked for by full or short name."""
    from qcp.services import definition  # the service's code, imported only when asked for

    own = sorted(kafka_access(definition(service), settings).dead_letter_topics)
    if topic is None:
        return own
    for candidate in (topic, settings.topic(topic)):
        if candidate in own:
            return [candidate]
    raise DeadLetterTopicUnknown(f"{topic} is not a dead-letter topic of {service}: {', '.join(own)}")


def _headers(raw: list[tuple[str, bytes]] | tuple[tuple[str, bytes], ...] | None) -> dict[str, str]:
    return {name: value.decode("utf-8", "replace") for name, value in raw or ()}


async def _partitions(settings: ServiceSettings, topic: str) -> list[int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, request_timeout_ms=10_000,
                                **kafka_security(settings).client_kwargs())
    await admin.start()
    try:
        (description,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    if description.get("error_code") or not description.get("partitions"):
        raise DeadLetterTopicUnknown(f"Kafka has no topic {topic}")
    return [item["partition"] for item in description["partitions"]]


async def read_dead_letters(settings: ServiceSettings, topic: str, *, timeout: float = 30.0) -> DeadLetterTopic:
    """Every message of the topic up to its current end, without a consumer group (nothing is committed)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=None, enable_auto_commit=False,
                                request_timeout_ms=10_000, **kafka_security(settings).client_kwargs())
    try:
        await consumer.start()
        partitions = await _partitions(settings, topic)
        assigned = [TopicPartition(topic, partition) for partition in sorted(partitions)]
        consumer.assign(assigned)
        begins, ends = await consumer.beginning_offsets(assigned), await consumer.end_offsets(assigned)
        for tp in assigned:
            consumer.seek(tp, begins[tp])
        records = []
        waiting = {tp for tp in assigned if ends[tp] > begins[tp]}
        async with asyncio.timeout(timeout):
            while waiting:
                batches = await consumer.getmany(*waiting, timeout_ms=1_000)
                for tp, batch in batches.items():
                    records.extend(record for record in batch if record.offset < ends[tp])
                    if batch and batch[-1].offset >= ends[tp] - 1:
                        waiting.discard(tp)
                for tp in list(waiting):
                    if await consumer.position(tp) >= ends[tp]:
                        waiting.discard(tp)
    finally:
        await consumer.stop()
    replayed: dict[tuple[int, int], str] = {}
    letters = []
    for record in sorted(records, key=lambda item: (item.partition, item.offset)):
        headers = _headers(record.headers)
        if REPLAY_OF_OFFSET in headers:
            replayed[(int(headers[REPLAY_OF_PARTITION]), int(headers[REPLAY_OF_OFFSET]))] = headers.get("replayed_at", "")
        else:
            letters.append(DeadLetter(topic, record.partition, record.offset, record.key, record.value or b"", headers))
    return DeadLetterTopic(topic, [
        DeadLetter(**{**letter.__dict__, "replayed_at": replayed.get((letter.partition, letter.offset))})
        for letter in letters
    ])


@dataclass
class ReplayReport:
    """What one replay did, per dead-letter topic."""

    replayed: dict[str, int] = field(default_factory=dict)
    already_replayed: dict[str, int] = field(default_factory=dict)
    without_origin: dict[str, int] = field(default_factory=dict)

    @property
    def total_replayed(self) -> int:
        return sum(self.replayed.values())


async def replay(settings: ServiceSettings, topics: list[str], *, echo: Callable[[str], None] = lambda _: None,
                 reasons: frozenset[str] | None = None, hand_back: Callable[[DeadLetter], None] | None = None
                 ) -> ReplayReport:
    """Every dead letter of the topics not replayed before (of the given reasons, if any): published to its
    original topic, then marked.

    `hand_back` is called after a message was published and before its marker is written (a test stops a
    replay there, as a replay killed midway would)."""
    report = ReplayReport()
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all", enable_idempotence=True,
                                request_timeout_ms=15_000, **kafka_security(settings).client_kwargs())
    await producer.start()
    try:
        for topic in topics:
            read = await read_dead_letters(settings, topic)
            report.replayed[topic] = 0
            report.already_replayed[topic] = len(read.letters) - len(read.waiting)
            report.without_origin[topic] = 0
            for letter in read.waiting:
                if reasons is not None and letter.headers.get("reason") not in reasons:
                    continue
                if not letter.original_topic:
                    report.without_origin[topic] += 1
                    echo(f"{topic}[{letter.partition}]@{letter.offset}: no original_topic header, left as it is")
                    continue
                sent = await producer.send_and_wait(
                    letter.original_topic, letter.value, key=letter.key, partition=letter.original_partition,
                    headers=[("replayed_from", f"{topic}/{letter.partition}/{letter.offset}".encode())],
                )
                if hand_back is not None:
                    hand_back(letter)
                await producer.send_and_wait(topic, b"", key=letter.key, partition=letter.partition, headers=[
                    (REPLAY_OF_PARTITION, str(letter.partition).encode()),
                    (REPLAY_OF_OFFSET, str(letter.offset).encode()),
                    ("replayed_to", f"{sent.topic}/{sent.partition}/{sent.offset}".encode()),
                    ("replayed_at", datetime.now(UTC).isoformat().encode()),
                ])
                report.replayed[topic] += 1
                echo(f"{topic}[{letter.partition}]@{letter.offset} -> {sent.topic}[{sent.partition}]@{sent.offset}")
    finally:
        await producer.stop()
    return report
