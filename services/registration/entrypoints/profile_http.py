"""Registration's HTTP API for form profiles: the built-in ones, a season's own, and the organizer's adjustments."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse

from contracts.builtin_profiles import builtin_profiles
from contracts.codes import Channel, Role
from contracts.profiles import FormProfile, ProfileAdjustment
from contracts.registered import SEASON_ID_PATTERN
from contracts.season_profile import profile_of_document
from infra.auth import AuthenticatedActor, require_org, require_role
from infra.errors import NotFound
from infra.http import execute, found

SeasonId = Annotated[str, Path(pattern=SEASON_ID_PATTERN, description="e.g. 370000-2024-team")]


def rendered(profile: FormProfile) -> dict[str, Any]:
    """A profile as JSON, with the labels of its codes (presence, forms, units) for whoever shows it."""
    data = profile.model_dump(mode="json")
    data["labels"] = {
        "forms": {name.value: name.label for name in profile.forms},
        "presence": {
            name.value: {path: rule.presence.label for path, rule in spec.fields.items()}
            for name, spec in profile.forms.items()
        },
    }
    return data


def build_profile_router() -> APIRouter:
    router = APIRouter(tags=["form profiles"])

    @router.get("/profiles", summary="The built-in form profiles (from the provinces' and CAQ's notices)")
    async def list_profiles(actor: AuthenticatedActor) -> dict[str, Any]:  # noqa: ARG001
        items = [
            {"profile_id": profile.profile_id, "version": profile.version, "title": profile.title,
             "kind": profile.kind.value, "sources": profile.sources,
             "forms": [name.value for name in profile.forms],
             "prior_registration_required": profile.prior_registration_required}
            for profile in builtin_profiles().values()
        ]
        return {"total": len(items), "items": items}

    @router.get("/profiles/{profile_id}/versions/{version}", summary="One built-in form profile, field by field")
    async def get_profile(
        profile_id: Annotated[str, Path(max_length=64)], version: Annotated[int, Path(ge=1, le=10_000)],
        actor: AuthenticatedActor,  # noqa: ARG001
    ) -> dict[str, Any]:
        profile = builtin_profiles().get(f"{profile_id}@v{version}")
        if profile is None:
            raise NotFound(f"form profile {profile_id} version {version}")
        return rendered(profile)

    @router.get("/seasons/{season_id}/profile", summary="The season's form profile as it is now")
    async def season_profile(season_id: SeasonId, request: Request, actor: AuthenticatedActor) -> dict[str, Any]:  # noqa: ARG001
        document = found(await request.app.state.read_model.season(season_id), f"season {season_id}")
        return rendered(profile_of_document(document))

    @router.post(
        "/seasons/{season_id}/profile/adjustments",
        summary="Adjust the season's forms (SeasonProfileAdjusted): fields' presence, labels, units, rates and texts; "
        "a profile that contradicts itself is refused",
    )
    async def adjust_profile(
        season_id: SeasonId, body: ProfileAdjustment, request: Request, actor: AuthenticatedActor
    ) -> JSONResponse:
        require_role(actor, Role.ORGANIZER, Role.NATIONAL)
        require_org(actor, season_id.split("-", 1)[0], f"season {season_id}")
        application = request.app.state.application
        return await execute(request, actor, Channel.ORGANIZER, application.adjust_profile, season_id, body, body=body)

    return router
