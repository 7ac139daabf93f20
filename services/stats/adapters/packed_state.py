"""A rebuilt state held packed: its records as compressed snapshot chunks by season, unpacked a season at a time."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from services.stats.adapters.store import snapshot_chunks, unpacked
from services.stats.domain.records import Record, StatsState, shared_record

PartitionKey = tuple[str, int]
NO_SEASON = ""  # the bucket of records that belong to no season


@dataclass(frozen=True)
class PackedChunk:
    """Some records of one season (or of none), folded from some partitions, as a compressed snapshot chunk."""

    season_id: str
    partitions: frozenset[PartitionKey]
    data: bytes


@dataclass
class PackedState:
    """A folded state held packed, by season: never all its records as dicts at once, so that a rebuild holds
    the live state and little more (the rebuilt records are unpacked one season at a time)."""

    # out of the repr: asyncio's teardown formats the result of `asyncio.run` (a fold process's share) twice
    chunks: list[PackedChunk] = field(default_factory=list, repr=False)
    records: int = 0

    def add(self, state: StatsState, partitions: frozenset[PartitionKey]) -> list[PackedChunk]:
        """A folded group of partitions' records, packed by season; the chunks added."""
        by_season: dict[str, list[Record]] = {}
        for record in state.records.values():
            by_season.setdefault(record.get("season_id") or NO_SEASON, []).append(record)
        added = [PackedChunk(season_id, partitions, data) for season_id in sorted(by_season)
                 for data in snapshot_chunks(by_season[season_id])]
        self.chunks.extend(added)
        self.records += len(state.records)
        return added

    def season_ids(self) -> list[str]:
        return sorted({chunk.season_id for chunk in self.chunks})

    def season(self, season_id: str, replaced: dict[str, Record] | None = None) -> Iterator[Record]:
        """One season's records, a chunk at a time, as they were packed (to compare; `shared_record` before
        keeping one); with `replaced`, the records of the aggregates it names are its own (those of the season)."""
        replaced = replaced or {}
        for chunk in self.chunks:
            if chunk.season_id == season_id:
                yield from (record for record in unpacked(chunk.data) if record["_id"] not in replaced)
        yield from (record for record in replaced.values() if (record.get("season_id") or NO_SEASON) == season_id)

    def find(self, aggregate_ids: set[str], partitions: set[PartitionKey]) -> list[Record]:
        """The records of these aggregates, looked for only in the chunks folded from these partitions."""
        return [shared_record(record) for chunk in self.chunks if chunk.partitions & partitions
                for record in unpacked(chunk.data) if record["_id"] in aggregate_ids]

    def all_records(self) -> list[Record]:
        return [shared_record(record) for chunk in self.chunks for record in unpacked(chunk.data)]
