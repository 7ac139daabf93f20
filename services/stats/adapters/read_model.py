"""Stats' read side for the API: report documents of the active generation and rebuild requests."""

from __future__ import annotations

from pydantic import BaseModel
from pymongo.asynchronous.database import AsyncDatabase

from contracts import Envelope
from services.stats.adapters.store import StatsStore


class StatsReadModel:
    """What the API reads; the worker alone writes the reports (services/stats/entrypoints/messaging.py)."""

    def __init__(self, database: AsyncDatabase) -> None:
        self.database = database
        self.store = StatsStore(database)

    async def create_indexes(self) -> None:
        await self.store.create_indexes()

    async def apply(self, envelope: Envelope, payload: BaseModel) -> bool:  # noqa: ARG002
        raise TypeError("stats' API does not consume events; its worker does")
