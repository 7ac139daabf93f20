"""Submission's projection: the seasons and registered units it learns from registration.events."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from contracts import Envelope
from infra.mongo import DocumentProjection, payload_fields, public


def _window_change(_: Envelope, data: dict[str, Any]) -> dict[str, Any]:
    return {f"windows.{data['stage']}": data["window"]}


def _unit(_: Envelope, data: dict[str, Any]) -> dict[str, Any]:
    # Only what submission checks entries against: identity, names, recommending unit.
    keep = ("season_id", "credit_code", "unit_name", "short_name", "member", "recommender_id", "intents")
    return {key: data.get(key) for key in keep}


class SubmissionReadModel(DocumentProjection):
    """Seasons with their windows and the units registered for them, never asked of registration directly."""

    def __init__(self, database: AsyncDatabase) -> None:
        super().__init__(
            database,
            {
                "SeasonOpened": ("seasons", payload_fields),
                "SeasonWindowChanged": ("seasons", _window_change),
                "UnitRegistered": ("registered_units", _unit),
                "UnitRegistrationAmended": ("registered_units", _unit),
            },
        )
        self.seasons = database["seasons"]
        self.units = database["registered_units"]

    async def create_indexes(self) -> None:
        await self.seasons.create_index([("season_id", ASCENDING)])
        await self.units.create_index([("season_id", ASCENDING), ("credit_code", ASCENDING)])

    async def season(self, season_id: str) -> dict[str, Any] | None:
        return public(await self.seasons.find_one({"season_id": season_id}))

    async def unit(self, season_id: str, credit_code: str) -> dict[str, Any] | None:
        return public(await self.units.find_one({"season_id": season_id, "credit_code": credit_code}))
