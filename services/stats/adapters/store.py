"""Stats' MongoDB: records and report documents per generation, the pointer to the active generation,
and the rebuild requests with their progress.

One writer per document: the stats worker writes records, reports, the pointer and rebuild progress;
the API only reads them (and inserts a rebuild request, a document of its own).
"""

from __future__ import annotations

import asyncio
import uuid
import zlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
from pymongo import ASCENDING, ReplaceOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from infra.mongo import apply_guarded_in_bulk

from services.stats.domain.records import Record

if TYPE_CHECKING:
    from infra.projection import Outcome

POINTER = "active"
SNAPSHOT_PREFIX = "snapshot:"
SNAPSHOT_FIELD = "records"
REPORT_FIELD = "report_json_z"
WRITTEN_AT = "written_at"


def packed(value: Any) -> bytes:
    """JSON, compressed: a report is only ever read whole, and a rebuild writes every one of them at once."""
    return zlib.compress(orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS), 1)


def unpacked(value: bytes) -> Any:
    return orjson.loads(zlib.decompress(value))


def snapshot_chunks(records: list[Record], chunk_size: int = 20_000) -> list[bytes]:
    return [packed(records[start:start + chunk_size]) for start in range(0, len(records), chunk_size)]
FIRST_GENERATION = "g0"


def records_collection(generation: str) -> str:
    return f"records_{generation}"


def reports_collection(generation: str) -> str:
    return f"reports_{generation}"


def now() -> datetime:
    return datetime.now(UTC)


