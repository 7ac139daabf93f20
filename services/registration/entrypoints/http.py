"""Registration's HTTP API: open seasons, register units, read the projection."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import Field

from contracts import Actor
from contracts.codes import ActivityKind, Channel, Role, Stage
from contracts.common import Payload, Window
from contracts.identity import RegionCode, season_key
from contracts.registered import SeasonOpened, UnitRegistrationForm
from infra.auth import AuthenticatedActor, require_org, require_role
from infra.http import command_answer, command_context, found, idempotency_for
from services.registration.adapters.read_model import RegistrationReadModel
from services.registration.application import RegistrationApplication


class OpenSeasonRequest(Payload):
    """What an organizer fills in to open a season; the season id follows from it."""

    organizer: RegionCode
    organizer_name: str = Field(min_length=2, max_length=100)
    year: int = Field(ge=2000, le=2100)
    kind: ActivityKind
    title: str = Field(min_length=2, max_length=200)
    windows: dict[Stage, Window]
    channels: list[Channel] = Field(min_length=1)


def build_router() -> APIRouter:
    router = APIRouter(tags=["registration"])

    @router.post("/seasons", status_code=status.HTTP_201_CREATED, summary="Open a season (组织方)")
    async def open_season(body: OpenSeasonRequest, request: Request, actor: AuthenticatedActor) -> JSONResponse:
        require_role(actor, Role.ORGANIZER, Role.NATIONAL)
        require_org(actor, body.organizer, f"organizer {body.organizer}")
        opened = SeasonOpened(
            season_id=season_key(body.organizer, body.year, body.kind.value), **body.model_dump()
        )
        context = command_context(request, actor, Channel.ORGANIZER)
        result = await asyncio.to_thread(
            _application(request).open_season, opened, context, idempotency_for(request, actor, body)
        )
        return command_answer(result)

    @router.post(
        "/seasons/{season_id}/registrations",
        summary="Register a unit for a season (报名表); registering again amends",
        responses={200: {"description": "an existing registration was amended"}},
    )
    async def register_unit(
        season_id: str, body: UnitRegistrationForm, request: Request, actor: AuthenticatedActor
    ) -> JSONResponse:
        require_role(actor, Role.UNIT, Role.ORGANIZER)
        if actor.role is Role.UNIT:
            require_org(actor, body.credit_code, f"unit {body.credit_code}")
        else:
            require_org(actor, season_id.split("-")[0], f"season {season_id}")
        channel = Channel.UNIT if actor.role is Role.UNIT else Channel.ORGANIZER
        context = command_context(request, actor, channel)
        result = await asyncio.to_thread(
            _application(request).register_unit, season_id, body, context, idempotency_for(request, actor, body)
        )
        return command_answer(result)

    @router.get("/seasons/{season_id}", summary="A season as projected")
    async def get_season(season_id: str, request: Request, actor: AuthenticatedActor) -> dict[str, Any]:  # noqa: ARG001
        return found(await _read_model(request).season(season_id), f"season {season_id}")

    @router.get("/seasons/{season_id}/registrations/{credit_code}", summary="A unit's registration")
    async def get_registration(
        season_id: str, credit_code: str, request: Request, actor: AuthenticatedActor
    ) -> dict[str, Any]:
        registration = await _read_model(request).registration(season_id, credit_code.upper())
        return _masked_for(actor, found(registration, f"registration of unit {credit_code} for season {season_id}"))

    @router.get("/seasons/{season_id}/registrations", summary="A season's registrations, paginated")
    async def list_registrations(
        season_id: str,
        request: Request,
        actor: AuthenticatedActor,
        skip: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> dict[str, Any]:
        total, items = await _read_model(request).registrations_of(season_id, skip=skip, limit=limit)
        return {"total": total, "skip": skip, "limit": limit, "items": [_masked_for(actor, item) for item in items]}

    return router


def _application(request: Request) -> RegistrationApplication:
    return request.app.state.application


def _read_model(request: Request) -> RegistrationReadModel:
    return request.app.state.read_model


def _masked_for(actor: Actor, registration: dict[str, Any]) -> dict[str, Any]:
    """Contacts are personal data: the unit itself and organizers see them, others see them masked."""
    if actor.role in {Role.ORGANIZER, Role.NATIONAL, Role.AUDITOR} or actor.org == registration.get("credit_code"):
        return registration
    promoter = dict(registration.get("promoter") or {})
    if promoter.get("mobile"):
        promoter["mobile"] = promoter["mobile"][:3] + "****" + promoter["mobile"][-4:]
    if promoter.get("email"):
        name, _, domain = promoter["email"].partition("@")
        promoter["email"] = name[:1] + "***@" + domain
    return registration | {"promoter": promoter}
