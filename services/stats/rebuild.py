"""Stats' rebuild: every topic replayed from offset 0 into a fresh generation, compared, and switched over.

The live path's reducer folds every topic from offset 0 into a fresh state while the live path goes on; the
fresh records are written to a new generation; then the live path is held (its lock), both states are
brought to the topics' current ends, every report of both is compared, and only if they are equal is the
pointer switched (one document) and the live path continued on the new generation.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiokafka import ConsumerRecord, TopicPartition

from infra.kafka import UNREADABLE, read_message
from infra.kafka_security import PLAINTEXT, KafkaSecurity
from infra.metrics import ServiceMetrics
from infra.stopping import sleep_unless_stopped
from services.stats.adapters.replay import Positions, TopicReader, committed_offsets
from services.stats.adapters.store import StatsStore, packed, snapshot_chunks, unpacked
from services.stats.domain.comparison import compare_states
from services.stats.domain.records import Header, Payload, StatsState, relevant, shared_record
from services.stats.live import LiveStats, collection_paused, header_of, write_every_report

log = logging.getLogger(__name__)

SWITCH_IF_EQUAL, SWITCH_ALWAYS = "if_equal", "always"


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
        event_type = _header(message, "type")
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





def _header(message: ConsumerRecord, name: str) -> str | None:
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


ProgressCallback = Callable[[dict[str, Any]], Awaitable[None]]


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
    security: KafkaSecurity = PLAINTEXT


PartitionKey = tuple[str, int]


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
            settings.security,
        ))
    return shares


async def fold_share(share: Share) -> Folder:
    folder = Folder(StatsState(), set(share.dead_lettered), share.positions(share.validate_from))
    async with TopicReader(share.bootstrap, share.topics, security=share.security) as reader:
        with collection_paused():
            async for batch in reader.read(share.positions(share.starts), share.positions(share.ends)):
                folder.fold_batch(batch)
    return folder


def fold_share_in_process(share: Share) -> tuple[list[bytes], dict[str, int]]:
    """A child process's share: its records as snapshot chunks (compressed: cheap to send) and its counts."""
    folder = asyncio.run(fold_share(share))
    with collection_paused():
        return snapshot_chunks(list(folder.state.records.values())), folder.counts.__dict__


@dataclass
class FoldResult:
    """A fresh state, and its records already packed as snapshot chunks by the processes that folded them."""

    folder: Folder
    ends: Positions
    packed_parts: list[list[bytes]] = field(default_factory=list)
    writing: asyncio.Task[None] | None = None  # the packed parts already on their way to the fresh generation


