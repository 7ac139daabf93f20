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
import time
from concurrent.futures import ProcessPoolExecutor
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from aiokafka import ConsumerRecord

from infra.metrics import ServiceMetrics
from infra.stopping import sleep_unless_stopped
from services.stats.adapters.replay import Positions, TopicReader, committed_offsets
from services.stats.adapters.packed_state import NO_SEASON, PackedChunk, PackedState, PartitionKey
from services.stats.adapters.store import StatsStore, packed
from services.stats.domain.comparison import compare_states
from services.stats.domain.records import Record, StatsState, relevant, shared_record
from services.stats.fold import (
    FoldCounts, Folder, FoldResult, RebuildSettings, Share, fold_packed, fold_share_in_process, header_value,
    parse_fully, parse_quickly, split_into_shares,
)
from services.stats.live import LiveStats, collection_paused

log = logging.getLogger(__name__)

SWITCH_IF_EQUAL, SWITCH_ALWAYS = "if_equal", "always"

ProgressCallback = Callable[[dict[str, Any]], Awaitable[None]]


class SnapshotWriter:
    """The fresh generation's snapshot chunks, written one part after the other while the fold goes on; the
    first part drops what a failed rebuild of the same name left (FerretDB cannot create a collection twice
    at once, hence one after the other)."""

    def __init__(self, store: StatsStore, generation: str) -> None:
        self.store, self.generation = store, generation
        self.parts = 0
        self.task: asyncio.Task[None] | None = None

    def add(self, chunks: list[PackedChunk]) -> None:
        self.task = asyncio.create_task(self._insert([chunk.data for chunk in chunks], self.parts, self.task))
        self.parts += 1

    async def _insert(self, chunks: list[bytes], part: int, after: asyncio.Task[None] | None) -> None:
        if after is not None:
            await after
        else:
            await self.store.drop_generation(self.generation)
        if chunks:
            await self.store.insert_snapshot(self.generation, chunks, part=part)

    async def finish(self) -> None:
        if self.task is None:
            await self.store.drop_generation(self.generation)
        else:
            await self.task


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
        """Fold every message up to the topics' current ends into a fresh state, packed by season a group of
        partitions at a time: in shares of the partitions folded by processes at the same time when the log is
        large, in this process otherwise. Given the fresh generation, the packed records are written to it while
        the fold goes on."""
        begins, ends = await reader.begin_offsets(), await reader.end_offsets()
        dead_lettered, validate_from = dead_lettered or set(), validate_from or {}
        total = sum(ends[tp] - begins[tp] for tp in ends)
        processes = min(self.settings.fold_processes, len(ends))
        writer = SnapshotWriter(self.store, generation) if generation is not None else None
        result = FoldResult(FoldCounts(), ends, PackedState())
        folder = Folder(StatsState(), dead_lettered, validate_from, result.counts)
        if processes > 1 and total >= self.settings.parallel_from_events:
            shares = split_into_shares(self.settings, begins, ends, processes, dead_lettered, validate_from)
            await self._read_in_processes(reader, folder, shares, total, progress, result, writer)
        else:
            await self._fold_here(reader, folder, begins, ends, total, progress, result.packed, writer)
        if writer is not None:
            result.writing = asyncio.create_task(writer.finish())
        return result

    async def _fold_here(self, reader: TopicReader, folder: Folder, begins: Positions, ends: Positions, total: int,
                         progress: ProgressCallback, packed_state: PackedState, writer: SnapshotWriter | None,
                         shares: int = 1) -> None:
        started = last = time.monotonic()
        await progress({"phase": "reading", "events_total": total, "events_read": 0, "processes": shares})

        async def on_batch() -> None:
            nonlocal last
            if time.monotonic() - last >= self.settings.progress_interval:
                last = time.monotonic()
                await progress(self._reading(folder, total, started, shares))

        async def on_group(chunks: list[PackedChunk]) -> None:
            if writer is not None:
                writer.add(chunks)

        await fold_packed(reader, folder, begins, ends, self.settings.group_events, packed_state, on_group, on_batch)
        await progress(self._reading(folder, total, started, shares))

    async def _read_in_processes(self, reader: TopicReader, folder: Folder, shares: list[Share], total: int,
                                 progress: ProgressCallback, result: FoldResult, writer: SnapshotWriter | None) -> None:
        """Share 0 folded here, the others in child processes at the same time; their packed records kept packed.

        Children are forked: a fork server or spawn would import the application anew in every rebuild and
        cost more than a share's fold saves. A child touches nothing it inherited: it runs its own event
        loop with its own Kafka consumer and returns plain values."""
        loop = asyncio.get_running_loop()
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(len(shares) - 1, mp_context=context) as pool:
            children = [loop.run_in_executor(pool, fold_share_in_process, share) for share in shares[1:]]
            own = shares[0]
            await self._fold_here(reader, folder, own.positions(own.starts), own.positions(own.ends), total, progress,
                                  result.packed, writer, len(shares))
            await progress({"phase": "receiving the other processes' records"})
            finished = await asyncio.gather(*children)
        for packed_state, counts in finished:
            result.packed.chunks.extend(packed_state.chunks)
            result.packed.records += packed_state.records
            if writer is not None:
                writer.add(packed_state.chunks)
            for key, value in counts.items():
                setattr(folder.counts, key, getattr(folder.counts, key) + value)
        await progress(self._reading(folder, total, None, len(shares)))

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

    async def write(self, generation: str, fold: FoldResult) -> int:
        """The fresh generation's records: the packed chunks (already on their way if the fold was given the
        generation), in large batches."""
        if fold.writing is None:
            writer = SnapshotWriter(self.store, generation)
            writer.add(fold.packed.chunks)
            fold.writing = asyncio.create_task(writer.finish())
        await fold.writing
        return fold.packed.records

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
        outcome, counts = await self._run(rebuild_id, generation, progress, switch_anyway)
        outcome |= {"seconds": round(time.monotonic() - started, 3), "counts": counts.__dict__}
        await progress(outcome)
        return outcome

    async def _run(self, rebuild_id: str, generation: str, progress: ProgressCallback,
                   switch_anyway: bool) -> tuple[dict[str, Any], FoldCounts]:
        assert self.live is not None
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
            await progress({"phase": "writing", "records": fold.packed.records})
            await self.write(generation, fold)
            await progress({"phase": "comparing"})
            async with self.live.lock:
                outcome = await self._compare_and_switch(reader, fold, dead_lettered, generation, rebuild_id,
                                                         switch_anyway, progress)
        return outcome, fold.counts

    async def _catch_up(self, reader: TopicReader, fold: FoldResult, dead_lettered: set[tuple[str, int, int]],
                        now_ends: Positions) -> StatsState:
        """The rebuilt records the log gained since the fold, folded further: the records of the aggregates those
        messages name (looked for in the chunks of their partitions), every message validated in full."""
        messages = [message async for batch in reader.read(fold.ends, now_ends) for message in batch]
        named = {parsed[0].aggregate_id for parsed in map(parse_quickly, (message.value for message in messages))
                 if parsed is not None}
        caught_up = Folder(StatsState(), dead_lettered, {tp: 0 for tp in now_ends}, fold.counts)
        if named:
            partitions = {(message.topic, message.partition) for message in messages}
            for record in fold.packed.find(named, partitions):
                caught_up.state.put(record)
        by_partition: dict[PartitionKey, list[ConsumerRecord]] = {}
        for message in messages:
            by_partition.setdefault((message.topic, message.partition), []).append(message)
        for batch in by_partition.values():
            caught_up.fold_batch(batch)
        return caught_up.state

    async def _compare_and_switch(self, reader: TopicReader, fold: FoldResult, dead_lettered: set[tuple[str, int, int]],
                                  generation: str, rebuild_id: str, switch_anyway: bool,
                                  progress: ProgressCallback) -> dict[str, Any]:
        """With the live path held: both states to the topics' current ends, compared a rebuilt season at a time,
        switched if their reports are equal (or if asked to switch anyway)."""
        assert self.live is not None
        await progress({"phase": "comparing: catching up"})
        now_ends = await reader.end_offsets()
        committed = await committed_offsets(self.settings.bootstrap, self.settings.live_group, list(now_ends),
                                            security=self.settings.security)
        caught_up = await self._catch_up(reader, fold, dead_lettered, now_ends)
        # the live group may not have reached the ends yet; applying again what it applied changes nothing
        async for batch in reader.read(committed, now_ends):
            for message in batch:
                parsed = parse_fully(message.value)
                if parsed is not None and relevant(parsed[0].type):
                    await self.live.apply_unlocked(*parsed)
        live = self.live.state

        def season(season_id: str) -> Callable[[], Iterator[Record]]:
            return lambda: fold.packed.season(season_id, caught_up.records)

        season_ids = sorted((set(fold.packed.season_ids()) | set(caught_up.seasons)) - {NO_SEASON})
        await progress({"phase": "comparing: records by season, the rebuilt reports"})
        with collection_paused():
            comparison = compare_states(live.seasons, [(season_id, season(season_id)) for season_id in season_ids],
                                        pack=packed)
            seasonless = {record["_id"]: record for record in fold.packed.season(NO_SEASON, caught_up.records)}
            seasonless_differ = seasonless != {key: record for key, record in live.records.items()
                                               if not record.get("season_id")}
        found = comparison.differences
        if found and not switch_anyway:
            await self.store.drop_generation(generation)
            return {"status": "differs", "phase": "done", "switched": False, "differences": found,
                    "reports_compared": comparison.reports_compared}
        await progress({"phase": "switching: the rebuilt reports written"})
        await self.store.replace_records(generation, list(caught_up.records.values()))
        await self.store.save_packed_reports(generation, comparison.rebuilt)
        await progress({"phase": "switching: the pointer, the generations before dropped"})
        await self.store.switch(generation, rebuild_id)
        previous = self.live.generation
        if comparison.differing_seasons or seasonless_differ:
            # the rebuilt records become the live ones: equal seasons keep the live objects, the others are the
            # rebuilt ones (the live state is let go season by season as the new one takes its place)
            state = StatsState()
            for records in (*comparison.seasons.values(), seasonless):
                for record in records.values():
                    state.put(shared_record(record))
            self.live.state = state
        self.live.state.changed_seasons.clear()
        self.live.generation = generation
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
                    if header_value(message, "consumer_group") == self.settings.live_group:
                        found.add((header_value(message, "original_topic") or "", int(header_value(message, "original_partition") or -1),
                                   int(header_value(message, "original_offset") or -1)))
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