class StatsStore:
    """Generations of records and reports; the pointer document names the one the API reads."""

    def __init__(self, database: AsyncDatabase) -> None:
        self.database = database
        self.generations = database["generations"]
        self.rebuilds = database["rebuilds"]

    # ---------------------------------------------------------------- generations

    async def active_generation(self) -> str:
        pointer = await self.generations.find_one({"_id": POINTER})
        return pointer["generation"] if pointer else FIRST_GENERATION

    async def ensure_pointer(self) -> str:
        try:
            await self.generations.insert_one({"_id": POINTER, "generation": FIRST_GENERATION, "switched_at": now()})
        except DuplicateKeyError:
            pass
        return await self.active_generation()

    async def switch(self, generation: str, rebuild_id: str | None = None) -> None:
        """One single-document update: readers see the old generation or the new one, never a mixture."""
        await self.generations.update_one(
            {"_id": POINTER}, {"$set": {"generation": generation, "switched_at": now(), "rebuild_id": rebuild_id}},
            upsert=True,
        )

    async def drop_generations_except(self, keep: set[str]) -> None:
        """Every generation but those kept (the active one and the one before, which a request begun
        just before a switch may still be reading)."""
        for name in await self.database.list_collection_names():
            kind, _, generation = name.partition("_")
            if kind in ("records", "reports") and generation and generation not in keep:
                await self.database.drop_collection(name)

    async def drop_generation(self, generation: str) -> None:
        await self.database.drop_collection(records_collection(generation))
        await self.database.drop_collection(reports_collection(generation))

    # ---------------------------------------------------------------- records

    async def load_records(self, generation: str) -> list[Record]:
        """The generation's records: its snapshot chunks, overridden by records stored one by one since."""
        records: dict[str, Record] = {}
        singles: list[Record] = []
        async for document in self.database[records_collection(generation)].find({}):
            if SNAPSHOT_FIELD in document:
                for record in unpacked(document[SNAPSHOT_FIELD]):
                    records[record["_id"]] = record
            else:
                singles.append(document)
        for record in singles:
            if record["_id"] not in records or records[record["_id"]]["v"] <= record["v"]:
                records[record["_id"]] = record
        return list(records.values())

    async def save_record(self, generation: str, record: Record) -> bool:
        """The record if it is newer than the stored one (the aggregate's version guards it), once."""
        fields = {key: value for key, value in record.items() if key != "_id"}
        try:
            result = await self.database[records_collection(generation)].update_one(
                {"_id": record["_id"], "v": {"$lt": record["v"]}}, {"$set": fields}, upsert=True
            )
        except DuplicateKeyError:
            return False
        return result.modified_count == 1 or result.upserted_id is not None

    async def save_records(self, generation: str, records: list[Record], outcomes: list[Outcome]) -> None:
        """Records newer than the stored ones, in bulk, each found by its primary key (`apply_guarded_in_bulk`):
        `outcomes[i]` becomes True (stored), False (the stored version was not older) or the error of record i,
        None when not tried (the store went away first)."""
        collection = records_collection(generation)
        await apply_guarded_in_bulk(self.database, [
            (index, collection, record["_id"], {"_id": record["_id"], "v": {"$lt": record["v"]}},
             {"$set": {key: value for key, value in record.items() if key != "_id"}},
             # a first version creates its record: an insert, which meets an existing one by its _id
             record if record["v"] == 1 else None)
            for index, record in enumerate(records)
        ], outcomes)

    async def insert_snapshot(self, generation: str, chunks: list[bytes], *, part: int = 0) -> None:
        collection = self.database[records_collection(generation)]
        documents = [{"_id": f"{SNAPSHOT_PREFIX}{part}:{index}", SNAPSHOT_FIELD: chunk} for index, chunk in enumerate(chunks)]
        for start in range(0, len(documents), 10):
            await collection.insert_many(documents[start:start + 10], ordered=False)

    async def replace_records(self, generation: str, records: list[Record]) -> None:
        if records:
            await self.database[records_collection(generation)].bulk_write(
                [ReplaceOne({"_id": record["_id"]}, record, upsert=True) for record in records], ordered=False
            )

    # ---------------------------------------------------------------- reports

    async def save_packed_reports(self, generation: str, reports: dict[str, bytes], batch_size: int = 50) -> None:
        """Report documents already packed, each with when it was written (readers see how fresh it is)."""
        collection = self.database[reports_collection(generation)]
        items = list(reports.items())
        written_at = now()
        batches = [
            [ReplaceOne({"_id": key}, {"_id": key, REPORT_FIELD: value, WRITTEN_AT: written_at}, upsert=True)
             for key, value in items[start:start + batch_size]]
            for start in range(0, len(items), batch_size)
        ]
        # a few batches at once: each report document has one writer, the batches are disjoint
        for start in range(0, len(batches), 4):
            await asyncio.gather(*(collection.bulk_write(batch, ordered=False) for batch in batches[start:start + 4]))

    async def report(self, key: str) -> dict[str, Any] | None:
        generation = await self.active_generation()
        document = await self.database[reports_collection(generation)].find_one({"_id": key})
        return None if document is None else unpacked(document[REPORT_FIELD])

    # ---------------------------------------------------------------- rebuilds

    async def request_rebuild(self, requested_by: str, switch: str = "if_equal") -> dict[str, Any]:
        document = {
            "_id": uuid.uuid4().hex[:12], "status": "requested", "phase": "requested", "requested_by": requested_by,
            "requested_at": now(), "switch": switch,
        }
        await self.rebuilds.insert_one(document)
        return document

    async def next_rebuild(self) -> dict[str, Any] | None:
        cursor = self.rebuilds.find({"status": "requested"}).sort("requested_at", ASCENDING).limit(1)
        return next(iter([item async for item in cursor]), None)

    async def update_rebuild(self, rebuild_id: str, fields: dict[str, Any]) -> None:
        await self.rebuilds.update_one({"_id": rebuild_id}, {"$set": fields | {"updated_at": now()}})

    async def rebuild(self, rebuild_id: str) -> dict[str, Any] | None:
        return await self.rebuilds.find_one({"_id": rebuild_id})

    async def interrupted_rebuilds(self) -> list[str]:
        """Rebuilds a stopped worker left running: marked failed (their generation never became active)."""
        found = [item["_id"] async for item in self.rebuilds.find({"status": "running"})]
        for rebuild_id in found:
            await self.update_rebuild(rebuild_id, {"status": "failed", "phase": "done",
                                                   "error": "the worker stopped during the rebuild; request another"})
        return found

    async def create_indexes(self) -> None:
        await self.rebuilds.create_index([("status", ASCENDING), ("requested_at", ASCENDING)])
