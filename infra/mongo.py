"""Read models in MongoDB: the client factory and the idempotent, version-guarded write, one by one or in bulk."""

from __future__ import annotations

import asyncio
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConnectionFailure, DuplicateKeyError, OperationFailure

from contracts import Envelope
from infra.settings import ServiceSettings

if TYPE_CHECKING:
    from infra.projection import Event, Outcome

DUPLICATE_KEY = 11000
# Writes go in commands of at most this many. (FerretDB 1.x as released held a PostgreSQL connection for each
# update of a command until the command ended, so a few hundred updates exhausted its pool and it stopped
# answering; the local stack builds it with that fixed, see qcp/stack/ferretdb/.)
UPDATES_PER_COMMAND = 500
INSERTS_PER_COMMAND = 500


# FerretDB answers an OperationFailure, not a ConnectionFailure, when its PostgreSQL is away: SQLSTATE class 08
# (connection exception) or 57P (shutting down, cannot connect now), or it fails to connect at all.
_STORAGE_AWAY = re.compile(r"SQLSTATE (08|57P)|failed to connect to")


def backend_away(error: BaseException) -> bool:
    """Whether a MongoDB error says the server or its storage is away (try again later), not that the request is wrong."""
    if isinstance(error, ConnectionFailure):
        return True
    return isinstance(error, OperationFailure) and bool(_STORAGE_AWAY.search(str(error)))


def build_client(settings: ServiceSettings) -> AsyncMongoClient:
    return AsyncMongoClient(
        settings.mongo_url,
        serverSelectionTimeoutMS=3_000,
        connectTimeoutMS=3_000,
        tz_aware=True,
        # A bounded pool: FerretDB 1.x stops answering when its own PostgreSQL pool (50) is exhausted by
        # concurrent operations (seen under load); a process queues its operations here instead.
        maxPoolSize=10,
        appname=f"qcp-{settings.service}",
    )


