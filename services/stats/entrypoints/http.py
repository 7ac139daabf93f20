"""Stats' HTTP API: reports."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from infra.auth import AuthenticatedActor
from infra.http import found
from services.stats.application import season_overview
from services.stats.entrypoints.audit_http import build_audit_router


def build_router() -> APIRouter:
    router = APIRouter(tags=["stats"])
    router.include_router(build_audit_router())

    @router.get("/seasons/{season_id}/overview", summary="Season overview: registrations by unit nature and domain")
    async def overview(season_id: str, request: Request, actor: AuthenticatedActor) -> dict[str, Any]:  # noqa: ARG001
        report = await season_overview(request.app.state.read_model, season_id)
        return found(report, f"season {season_id}")

    return router
