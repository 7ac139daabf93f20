"""Stats' projections of every topic: seasons and registrations, counted for the reports."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from contracts import Envelope
from infra.mongo import DocumentProjection, payload_fields, public


def _registration(_: Envelope, data: dict[str, Any]) -> dict[str, Any]:
    keep = ("season_id", "credit_code", "unit_name", "member", "unit_nature", "key_industries", "key_domain")
    return {key: data.get(key) for key in keep}


class StatsReadModel(DocumentProjection):
    """One document per source aggregate; reports count them, so a replay never double counts."""

    def __init__(self, database: AsyncDatabase) -> None:
        super().__init__(
            database,
            {
                "SeasonOpened": ("seasons", payload_fields),
                "UnitRegistered": ("registrations", _registration),
                "UnitRegistrationAmended": ("registrations", _registration),
            },
        )
        self.seasons = database["seasons"]
        self.registrations = database["registrations"]

    async def create_indexes(self) -> None:
        await self.seasons.create_index([("season_id", ASCENDING)])
        await self.registrations.create_index([("season_id", ASCENDING)])

    async def season(self, season_id: str) -> dict[str, Any] | None:
        return public(await self.seasons.find_one({"season_id": season_id}))

    async def count_registrations_by(self, season_id: str, field: str) -> dict[str, int]:
        pipeline = [{"$match": {"season_id": season_id}}, {"$group": {"_id": f"${field}", "count": {"$sum": 1}}}]
        cursor = await self.registrations.aggregate(pipeline)
        return {item["_id"]: item["count"] async for item in cursor}
