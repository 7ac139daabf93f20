"""Review's projection: seasons, the units and judges it needs for quotas and conflicts of interest."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from contracts import Envelope
from infra.mongo import DocumentProjection, payload_fields, public


def _unit(_: Envelope, data: dict[str, Any]) -> dict[str, Any]:
    # A judge never scores an entry of his or her own work unit: keep the names to compare.
    keep = ("season_id", "credit_code", "unit_name", "short_name", "recommender_id")
    return {key: data.get(key) for key in keep}


class ReviewReadModel(DocumentProjection):
    """What review needs to know before the first recommendation arrives."""

    def __init__(self, database: AsyncDatabase) -> None:
        super().__init__(
            database,
            {
                "SeasonOpened": ("seasons", payload_fields),
                "UnitRegistered": ("units", _unit),
                "UnitRegistrationAmended": ("units", _unit),
                "JudgeRegistered": ("judges", payload_fields),
            },
        )
        self.seasons = database["seasons"]
        self.units = database["units"]

    async def create_indexes(self) -> None:
        await self.seasons.create_index([("season_id", ASCENDING)])
        await self.units.create_index([("season_id", ASCENDING), ("credit_code", ASCENDING)])

    async def season(self, season_id: str) -> dict[str, Any] | None:
        season = public(await self.seasons.find_one({"season_id": season_id}))
        if season is not None:
            season["units_registered"] = await self.units.count_documents({"season_id": season_id})
        return season
