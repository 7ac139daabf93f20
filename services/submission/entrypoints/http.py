"""Submission's HTTP API: what it knows of seasons and registered units (from its own projection)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from infra.auth import AuthenticatedActor
from infra.http import found
from services.submission.adapters.read_model import SubmissionReadModel


def build_router() -> APIRouter:
    router = APIRouter(tags=["submission"])

    @router.get("/seasons/{season_id}", summary="A season as submission knows it")
    async def get_season(season_id: str, request: Request, actor: AuthenticatedActor) -> dict[str, Any]:  # noqa: ARG001
        return found(await _read_model(request).season(season_id), f"season {season_id}")

    @router.get("/seasons/{season_id}/units/{credit_code}", summary="A unit registered for the season")
    async def get_unit(
        season_id: str, credit_code: str, request: Request, actor: AuthenticatedActor  # noqa: ARG001
    ) -> dict[str, Any]:
        unit = await _read_model(request).unit(season_id, credit_code.upper())
        return found(unit, f"unit {credit_code} registered for season {season_id}")

    return router


def _read_model(request: Request) -> SubmissionReadModel:
    return request.app.state.read_model
