"""The fold of stats' topics into packed records, a group of partitions at a time, here or in processes."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import orjson
from aiokafka import ConsumerRecord, TopicPartition

from infra.kafka import UNREADABLE, read_message
from infra.kafka_security import PLAINTEXT, KafkaSecurity
from services.stats.adapters.replay import Positions, TopicReader
from services.stats.adapters.packed_state import PackedChunk, PackedState, PartitionKey
from services.stats.domain.records import Header, Payload, StatsState, relevant
from services.stats.live import collection_paused, header_of

@dataclass
class FoldCounts:
    read: int = 0
    applied: int = 0
    skipped: int = 0
    malformed: int = 0
    dead_lettered: int = 0


@dataclass
class Folder:
    """Folds raw messages into a state: a cheap header check, then only what the reducer reads.

    Messages the live consumer dead-lettered (known from the dead-letter topic) are skipped; from the
    positions the live group had not yet committed on, messages are validated in full as the live
    consumer validates them, so both take the same messages.
    """

    state: StatsState
    dead_lettered: set[tuple[str, int, int]] = field(default_factory=set)
    validate_from: Positions = field(default_factory=dict)
    counts: FoldCounts = field(default_factory=FoldCounts)

    def fold_batch(self, messages: list[ConsumerRecord]) -> None:
        """Messages of one partition (as `getmany` returns them), in offset order."""
        if not messages:
            return
        first = messages[0]
        validate_from = self.validate_from.get(TopicPartition(first.topic, first.partition), 1 << 62)
        skip = {offset for topic, partition, offset in self.dead_lettered
                if topic == first.topic and partition == first.partition}
        for message in messages:
            self.fold_message(message, message.offset >= validate_from, message.offset in skip)

    def fold_message(self, message: ConsumerRecord, validate: bool, dead_lettered: bool) -> None:
        counts = self.counts
        counts.read += 1
        if dead_lettered:
            counts.dead_lettered += 1
            return
        event_type = header_value(message, "type")
        if event_type is not None and not relevant(event_type):
            counts.skipped += 1
            return
        parsed = parse_fully(message.value) if validate else parse_quickly(message.value)
        if parsed is None:
            counts.malformed += 1
            return
        try:
            applied = self.state.apply(*parsed) is not None
        except (KeyError, TypeError, ValueError, AttributeError):
            counts.malformed += 1
            return
        if applied:
            counts.applied += 1
        else:
            counts.skipped += 1





def header_value(message: ConsumerRecord, name: str) -> str | None:
    for key, value in message.headers or ():
        if key == name:
            return value.decode() if isinstance(value, bytes) else value
    return None


def parse_quickly(value: bytes | None) -> tuple[Header, Payload] | None:
    """What the reducer reads of a message the live consumer accepted: no model validation."""
    try:
        data = orjson.loads(value) if value else None
        return Header.of(data), data["payload"]
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


def parse_fully(value: bytes | None) -> tuple[Header, Payload] | None:
    """A message validated as the live consumer validates it; None for one it dead-letters."""
    try:
        envelope, _ = read_message(value or b"")
    except UNREADABLE:
        return None
    return header_of(envelope), envelope.payload




@dataclass
class RebuildSettings:
    bootstrap: str
    topics: list[str]
    live_group: str
    dead_letter_topic: str
    progress_interval: float = 1.0
    # Aggregates never share a record and each partition keeps its aggregates' order, so shares of the
    # partitions fold independently in processes of their own and their records merge without conflict.
    fold_processes: int = field(default_factory=lambda: min(os.cpu_count() or 1, 4))
    parallel_from_events: int = 200_000  # below this, starting processes costs more than it saves
    # a process folds its partitions a group of about this many messages at a time, and packs each group's records
    group_events: int = 50_000
    security: KafkaSecurity = PLAINTEXT


@dataclass(frozen=True)
class Share:
    """One share of the partitions, folded in a process of its own (picklable: plain values only)."""

    bootstrap: str
    topics: list[str]
    starts: dict[PartitionKey, int]
    ends: dict[PartitionKey, int]
    dead_lettered: frozenset[tuple[str, int, int]]
    validate_from: dict[PartitionKey, int]
    security: KafkaSecurity = PLAINTEXT
    group_events: int = 50_000

    def positions(self, which: dict[PartitionKey, int]) -> Positions:
        return {TopicPartition(*key): offset for key, offset in which.items()}


def split_into_shares(settings: RebuildSettings, begins: Positions, ends: Positions, count: int,
                      dead_lettered: set[tuple[str, int, int]], validate_from: Positions) -> list[Share]:
    ordered = sorted(ends, key=lambda tp: (tp.topic, tp.partition))
    shares = []
    for part in (ordered[index::count] for index in range(count)):
        keys = {tp: (tp.topic, tp.partition) for tp in part}
        shares.append(Share(
            settings.bootstrap, settings.topics,
            {keys[tp]: begins[tp] for tp in part}, {keys[tp]: ends[tp] for tp in part},
            frozenset(item for item in dead_lettered if (item[0], item[1]) in keys.values()),
            {keys[tp]: validate_from[tp] for tp in part if tp in validate_from},
            settings.security, settings.group_events,
        ))
    return shares


def partition_groups(starts: Positions, ends: Positions, group_events: int) -> list[list[TopicPartition]]:
    """The partitions in groups of about `group_events` messages, folded one group after the other: only one
    group's records are ever held as dicts (aggregates never share a record across partitions)."""
    groups: list[list[TopicPartition]] = [[]]
    size = 0
    for tp in sorted(ends, key=lambda item: (item.topic, item.partition)):
        count = max(ends[tp] - starts.get(tp, 0), 0)
        if groups[-1] and size + count > group_events:
            groups.append([])
            size = 0
        groups[-1].append(tp)
        size += count
    return [group for group in groups if group]


async def fold_packed(reader: TopicReader, folder: Folder, starts: Positions, ends: Positions, group_events: int,
                      packed_state: PackedState, on_group: Callable[[list[PackedChunk]], Awaitable[None]] | None = None,
                      on_batch: Callable[[], Awaitable[None]] | None = None) -> None:
    """Fold the partitions a group at a time into `folder` (its counts add up) and pack each group's records."""
    for group in partition_groups(starts, ends, group_events):
        folder.state = StatsState()
        with collection_paused():
            async for batch in reader.read({tp: starts.get(tp, 0) for tp in group}, {tp: ends[tp] for tp in group}):
                folder.fold_batch(batch)
                if on_batch is not None:
                    await on_batch()
            added = packed_state.add(folder.state, frozenset((tp.topic, tp.partition) for tp in group))
        folder.state = StatsState()
        if on_group is not None:
            await on_group(added)


async def fold_share(share: Share) -> tuple[PackedState, FoldCounts]:
    folder = Folder(StatsState(), set(share.dead_lettered), share.positions(share.validate_from))
    packed_state = PackedState()
    async with TopicReader(share.bootstrap, share.topics, security=share.security) as reader:
        await fold_packed(reader, folder, share.positions(share.starts), share.positions(share.ends),
                          share.group_events, packed_state)
    return packed_state, folder.counts


def fold_share_in_process(share: Share) -> tuple[PackedState, dict[str, int]]:
    """A child process's share: its records packed by season (compressed: cheap to send) and its counts."""
    packed_state, counts = asyncio.run(fold_share(share))
    return packed_state, counts.__dict__


@dataclass
class FoldResult:
    """A fresh state, packed by season, with the counts of its fold."""

    counts: FoldCounts
    ends: Positions
    packed: PackedState
    writing: asyncio.Task[None] | None = None  # the packed chunks already on their way to the fresh generation
