"""Registration's HTTP API for form profiles: the built-in ones, a season's own, and the organizer's adjustments."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse

from contracts.builtin_profiles import builtin_profiles
from contracts.codes import Channel
from contracts.profiles import FormProfile, ProfileAdjustment
from contracts.season_profile import profile_of_document
from infra.errors import NotFound
from infra.http import execute
from infra.http.security import Authorized
from services.registration.entrypoints.parameters import (
    Application,
    ReadModel,
    SeasonId,
)

ProfileId = Annotated[str, Path(max_length=64)]
ProfileVersion = Annotated[int, Path(ge=1, le=10_000)]


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


async def list_profiles() -> dict[str, Any]:
    items = [
        {"profile_id": profile.profile_id, "version": profile.version, "title": profile.title,
         "kind": profile.kind.value, "sources": profile.sources,
         "forms": [name.value for name in profile.forms],
         "prior_registration_required": profile.prior_registration_required}
        for profile in builtin_profiles().values()
    ]
    return {"total": len(items), "items": items}


async def get_profile(profile_id: ProfileId, version: ProfileVersion) -> dict[str, Any]:
    profile = builtin_profiles().get(f"{profile_id}@v{version}")
    if profile is None:
        raise NotFound(f"form profile {profile_id} version {version}")
    return rendered(profile)


async def season_profile(season_id: SeasonId, grant: Authorized, read_model: ReadModel) -> dict[str, Any]:
    document = grant.require(await read_model.season(season_id), f"season {season_id}", fields=("organizer",))
    return rendered(profile_of_document(dict(document)))


async def adjust_profile(
    season_id: SeasonId, body: ProfileAdjustment, request: Request, grant: Authorized, application: Application
) -> JSONResponse:
    return await execute(request, grant.actor, Channel.ORGANIZER, application.adjust_profile, season_id, body, body=body)


def register_routes(router: APIRouter) -> None:
    """The form profiles' routes, each a function of this module."""
    router.get("/profiles", summary="The built-in form profiles (from the provinces' and CAQ's notices)")(list_profiles)
    router.get("/profiles/{profile_id}/versions/{version}",
               summary="One built-in form profile, field by field")(get_profile)
    router.get("/seasons/{season_id}/profile", summary="The season's form profile as it is now")(season_profile)
    router.post(
        "/seasons/{season_id}/profile/adjustments",
        summary="Adjust the season's forms (SeasonProfileAdjusted): fields' presence, labels, units, rates and texts; "
        "a profile that contradicts itself is refused",
    )(adjust_profile)


def build_profile_router() -> APIRouter:
    router = APIRouter(tags=["form profiles"])
    register_routes(router)
    return router