class Rebuilder:
    """Replays every topic from offset 0 into a fresh generation; switches when it equals the live reports."""

    def __init__(self, store: StatsStore, settings: RebuildSettings, live: LiveStats | None = None) -> None:
        self.store = store
        self.settings = settings
        self.live = live
        self.metrics: ServiceMetrics | None = None  # the worker's, when it runs in one

    def _observe(self, fields: dict[str, Any]) -> None:
        """The progress as metrics: events read of events to read, running or not, and each outcome."""
        if self.metrics is None:
            return
        service = self.metrics.service
        if fields.get("status") == "running":
            self.metrics.rebuild_running.labels(service).set(1)
            self.metrics.rebuild_events_read.labels(service).set(0)
        if "events_total" in fields:
            self.metrics.rebuild_events_total.labels(service).set(fields["events_total"])
        if "events_read" in fields:
            self.metrics.rebuild_events_read.labels(service).set(fields["events_read"])
        if fields.get("phase") == "done":
            self.metrics.rebuild_running.labels(service).set(0)
            self.metrics.rebuilds_finished.labels(service, fields.get("status", "unknown")).inc()

    async def read_all(self, reader: TopicReader, progress: ProgressCallback, *, validate_from: Positions | None = None,
                       dead_lettered: set[tuple[str, int, int]] | None = None, generation: str | None = None
                       ) -> FoldResult:
        """Fold every message up to the topics' current ends into a fresh state: in shares of the partitions
        folded by processes at the same time when the log is large, in this process otherwise. Given the
        fresh generation, the shares' records are written to it while the others are still folding."""
        begins, ends = await reader.begin_offsets(), await reader.end_offsets()
        dead_lettered, validate_from = dead_lettered or set(), validate_from or {}
        total = sum(ends[tp] - begins[tp] for tp in ends)
        processes = min(self.settings.fold_processes, len(ends))
        if processes > 1 and total >= self.settings.parallel_from_events:
            shares = split_into_shares(self.settings, begins, ends, processes, dead_lettered, validate_from)
            return await self._read_in_processes(reader, shares, ends, total, progress, dead_lettered, generation)
        folder = Folder(StatsState(), dead_lettered, validate_from)
        await self._fold_here(reader, folder, begins, ends, total, progress)
        return FoldResult(folder, ends)

    async def _fold_here(self, reader: TopicReader, folder: Folder, begins: Positions, ends: Positions, total: int,
                         progress: ProgressCallback, shares: int = 1) -> None:
        started = last = time.monotonic()
        await progress({"phase": "reading", "events_total": total, "events_read": 0, "processes": shares})
        with collection_paused():
            async for batch in reader.read(begins, ends):
                folder.fold_batch(batch)
                if time.monotonic() - last >= self.settings.progress_interval:
                    last = time.monotonic()
                    await progress(self._reading(folder, total, started, shares))
        await progress(self._reading(folder, total, started, shares))

    async def _read_in_processes(self, reader: TopicReader, shares: list[Share], ends: Positions, total: int,
                                 progress: ProgressCallback, dead_lettered: set[tuple[str, int, int]],
                                 generation: str | None) -> FoldResult:
        """Share 0 folded here, the others in child processes at the same time; their records merged here.

        Children are forked: a fork server or spawn would import the application anew in every rebuild and
        cost more than a share's fold saves. A child touches nothing it inherited: it runs its own event
        loop with its own Kafka consumer and returns plain values."""
        loop = asyncio.get_running_loop()
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(len(shares) - 1, mp_context=context) as pool:
            children = [loop.run_in_executor(pool, fold_share_in_process, share) for share in shares[1:]]
            own = shares[0]
            folder = Folder(StatsState(), dead_lettered, own.positions(own.validate_from))
            await self._fold_here(reader, folder, own.positions(own.starts), own.positions(own.ends), total, progress,
                                  len(shares))
            with collection_paused():
                result = FoldResult(folder, ends, [snapshot_chunks(list(folder.state.records.values()))])
            if generation is not None:
                result.writing = asyncio.create_task(self._insert_parts(generation, [result.packed_parts[0]], 0, fresh=True))
            await progress({"phase": "merging the other processes' records"})
            finished = await asyncio.gather(*children)
        if generation is not None:
            result.writing = asyncio.create_task(self._insert_parts(
                generation, [chunks for chunks, _ in finished], 1, after=result.writing))
        with collection_paused():
            for chunks, counts in finished:
                for chunk in chunks:
                    for record in unpacked(chunk):
                        folder.state.put(shared_record(record))
                    await asyncio.sleep(0)
                for key, value in counts.items():
                    setattr(folder.counts, key, getattr(folder.counts, key) + value)
                result.packed_parts.append(chunks)
        await progress(self._reading(folder, total, None, len(shares)))
        return result

    @staticmethod
    def _reading(folder: Folder, total: int, started: float | None, shares: int = 1) -> dict[str, Any]:
        reading = {"phase": "reading", "events_total": total, "events_read": folder.counts.read, "processes": shares,
                   "counts": folder.counts.__dict__}
        if started is not None:
            elapsed = max(time.monotonic() - started, 1e-9)
            # with several processes, this one's share stands for the whole: they read at about the same rate
            reading |= {"events_read": min(total, folder.counts.read * shares),
                        "events_per_second": round(folder.counts.read * shares / elapsed), "seconds": round(elapsed, 3)}
        return reading

    async def _insert_parts(self, generation: str, parts: list[list[bytes]], first: int, *, fresh: bool = False,
                            after: asyncio.Task[None] | None = None) -> None:
        """Snapshot parts into the fresh generation, one after the other: the first creates the collection
        (FerretDB cannot create it twice at once)."""
        if after is not None:
            await after
        if fresh:
            await self.store.drop_generation(generation)
        for part, chunks in enumerate(parts, start=first):
            await self.store.insert_snapshot(generation, chunks, part=part)

    async def write(self, generation: str, fold: FoldResult, *, with_reports: bool) -> int:
        """The fresh generation's records (and every report, if asked), in large batches."""
        state = fold.folder.state
        with collection_paused():
            if fold.writing is not None:
                await fold.writing
            elif fold.packed_parts:
                await self._insert_parts(generation, fold.packed_parts, 0, fresh=True)
            else:
                await self.store.drop_generation(generation)
                await self.store.insert_records(generation, state.records.values())
            state.changed_records.clear()
            if with_reports:
                await write_every_report(self.store, generation, state)
        return len(state.records)

    async def run(self, rebuild_id: str, *, switch_anyway: bool = False) -> dict[str, Any]:
        """One requested rebuild, its progress and outcome kept in its document.

        `switch_anyway` is the operator's answer to a known difference (e.g. after the reducer learnt new
        events, the live records lack what it now folds): the log is the truth, so the rebuilt generation
        is switched to and the differences are kept in the rebuild's document."""
        assert self.live is not None
        generation = f"r{rebuild_id}"

        async def progress(fields: dict[str, Any]) -> None:
            self._observe(fields)
            await self.store.update_rebuild(rebuild_id, fields)

        started = time.monotonic()
        await progress({"status": "running", "phase": "reading dead letters", "generation": generation})
        dead_lettered = await self._dead_lettered()
        await progress({"phase": "opening the topics"})
        async with TopicReader(self.settings.bootstrap, self.settings.topics, security=self.settings.security) as reader:
            partitions = list(await reader.end_offsets())
            await progress({"phase": "reading the live group's offsets"})
            validate_from = await committed_offsets(self.settings.bootstrap, self.settings.live_group, partitions,
                                                    security=self.settings.security)
            fold = await self.read_all(reader, progress, validate_from=validate_from, dead_lettered=dead_lettered,
                                       generation=generation)
            folder = fold.folder
            await progress({"phase": "writing", "records": len(folder.state.records)})
            await self.write(generation, fold, with_reports=False)
            await progress({"phase": "comparing"})
            async with self.live.lock:
                outcome = await self._compare_and_switch(reader, folder, fold.ends, generation, rebuild_id,
                                                         switch_anyway)
        outcome |= {"seconds": round(time.monotonic() - started, 3), "counts": folder.counts.__dict__}
        await progress(outcome)
        return outcome

    async def _compare_and_switch(self, reader: TopicReader, folder: Folder, ends: Positions, generation: str,
                                  rebuild_id: str, switch_anyway: bool) -> dict[str, Any]:
        """With the live path held: both states to the topics' current ends, every report compared, switched if
        equal (or if asked to switch anyway)."""
        assert self.live is not None
        now_ends = await reader.end_offsets()
        committed = await committed_offsets(self.settings.bootstrap, self.settings.live_group, list(now_ends),
                                            security=self.settings.security)
        folder.validate_from = {tp: 0 for tp in now_ends}
        async for batch in reader.read(ends, now_ends):
            folder.fold_batch(batch)
        # the live group may not have reached the ends yet; applying again what it applied changes nothing
        async for batch in reader.read(committed, now_ends):
            for message in batch:
                parsed = parse_fully(message.value)
                if parsed is not None and relevant(parsed[0].type):
                    await self.live.apply_unlocked(*parsed)
        with collection_paused():
            comparison = compare_states(self.live.state.seasons, folder.state.seasons, pack=packed, unpack=unpacked)
        found = comparison.differences
        if found and not switch_anyway:
            await self.store.drop_generation(generation)
            return {"status": "differs", "phase": "done", "switched": False, "differences": found,
                    "reports_compared": comparison.reports_compared}
        await self.store.replace_records(generation, folder.state.take_changed_records())
        await self.store.save_packed_reports(generation, comparison.rebuilt)
        await self.store.switch(generation, rebuild_id)
        previous = self.live.generation
        folder.state.changed_seasons.clear()
        self.live.state, self.live.generation = folder.state, generation
        await self.store.drop_generations_except({generation, previous})
        return {"status": "switched_with_differences" if found else "switched", "phase": "done", "switched": True,
                "differences": found, "reports_compared": comparison.reports_compared, "previous_generation": previous}

    async def _dead_lettered(self) -> set[tuple[str, int, int]]:
        """The positions the live consumer group sent to the dead-letter topic."""
        found: set[tuple[str, int, int]] = set()
        async with TopicReader(self.settings.bootstrap, [self.settings.dead_letter_topic],
                               security=self.settings.security) as reader:
            async for batch in reader.read(await reader.begin_offsets(), await reader.end_offsets()):
                for message in batch:
                    if _header(message, "consumer_group") == self.settings.live_group:
                        found.add((_header(message, "original_topic") or "", int(_header(message, "original_partition") or -1),
                                   int(_header(message, "original_offset") or -1)))
        return found

    async def run_requests(self, stop: asyncio.Event, interval: float = 0.5) -> None:
        """Picks up requested rebuilds one at a time until stopped."""
        while not stop.is_set():
            await sleep_unless_stopped(stop, interval)
            try:
                request = await self.store.next_rebuild()
                if request is not None and not stop.is_set():
                    await self._run_logged(request["_id"], request.get("switch") == SWITCH_ALWAYS)
            except Exception as error:  # noqa: BLE001 - the store may be away; asked again later
                log.warning("stats rebuild requests not read: %s", error)

    async def _run_logged(self, rebuild_id: str, switch_anyway: bool = False) -> None:
        try:
            outcome = await self.run(rebuild_id, switch_anyway=switch_anyway)
            log.info("rebuild %s: %s", rebuild_id, outcome["status"])
        except Exception as error:
            log.exception("rebuild %s failed", rebuild_id)
            self._observe({"status": "failed", "phase": "done"})
            await self.store.update_rebuild(rebuild_id, {"status": "failed", "phase": "done",
                                                         "error": f"{type(error).__name__}: {error}"})
