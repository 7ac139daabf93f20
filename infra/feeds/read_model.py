"""The feed's read side: the quarantine and the batch reports as a service's read model keeps and answers them."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING

from infra.mongo import FieldsOf, payload_fields, public
from infra.pages import page

FEED_QUARANTINE = "feed_quarantine"
FEED_BATCHES = "feed_batches"


def _quarantined(envelope: Any, data: dict[str, Any]) -> dict[str, Any]:
    return data | {
        "quarantine_id": str(envelope.aggregate_id), "resolved": False, "resolved_by_batch": None,
        "quarantined_at": envelope.recorded_at,
    }


def _resolved(_: Any, data: dict[str, Any]) -> dict[str, Any]:
    return {"resolved": True, "resolved_by_batch": data["batch_id"], "accepted_version": data["accepted_version"]}


FEED_ROUTES: dict[str, tuple[str, FieldsOf]] = {
    "FeedRecordQuarantined": (FEED_QUARANTINE, _quarantined),
    "FeedQuarantineResolved": (FEED_QUARANTINE, _resolved),
    "FeedBatchReported": (FEED_BATCHES, payload_fields),
}
"""What a read model adds to its routes to keep its service's quarantine and batch reports queryable."""


async def create_feed_indexes(database: Any) -> None:
    await database[FEED_QUARANTINE].create_index([("service", ASCENDING), ("province", ASCENDING), ("batch_id", ASCENDING)])
    await database[FEED_BATCHES].create_index([("service", ASCENDING), ("province", ASCENDING), ("batch_id", ASCENDING)])


async def quarantine_page(database: Any, query: dict[str, Any], skip: int, limit: int) -> dict[str, Any]:
    """One page of quarantined records matching the query, in batch and line order."""
    collection = database[FEED_QUARANTINE]
    total = await collection.count_documents(query)
    cursor = collection.find(query).sort([("batch_id", ASCENDING), ("line", ASCENDING)]).skip(skip).limit(limit)
    items = [public(item) async for item in cursor]
    return page(total, skip, limit, items)


async def batch_report(database: Any, service: str, province: str, batch_id: str) -> dict[str, Any] | None:
    """A batch's report as recorded when it was complete, or None."""
    document = await database[FEED_BATCHES].find_one({"service": service, "province": province, "batch_id": batch_id})
    return None if document is None else public(document) or {}
