"""Read models in MongoDB: the client factory and the idempotent, version-guarded write."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConnectionFailure, DuplicateKeyError, OperationFailure

from contracts import Envelope
from infra.settings import ServiceSettings


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


async def apply_versioned(
    collection: AsyncCollection, doc_id: Any, envelope: Envelope, fields: dict[str, Any]
) -> bool:
    """Apply one event to the document of its aggregate, once.

    The filter only matches a document older than the event; a redelivered or replayed
    event matches nothing, the upsert then collides on _id, and nothing changes.
    Returns whether the event changed the document.
    """
    update = {
        "$set": {
            **fields,
            "_version": envelope.aggregate_version,
            "_last_event_id": str(envelope.event_id),
            "_updated_at": envelope.recorded_at,
        },
        "$inc": {"_applied_events": 1},
    }
    try:
        result = await collection.update_one(
            {"_id": doc_id, "_version": {"$lt": envelope.aggregate_version}}, update, upsert=True
        )
    except DuplicateKeyError:
        return False
    return result.modified_count == 1 or result.upserted_id is not None


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


def payload_fields(_: Envelope, data: dict[str, Any]) -> dict[str, Any]:
    return data
