"""Stats' live path: the state of every record kept from every topic, and its report documents.

Each event is folded into a copy of its record, the record is stored (version-guarded) before the offset
is committed, then it replaces the in-memory one. Report documents of the seasons that changed are written
at most about once a second, so the reports trail the consumer by ~1 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import gc
import logging
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel

from contracts import Envelope
from infra.positions import AppliedPositions
from services.stats.adapters.store import StatsStore
from services.stats.domain.records import Header, Payload, StatsState, fold
from services.stats.domain.reports import reports_for, reports_in_parts

log = logging.getLogger(__name__)


log = logging.getLogger(__name__)


def header_of(envelope: Envelope) -> Header:
    return Header(
        str(envelope.aggregate_id), envelope.aggregate_version, envelope.type, envelope.schema_version,
        envelope.season_id, envelope.organizer, envelope.source.system, envelope.source.province,
    )


class LiveStats:
    """The worker's state of every record, applied event by event, and its report documents.

    It is also the consumer's position log: for stats an event is applied once the reports it answers
    include it, so the positions handled are recorded after the report documents that hold them.
    """

    def __init__(self, store: StatsStore, *, materialise_interval: float = 1.0) -> None:
        self.store = store
        self.applied_positions = AppliedPositions(store.database)
        self.pending_positions: dict[str, int] = {}
        self.state = StatsState()
        self.generation = ""
        self.lock = asyncio.Lock()
        self.materialise_interval = materialise_interval
        self.started = False

    async def start(self) -> None:
        """Load the active generation's records; every season's reports are written again soon after."""
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
        self.state.changed_records.discard(candidate["_id"])
        return True

    async def record(self, envelope: Envelope) -> None:
        """An event handled (its record stored): its position is recorded with the next report documents."""
        key = str(envelope.aggregate_id)
        self.pending_positions[key] = max(self.pending_positions.get(key, 0), envelope.aggregate_version)

    async def materialise(self) -> int:
        """Write the report documents of the seasons changed since the last time, then the positions they
        include; how many reports were written."""
        async with self.lock:
            changed = self.state.take_changed_seasons()
            # taken with the state: every position here is in the reports written from it
            positions, self.pending_positions = self.pending_positions, {}
            reports: dict[str, Any] = {}
            try:
                if changed:
                    reports = reports_for(self.state.seasons, changed)
                    await self.store.save_reports(self.generation, reports)
                await self.applied_positions.record_many(positions)
            except BaseException:
                self.state.changed_seasons |= changed
                for key, version in positions.items():
                    self.pending_positions[key] = max(self.pending_positions.get(key, 0), version)
                raise
            return len(reports)

    async def run_materialiser(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.materialise_interval)
            try:
                await self.materialise()
            except Exception as error:  # noqa: BLE001 - the store may be away; the seasons stay marked
                log.warning("stats reports not written yet: %s", error)


async def write_every_report(store: StatsStore, generation: str, state: StatsState) -> None:
    """Every report of a state, one season's documents written while the next season's are computed."""
    writing = []
    with collection_paused():
        for part in reports_in_parts(state.seasons):
            writing.append(asyncio.create_task(store.save_reports(generation, part)))
            await asyncio.sleep(0)
        await asyncio.gather(*writing)
    state.changed_seasons.clear()


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
