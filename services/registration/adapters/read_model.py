"""Registration's own projection of registration.events: seasons and unit registrations."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from contracts import Envelope
from infra.mongo import apply_versioned, public


class RegistrationReadModel:
    """Documents per season and per unit registration, updated once per event version."""

    def __init__(self, database: AsyncDatabase) -> None:
        self.seasons = database["seasons"]
        self.registrations = database["unit_registrations"]

    async def create_indexes(self) -> None:
        await self.registrations.create_index([("season_id", ASCENDING), ("credit_code", ASCENDING)])

    async def apply(self, envelope: Envelope, payload: BaseModel) -> bool:
        data = payload.model_dump(mode="json")
        if envelope.type in {"SeasonOpened"}:
            return await apply_versioned(self.seasons, envelope.aggregate_id, envelope, data)
        if envelope.type == "SeasonWindowChanged":
            return await apply_versioned(
                self.seasons, envelope.aggregate_id, envelope, {f"windows.{data['stage']}": data["window"]}
            )
        if envelope.type in {"UnitRegistered", "UnitRegistrationAmended"}:
            fields = data | {
                "registered_at" if envelope.type == "UnitRegistered" else "amended_at": envelope.recorded_at,
                "registered_by": envelope.actor.model_dump(mode="json"),
                "channel": envelope.channel.value,
            }
            return await apply_versioned(self.registrations, envelope.aggregate_id, envelope, fields)
        return False

    async def season(self, season_id: str) -> dict[str, Any] | None:
        return public(await self.seasons.find_one({"season_id": season_id}))

    async def registration(self, season_id: str, credit_code: str) -> dict[str, Any] | None:
        return public(await self.registrations.find_one({"season_id": season_id, "credit_code": credit_code}))

    async def registrations_of(self, season_id: str, *, skip: int, limit: int) -> tuple[int, list[dict[str, Any]]]:
        query = {"season_id": season_id}
        total = await self.registrations.count_documents(query)
        cursor = self.registrations.find(query).sort("credit_code", ASCENDING).skip(skip).limit(limit)
        return total, [public(item) async for item in cursor]