def versioned_write(doc_id: Any, envelope: Envelope, fields: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The filter and update that apply one event to its aggregate's document, once.

    The filter only matches a document older than the event; a redelivered or replayed event matches
    nothing, the upsert then collides on _id (a duplicate key error), and nothing changes."""
    update = {
        "$set": {
            **fields,
            "_version": envelope.aggregate_version,
            "_last_event_id": str(envelope.event_id),
            "_updated_at": envelope.recorded_at,
        },
        "$inc": {"_applied_events": 1},
    }
    return {"_id": doc_id, "_version": {"$lt": envelope.aggregate_version}}, update


def first_version_document(doc_id: Any, envelope: Envelope, fields: dict[str, Any]) -> dict[str, Any] | None:
    """The whole document an aggregate's first event creates, to insert instead of upserting; None if the event
    is not a first version or its fields are paths into the document.

    For a first version the guard `_version < 1` matches no stored document, so the versioned upsert either
    creates the document or collides on _id: an insert does exactly that, and a store finds the duplicate
    through its primary key where the upsert's filter may scan (FerretDB 1.x on PostgreSQL does)."""
    if envelope.aggregate_version != 1 or any("." in key or key.startswith("$") for key in fields):
        return None
    _, update = versioned_write(doc_id, envelope, fields)
    return {"_id": doc_id, **update["$set"], "_applied_events": 1}


async def apply_versioned(
    collection: AsyncCollection, doc_id: Any, envelope: Envelope, fields: dict[str, Any]
) -> bool:
    """Apply one event to the document of its aggregate, once; whether the event changed the document."""
    query, update = versioned_write(doc_id, envelope, fields)
    try:
        result = await collection.update_one(query, update, upsert=True)
    except DuplicateKeyError:
        return False
    return result.modified_count == 1 or result.upserted_id is not None


async def apply_versioned_in_bulk(
    database: AsyncDatabase, writes: Sequence[tuple[int, str, Any, Envelope, dict[str, Any]]], outcomes: list[Outcome]
) -> None:
    """Apply many events, each to its aggregate's document once (`versioned_write`): `writes` are (index in
    outcomes, collection, document id, envelope, fields) in event order; see `apply_guarded_in_bulk`."""
    await apply_guarded_in_bulk(database, [
        (index, collection, doc_id, *versioned_write(doc_id, envelope, fields),
         first_version_document(doc_id, envelope, fields))
        for index, collection, doc_id, envelope, fields in writes
    ], outcomes)


GuardedWrite = tuple[int, str, Any, dict[str, Any], dict[str, Any], dict[str, Any] | None]


async def apply_guarded_in_bulk(database: AsyncDatabase, writes: Sequence[GuardedWrite], outcomes: list[Outcome]) -> None:
    """Many guarded upserts (a filter on _id and an older version, so a write seen before collides on _id),
    with one bulk update per collection and round (a round's commands at once): round n holds the n-th write of
    each document, so a document's writes apply in order. A write that fails (a duplicate key: a version applied before) ends its
    command; the writes after it are sent again.

    `writes` are (index in outcomes, collection, document id, filter, update, the document to insert instead
    when the write creates it or None) in event order; each outcome becomes True (applied), False (seen before)
    or the error of that write. A document whose write says the store is away gets no later write (left None:
    not tried); an error for the whole bulk ends the batch there.
    """
    queues: dict[tuple[str, Any], list[tuple[int, dict[str, Any], dict[str, Any], dict[str, Any] | None]]] = (
        defaultdict(list))
    for index, collection, doc_id, query, update, creation in writes:
        queues[(collection, doc_id)].append((index, query, update, creation))
    stopped: set[tuple[str, Any]] = set()
    depth = max((len(queue) for queue in queues.values()), default=0)
    for round_ in range(depth):
        commands: dict[tuple[str, str], list[tuple[int, tuple[str, Any], dict[str, Any]]]] = defaultdict(list)
        for key, queue in queues.items():
            if round_ < len(queue) and key not in stopped:
                index, query, update, creation = queue[round_]
                if creation is not None:
                    commands[(key[0], "insert")].append((index, key, creation))
                else:
                    commands[(key[0], "update")].append((index, key, {"q": query, "u": update, "upsert": True}))
        # a round's commands touch different documents (one write of each): they go at once, not one after another
        written = await asyncio.gather(*(_write_in_commands(database, collection, command, ops, outcomes, stopped)
                                         for (collection, command), ops in commands.items()))
        if not all(written):
            return


async def _write_in_commands(
    database: AsyncDatabase, collection: str, command: str, ops: list[tuple[int, tuple[str, Any], dict[str, Any]]],
    outcomes: list[Outcome], stopped: set[tuple[str, Any]],
) -> bool:
    """The ops of one collection and kind of command, in commands of the bounded size; False at a failed command."""
    size = INSERTS_PER_COMMAND if command == "insert" else UPDATES_PER_COMMAND
    for start in range(0, len(ops), size):
        if not await _write_in_order(database, collection, command, ops[start : start + size], outcomes, stopped):
            return False
    return True


async def _write_in_order(
    database: AsyncDatabase, collection: str, command: str, ops: list[tuple[int, tuple[str, Any], dict[str, Any]]],
    outcomes: list[Outcome], stopped: set[tuple[str, Any]],
) -> bool:
    """One insert or update command for the ops, ordered: its answer names the write that failed (a duplicate key
    is a version applied before), and FerretDB stops there even when asked not to, so the rest is sent again.
    False when the whole command failed (the store is away...)."""
    field = "documents" if command == "insert" else "updates"
    while ops:
        try:
            answer = await database.command({command: collection, field: [op for _, _, op in ops], "ordered": True})
        except Exception as error:  # noqa: BLE001 - classified by the consumer
            for index, _, _ in ops:
                outcomes[index] = error
            return False
        failures = sorted(answer.get("writeErrors", []), key=lambda item: item["index"])
        stop = failures[0]["index"] if failures else len(ops)
        for index, _, _ in ops[:stop]:
            outcomes[index] = True
        if not failures:
            return True
        index, key, _ = ops[stop]
        if failures[0].get("code") == DUPLICATE_KEY:
            outcomes[index] = False
        else:
            error = OperationFailure(failures[0].get("errmsg", "write failed"), failures[0].get("code"), failures[0])
            outcomes[index] = error
            if backend_away(error):
                stopped.add(key)
        ops = ops[stop + 1 :]
    return True


def public(document: dict[str, Any] | None) -> dict[str, Any] | None:
    """A projected document without the bookkeeping fields, as an API returns it."""
    if document is None:
        return None
    return {key: value for key, value in document.items() if not key.startswith("_")} | {
        "version": document.get("_version")
    }


FieldsOf = Callable[[Envelope, dict[str, Any]], dict[str, Any]]


class DocumentProjection:
    """A read model whose documents mirror aggregates: each event type names its collection and fields.

    Types without a route are not this read model's business and are skipped.
    """

    def __init__(self, database: AsyncDatabase, routes: dict[str, tuple[str, FieldsOf]]) -> None:
        self.database = database
        self.routes = routes

    async def apply(self, envelope: Envelope, payload: BaseModel) -> bool:
        route = self.routes.get(envelope.type)
        if route is None:
            return False
        collection, fields_of = route
        fields = fields_of(envelope, payload.model_dump(mode="json"))
        return await apply_versioned(self.database[collection], str(envelope.aggregate_id), envelope, fields)

    async def apply_batch(self, events: Sequence[Event]) -> list[Outcome]:
        """A batch of events in bulk (see apply_versioned_in_bulk); an event whose fields cannot be made is
        that event's error alone."""
        outcomes: list[Outcome] = [None] * len(events)
        writes = []
        for index, event in enumerate(events):
            envelope = event.envelope
            route = self.routes.get(envelope.type)
            if route is None:
                outcomes[index] = False
                continue
            collection, fields_of = route
            try:
                fields = fields_of(envelope, event.payload.model_dump(mode="json"))
            except Exception as error:  # noqa: BLE001 - this event's alone; the consumer dead-letters it
                outcomes[index] = error
                continue
            writes.append((index, collection, str(envelope.aggregate_id), envelope, fields))
        await apply_versioned_in_bulk(self.database, writes, outcomes)
        return outcomes


def payload_fields(_: Envelope, data: dict[str, Any]) -> dict[str, Any]:
    return data
