"""Stats' live path: the state of every record kept from every topic, and its report documents.

A batch of events is folded into copies of their records, the changed records are stored together
(version-guarded) and then replace the in-memory ones; before the batch's offsets are committed, the report
documents the batch changed are written (only those whose content changed), then the positions they include.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import gc
import logging
from collections.abc import Iterator, Sequence

from pydantic import BaseModel
from pymongo.errors import ConnectionFailure

from contracts import Envelope
from infra.positions import AppliedPositions
from infra.projection import Event, Outcome, asks_to_wait
from infra.stopping import sleep_unless_stopped
from services.stats.adapters.store import StatsStore, packed
from services.stats.domain.records import Header, Payload, Record, StatsState, fold
from services.stats.domain.reports import reports_for

log = logging.getLogger(__name__)


def header_of(envelope: Envelope) -> Header:
    return Header(
        str(envelope.aggregate_id), envelope.aggregate_version, envelope.type, envelope.schema_version,
        envelope.season_id, envelope.organizer, envelope.source.system, envelope.source.province,
    )


class LiveStats:
    """The worker's state of every record, applied a batch at a time, and its report documents.

    It is also the consumer's position log: for stats an event is applied once the reports it answers
    include it, so the positions of a batch are recorded after the report documents that hold them, and
    both before the batch's offsets are committed.
    """

    def __init__(self, store: StatsStore, *, retry_interval: float = 1.0) -> None:
        self.store = store
        self.applied_positions = AppliedPositions(store.database)
        self.state = StatsState()
        self.generation = ""
        self.lock = asyncio.Lock()
        self.retry_interval = retry_interval
        self.started = False
        # what each report document holds as last written (its packed bytes), so that an unchanged one is left alone
        self.written: dict[str, bytes] = {}
        self.written_generation = ""
        self.reports_written = 0

    async def start(self) -> None:
        """Load the active generation's records; every season's reports are written again (`materialise`)."""
        self.generation = await self.store.ensure_pointer()
        self.state = StatsState.of(await self.store.load_records(self.generation))
        self.state.changed_seasons = set(self.state.seasons)
        self.started = True

    async def apply(self, envelope: Envelope, _: BaseModel) -> bool:
        async with self.lock:
            return await self.apply_unlocked(header_of(envelope), envelope.payload)

    async def apply_unlocked(self, header: Header, payload: Payload) -> bool:
        existing = self.state.records.get(header.aggregate_id)
        # a copy: if storing fails, the message is retried and must find the record as it was
        candidate = fold(copy.deepcopy(existing) if existing is not None else None, header, payload)
        if candidate is None:
            return False
        await self.store.save_record(self.generation, candidate)
        self.state.put(candidate)
        return True

    async def apply_batch(self, events: Sequence[Event]) -> list[Outcome]:
        """Fold a batch in order, store the records it changed in one version-guarded bulk write, then take
        them into the state. An event the reducer cannot fold is that event's error alone (the rest of the
        batch is applied); if the store is away, every event of the batch waits and the state is unchanged."""
        async with self.lock:
            outcomes: list[Outcome] = []
            aggregates: list[str] = []
            changed: dict[str, Record] = {}
            for event in events:
                header = header_of(event.envelope)
                aggregates.append(header.aggregate_id)
                current = changed.get(header.aggregate_id) or self.state.records.get(header.aggregate_id)
                try:
                    # a copy: a fold that fails half-way leaves the record as it was
                    candidate = fold(copy.deepcopy(current) if current is not None else None, header,
                                     event.envelope.payload)
                except Exception as error:  # noqa: BLE001 - this event's alone, dead-lettered by the consumer
                    outcomes.append(error)
                    continue
                if candidate is not None:
                    changed[header.aggregate_id] = candidate
                outcomes.append(candidate is not None)
            refused = await self._store(changed)
            if isinstance(refused, BaseException):  # the store is away: the whole batch waits, the state unchanged
                return [item if isinstance(item, BaseException) else refused for item in outcomes]
            for record in changed.values():
                if record["_id"] not in refused:
                    self.state.put(record)
            return [refused.get(aggregate, outcome) for aggregate, outcome in zip(aggregates, outcomes, strict=True)]

    async def _store(self, records: dict[str, Record]) -> dict[str, BaseException] | BaseException:
        """Store the records together; the error that makes the batch wait, or the records the store refused for
        good (only their aggregates' events are dead-lettered)."""
        keys = list(records)
        outcomes: list[Outcome] = [None] * len(keys)
        if keys:
            try:
                await self.store.save_records(self.generation, [records[key] for key in keys], outcomes)
            except Exception as error:  # noqa: BLE001 - the whole write failed: classified by the consumer
                return error
        waits = [item for item in outcomes if isinstance(item, BaseException) and asks_to_wait(item)]
        if waits:
            return waits[0]
        if None in outcomes:
            return ConnectionFailure("records not stored: the store went away during the batch")
        return {key: item for key, item in zip(keys, outcomes, strict=True) if isinstance(item, BaseException)}

    async def record_many(self, versions: dict[str, int]) -> None:
        """A batch handled: the report documents it changed, then its positions (the consumer commits after)."""
        async with self.lock:
            await self._write_changed_reports()
            await self.applied_positions.record_many(versions)

    async def record(self, envelope: Envelope) -> None:
        await self.record_many({str(envelope.aggregate_id): envelope.aggregate_version})

    async def materialise(self) -> int:
        """Write the report documents of the seasons changed and not yet written; how many were written."""
        async with self.lock:
            return await self._write_changed_reports()

    async def materialise_until_done(self, stop: asyncio.Event) -> None:
        """After a start, every season's reports: again until the store takes them (a batch may write them first)."""
        while not stop.is_set():
            try:
                await self.materialise()
                return
            except Exception as error:  # noqa: BLE001 - the store may be away; the seasons stay marked
                log.warning("stats reports not written yet: %s", error)
            await sleep_unless_stopped(stop, self.retry_interval)

    async def _write_changed_reports(self) -> int:
        changed = self.state.take_changed_seasons()
        if not changed:
            return 0
        if self.written_generation != self.generation:  # a rebuild switched: nothing of the new one is known
            self.written, self.written_generation = {}, self.generation
        try:
            documents = {key: packed(report) for key, report in reports_for(self.state.seasons, changed).items()}
            fresh = {key: value for key, value in documents.items() if self.written.get(key) != value}
            if fresh:
                await self.store.save_packed_reports(self.generation, fresh)
        except BaseException:
            self.state.changed_seasons |= changed
            raise
        self.written.update(fresh)
        self.reports_written += len(fresh)
        return len(fresh)


@contextlib.contextmanager
def collection_paused() -> Iterator[None]:
    """The cyclic garbage collector paused while millions of small records are created (none of them
    cyclic): its full passes over an ever larger heap would otherwise cost a good part of the fold."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
