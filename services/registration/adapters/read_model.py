"""Registration's own projection of registration.events: seasons and unit registrations."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from contracts import Envelope
from infra.mongo import DocumentProjection, payload_fields, public


def _window_change(_: Envelope, data: dict[str, Any]) -> dict[str, Any]:
    return {f"windows.{data['stage']}": data["window"]}


def _registration(envelope: Envelope, data: dict[str, Any]) -> dict[str, Any]:
    moment = "registered_at" if envelope.type == "UnitRegistered" else "amended_at"
    return data | {
        moment: envelope.recorded_at,
        "registered_by": envelope.actor.model_dump(mode="json"),
        "channel": envelope.channel.value,
    }


class RegistrationReadModel(DocumentProjection):
    """Documents per season and per unit registration, updated once per event version."""

    def __init__(self, database: AsyncDatabase) -> None:
        super().__init__(
            database,
            {
                "SeasonOpened": ("seasons", payload_fields),
                "SeasonWindowChanged": ("seasons", _window_change),
                "UnitRegistered": ("unit_registrations", _registration),
                "UnitRegistrationAmended": ("unit_registrations", _registration),
            },
        )
        self.seasons = database["seasons"]
        self.registrations = database["unit_registrations"]

    async def create_indexes(self) -> None:
        await self.seasons.create_index([("season_id", ASCENDING)])
        await self.registrations.create_index([("season_id", ASCENDING), ("credit_code", ASCENDING)])

    async def season(self, season_id: str) -> dict[str, Any] | None:
        return public(await self.seasons.find_one({"season_id": season_id}))

    async def registration(self, season_id: str, credit_code: str) -> dict[str, Any] | None:
        return public(await self.registrations.find_one({"season_id": season_id, "credit_code": credit_code}))

    async def registrations_of(self, season_id: str, *, skip: int, limit: int) -> tuple[int, list[dict[str, Any]]]:
        query = {"season_id": season_id}
        total = await self.registrations.count_documents(query)
        cursor = self.registrations.find(query).sort("credit_code", ASCENDING).skip(skip).limit(limit)
        return total, [public(item) async for item in cursor]
