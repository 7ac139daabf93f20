"""Stats' journal: every envelope as received from the three event topics, kept verbatim, once per event id.

A process of stats with its own consumer group (`stats.journal`, dead letters to `stats.journal.dlq`):
the shared `EventConsumer` dead-letters what it cannot read and hands every valid envelope here. The
journal is what the audit answers from (an entry's history, its state as of an instant, digests).
One document per event, written once, so a redelivery changes nothing and there is one writer per document.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from contracts import Envelope
from infra.bootstrap import ProcessContext, ProcessDefinition
from infra.kafka import EVENT_TOPICS, decode
from infra.projection import current_delivery
from services.stats.audit.history import entry_ids_of

COLLECTION = "audit_journal"


def journal_collection(database: AsyncDatabase) -> AsyncCollection:
    return database[COLLECTION]


def producing_service(topic: str, topic_prefix: str) -> str:
    """registration, submission or review, from the topic the envelope came on."""
    return topic.removeprefix(topic_prefix).split(".")[0]


class Journal:
    """Reads and writes of the journal collection; envelopes are parsed from the bytes as received."""

    def __init__(self, database: AsyncDatabase) -> None:
        self.collection = journal_collection(database)

    async def create_indexes(self) -> None:
        await self.collection.create_index([("entry_ids", ASCENDING)])
        await self.collection.create_index([("aggregate_id", ASCENDING), ("aggregate_version", ASCENDING)])
        await self.collection.create_index([("season_id", ASCENDING), ("aggregate_id", ASCENDING)])

    async def record(self, envelope: Envelope, raw: bytes, delivery: dict[str, Any]) -> bool:
        """Keep the envelope once: a second delivery of the same event id collides on _id and changes nothing."""
        document = {
            "_id": str(envelope.event_id),
            "raw": raw.decode(),
            "type": envelope.type,
            "aggregate_id": str(envelope.aggregate_id),
            "aggregate_version": envelope.aggregate_version,
            "season_id": envelope.season_id,
            "organizer": envelope.organizer,
            "entry_ids": entry_ids_of(envelope),
            "recorded_at": envelope.recorded_at,
            "journaled_at": datetime.now(UTC),
        } | delivery
        try:
            await self.collection.insert_one(document)
        except DuplicateKeyError:
            return False
        return True

    async def _read(self, query: dict[str, Any]) -> list[tuple[Envelope, dict[str, Any]]]:
        cursor = self.collection.find(query, {"raw": 1, "service": 1, "topic": 1, "partition": 1, "offset": 1})
        return [(decode(item["raw"].encode()), item) async for item in cursor]

    async def of_entry(self, entry_id: str) -> list[tuple[Envelope, dict[str, Any]]]:
        """Every event that names the entry, with where it was received from."""
        return await self._read({"entry_ids": entry_id})

    async def by_event_ids(self, event_ids: list[str]) -> list[tuple[Envelope, dict[str, Any]]]:
        return await self._read({"_id": {"$in": event_ids}}) if event_ids else []

    async def of_aggregate(self, aggregate_id: uuid.UUID) -> list[Envelope]:
        return [envelope for envelope, _ in await self._read({"aggregate_id": str(aggregate_id)})]

    async def aggregates_of_season(self, season_id: str, organizer: str | None = None) -> list[str]:
        """The season's aggregates, by id; with an organizer, those none of whose events names another one."""
        members = set(await self.collection.distinct("aggregate_id", {"season_id": season_id}))
        if organizer is not None and members:
            members -= set(await self.collection.distinct("aggregate_id", {
                "aggregate_id": {"$in": sorted(members)}, "organizer": {"$nin": [organizer, None]}}))
        return sorted(members)

    async def of_aggregates(self, aggregate_ids: list[str]) -> dict[str, list[Envelope]]:
        grouped: dict[str, list[Envelope]] = {item: [] for item in aggregate_ids}
        for envelope, _ in await self._read({"aggregate_id": {"$in": aggregate_ids}}):
            grouped[str(envelope.aggregate_id)].append(envelope)
        return grouped


class JournalProcess:
    """The journal's handler: keeps each envelope as received, with its topic, partition and offset."""

    def __init__(self, journal: Journal, topic_prefix: str) -> None:
        self.journal = journal
        self.topic_prefix = topic_prefix

    async def start(self) -> None:
        await self.journal.create_indexes()

    async def close(self) -> None:
        return None

    async def apply(self, envelope: Envelope, payload: BaseModel) -> bool:  # noqa: ARG002 - kept as recorded
        delivery = current_delivery.get()
        if delivery is None:  # handed an envelope outside a consumer (tests): kept as it would travel
            raw, where = envelope.model_dump_json().encode(), {"service": None, "topic": None}
        else:
            raw = delivery.body
            where = {
                "service": producing_service(delivery.topic, self.topic_prefix),
                "topic": delivery.topic,
                "partition": delivery.partition,
                "offset": delivery.offset,
            }
        return await self.journal.record(envelope, raw, where)


class JournalDigests:
    """Stats' digest source for the shared audit routes: the chains of what it received."""

    service = "stats"

    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    async def aggregate(self, aggregate_id: uuid.UUID) -> list[Envelope]:
        return await self.journal.of_aggregate(aggregate_id)

    async def season(self, season_id: str, skip: int, limit: int,
                     organizer: str | None = None) -> tuple[int, list[list[Envelope]]]:
        members = await self.journal.aggregates_of_season(season_id, organizer)
        page = members[skip : skip + limit]
        grouped = await self.journal.of_aggregates(page)
        return len(members), [grouped[item] for item in page if grouped[item]]


def journal_process() -> ProcessDefinition:
    """The journal as stats' workers run it: group stats.journal, dead letters to stats.journal.dlq."""

    def build(context: ProcessContext) -> JournalProcess:
        return JournalProcess(Journal(context.database), context.settings.topic_prefix)

    return ProcessDefinition(name="journal", consumes=list(EVENT_TOPICS), build_handler=build)
