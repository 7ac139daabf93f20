"""Review's HTTP API: what review knows of a season."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from infra.auth import AuthenticatedActor
from infra.http import found
from services.review.adapters.read_model import ReviewReadModel


def build_router() -> APIRouter:
    router = APIRouter(tags=["review"])

    @router.get("/seasons/{season_id}", summary="A season as review knows it, with its registered units count")
    async def get_season(season_id: str, request: Request, actor: AuthenticatedActor) -> dict[str, Any]:  # noqa: ARG001
        read_model: ReviewReadModel = request.app.state.read_model
        return found(await read_model.season(season_id), f"season {season_id}")

    return router
