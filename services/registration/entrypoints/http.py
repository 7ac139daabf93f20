"""Registration's HTTP API: seasons, unit registrations, recommending units and judges; reads from its projection.

Each route only translates: it takes the grant the service's policy gave the caller (entrypoints/policy.py),
runs one command or one read-model query within it, and answers with personal data masked for the caller
(infra.masking). An object outside the caller's scope answers 404, the same as a missing one.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Request, status
from fastapi.responses import JSONResponse

from contracts.codes import (
    ActivityKind,
    Channel,
    IndustryGroup,
    KeyDomain,
    KeyIndustry,
    QcAchievementType,
    RecommenderCategory,
    RegistrationIntent,
    ReviewForm,
    Role,
    Stage,
    UnitNature,
)
from contracts.common import Window
from contracts.identity import season_key
from contracts.registered import (
    JudgeForm,
    RecommenderForm,
    SeasonOpened,
    UnitRegistrationForm,
)
from infra.authorization import Grant
from infra.errors import RuleViolation
from infra.http import Limit, Skip, execute
from infra.http.openapi import link
from infra.http.security import Authorized
from infra.masking import for_caller
from infra.pages import empty_page, page
from services.registration.entrypoints.feed_http import build_feed_router
from services.registration.entrypoints.parameters import (
    Application,
    CreditCodePath,
    ReadModel,
    RecommenderIdPath,
    RecommenderIdQuery,
    RoundCode,
    SeasonId,
)
from services.registration.entrypoints.profile_http import build_profile_router
from services.registration.entrypoints.requests import (
    CancellationRequest,
    OpenSeasonRequest,
    QuotaRaiseRequest,
    TeamNameSuffixRequest,
    WindowChangeRequest,
)

# The fields of the documents each collection is scoped by (infra.authorization.SCOPE_FIELDS)
RECOMMENDER_FIELDS = ("organizer", "recommender_id")
JUDGE_FIELDS = ("organizer", "recommender_id", "judge_ids")

# --- seasons ---------------------------------------------------------------------------------


async def open_season(body: OpenSeasonRequest, request: Request, grant: Authorized, application: Application) -> JSONResponse:
    grant.claims(f"a season of organizer {body.organizer}", organizer=body.organizer)
    opened = SeasonOpened(season_id=season_key(body.organizer, body.year, body.kind.value), **body.season_fields())
    return await execute(request, grant.actor, Channel.ORGANIZER, application.open_season, opened, body=body)


async def change_window(
    season_id: SeasonId, stage: Stage, body: WindowChangeRequest, request: Request, grant: Authorized,
    application: Application,
) -> JSONResponse:
    return await _change_window(request, grant, application.change_window, season_id, stage, body)


async def change_round_window(
    season_id: SeasonId, round_code: RoundCode, body: WindowChangeRequest, request: Request, grant: Authorized,
    application: Application,
) -> JSONResponse:
    return await _change_window(request, grant, application.change_round_window, season_id, round_code, body)


async def approve_team_name_suffix(
    season_id: SeasonId, body: TeamNameSuffixRequest, request: Request, grant: Authorized, application: Application
) -> JSONResponse:
    return await execute(request, grant.actor, Channel.ORGANIZER, application.approve_team_name_suffix,
                         season_id, body.suffix, body.reason, body=body)


async def get_season(season_id: SeasonId, grant: Authorized, read_model: ReadModel) -> dict[str, Any]:
    return dict(grant.require(await read_model.season(season_id), f"season {season_id}", fields=("organizer",)))


# --- unit registrations ----------------------------------------------------------------------


async def register_unit(
    season_id: SeasonId, body: UnitRegistrationForm, request: Request, grant: Authorized, application: Application
) -> JSONResponse:
    grant.claims(f"unit {body.credit_code}", credit_code=body.credit_code)
    channel = Channel.UNIT if grant.caller and grant.caller.role is Role.UNIT else Channel.ORGANIZER
    return await execute(request, grant.actor, channel, application.register_unit, season_id, body, body=body)


async def get_registration(
    season_id: SeasonId, credit_code: CreditCodePath, grant: Authorized, read_model: ReadModel
) -> dict[str, Any]:
    registration = await read_model.registration(season_id, credit_code.strip().upper())
    shown = grant.require(registration, f"registration of unit {credit_code} for season {season_id}")
    return for_caller(grant.caller, shown)


async def list_registrations(
    season_id: SeasonId,
    grant: Authorized,
    read_model: ReadModel,
    unit_nature: UnitNature | None = None,
    key_domain: KeyDomain | None = None,
    key_industry: KeyIndustry | None = None,
    recommender_id: RecommenderIdQuery = None,
    member: bool | None = None,
    skip: Skip = 0,
    limit: Limit = 50,
) -> dict[str, Any]:
    query = grant.query({
        "unit_nature": unit_nature and unit_nature.value,
        "key_domain": key_domain and key_domain.value,
        "key_industries": key_industry and key_industry.value,
        "recommender_id": recommender_id,
        "member": member,
    })
    return await _masked_page(grant, query, functools.partial(read_model.registrations_of, season_id), skip, limit)


async def registrations_of_unit(
    credit_code: CreditCodePath, grant: Authorized, read_model: ReadModel, skip: Skip = 0, limit: Limit = 50
) -> dict[str, Any]:
    query = grant.query({"credit_code": credit_code.strip().upper()})
    return await _masked_page(grant, query, read_model.registrations_of_unit, skip, limit)


# --- recommending units ------------------------------------------------------------------------


async def register_recommender(
    season_id: SeasonId, body: RecommenderForm, request: Request, grant: Authorized, application: Application
) -> JSONResponse:
    return await execute(request, grant.actor, Channel.ORGANIZER, application.register_recommender, season_id, body,
                         body=body)


async def raise_quota(
    season_id: SeasonId, recommender_id: RecommenderIdPath, body: QuotaRaiseRequest, request: Request,
    grant: Authorized, application: Application,
) -> JSONResponse:
    changes = body.model_dump(mode="json", exclude={"reason"}, exclude_none=True)
    if not changes:
        raise RuleViolation(
            "per_unit_max", "recommender.quota.not_raised", "say what to raise: per_unit_max or per_type_max"
        )
    return await execute(request, grant.actor, Channel.ORGANIZER, application.raise_recommender_quota,
                         season_id, recommender_id, changes, body.reason, body=body)


async def cancel_recommender(
    season_id: SeasonId, recommender_id: RecommenderIdPath, body: CancellationRequest, request: Request,
    grant: Authorized, application: Application,
) -> JSONResponse:
    return await execute(request, grant.actor, Channel.ORGANIZER, application.cancel_recommender,
                         season_id, recommender_id, body.reason, body=body)


async def list_recommenders(
    season_id: SeasonId,
    grant: Authorized,
    read_model: ReadModel,
    category: RecommenderCategory | None = None,
    skip: Skip = 0,
    limit: Limit = 100,
) -> dict[str, Any]:
    query = grant.query({"category": category and category.value}, fields=RECOMMENDER_FIELDS)
    if query is None:
        return empty_page(skip, limit)
    total, items = await read_model.recommenders_of(season_id, skip=skip, limit=limit, filters=query)
    season_quota = await read_model.season_quota(season_id)
    return page(total, skip, limit, [_recommender_shown(grant, item, season_quota) for item in items])


async def get_recommender(
    season_id: SeasonId, recommender_id: RecommenderIdPath, grant: Authorized, read_model: ReadModel
) -> dict[str, Any]:
    item = grant.require(await read_model.recommender(season_id, recommender_id),
                         f"recommending unit {recommender_id} of season {season_id}", fields=RECOMMENDER_FIELDS)
    season_quota = await read_model.season_quota(season_id)
    return _recommender_shown(grant, dict(item), season_quota)


# --- judges -------------------------------------------------------------------------------------


async def register_judge(
    season_id: SeasonId, body: JudgeForm, request: Request, grant: Authorized, application: Application
) -> JSONResponse:
    channel = Channel.ORGANIZER
    if grant.caller and grant.caller.role is Role.RECOMMENDER:
        if body.recommender_id is None:  # a recommending unit registers its own panel
            body = body.model_copy(update={"recommender_id": grant.caller.org})
        channel = Channel.RECOMMENDER
    grant.claims(f"the panel of recommending unit {body.recommender_id}", recommender_id=body.recommender_id)
    return await execute(request, grant.actor, channel, application.register_judge, season_id, body, body=body)


async def list_judges(
    season_id: SeasonId,
    grant: Authorized,
    read_model: ReadModel,
    recommender_id: RecommenderIdQuery = None,
    skip: Skip = 0,
    limit: Limit = 100,
) -> dict[str, Any]:
    query = _roster(grant).query({"recommender_id": recommender_id}, fields=JUDGE_FIELDS)
    return await _masked_page(grant, query, functools.partial(read_model.judges_of, season_id), skip, limit)


# --- codes --------------------------------------------------------------------------------------


async def codes() -> dict[str, Any]:
    return {
        "activity_kinds": ActivityKind.listing(),
        "stages": Stage.listing(),
        "channels": [item for item in Channel.listing() if item["code"] in {"group", "unit", "recommender", "direct"}],
        "unit_natures": UnitNature.listing(),
        "industry_groups": IndustryGroup.listing(),
        "key_industries": KeyIndustry.listing(),
        "key_domains": KeyDomain.listing(),
        "registration_intents": [
            {"code": item.value, "label": item.label, "label_qc_group": item.label_for(ActivityKind.QC_GROUP)}
            for item in RegistrationIntent
        ],
        "qc_achievement_types": QcAchievementType.listing(),
        "recommender_categories": RecommenderCategory.listing(),
        "review_forms": ReviewForm.listing(),
    }


async def _change_window(request: Request, grant: Grant, command: Callable[..., dict[str, Any]], season_id: str,
                         code: str, body: WindowChangeRequest) -> JSONResponse:
    """A stage's or a round's window changed: the same request, answered without the application's `changed` flag."""
    window = Window(opens_at=body.opens_at, closes_at=body.closes_at)
    return await execute(request, grant.actor, Channel.ORGANIZER, _without_changed(command), season_id, code, window,
                         body.reason, body=body)


async def _masked_page(grant: Grant, query: dict[str, Any] | None, find: Callable[..., Awaitable[tuple[int, list[Any]]]],
                       skip: int, limit: int) -> dict[str, Any]:
    """One page of what the query finds, each item masked for the caller; an empty page for a query outside the scope."""
    if query is None:
        return empty_page(skip, limit)
    total, items = await find(skip=skip, limit=limit, filters=query)
    return page(total, skip, limit, [for_caller(grant.caller, item) for item in items])


def _without_changed(command: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """A window command whose answer leaves out the application's `changed` flag (its `event` says so)."""

    def run(*arguments: Any) -> dict[str, Any]:
        result = command(*arguments)
        result.pop("changed", None)
        return result

    return run


def _roster(grant: Grant) -> Grant:
    """The judge roster names a judge by `judge_id`: a judge's scope (its assignments) is its own record there."""
    return replace(grant, fields={"judge_ids": "judge_id"})


def _recommender_shown(grant: Grant, recommender: dict[str, Any], season_quota: dict[str, Any] | None) -> dict[str, Any]:
    """A recommending unit with its effective quota (its own raised one, or the season's), masked for the caller."""
    shown = recommender | {"quota": recommender.get("quota") or season_quota, "quota_raised": bool(recommender.get("quota"))}
    return for_caller(grant.caller, shown)


def register_routes(router: APIRouter) -> None:
    """Registration's own routes, each a function of this module."""
    post, put, get = router.post, router.put, router.get
    post("/seasons", status_code=status.HTTP_201_CREATED, summary="Open a season (组织方)",
         responses={201: {"links": {
             "season": link("get_season_seasons__season_id__get", season_id="$response.body#/season_id"),
             "registrations": link("list_registrations_seasons__season_id__registrations_get",
                                   season_id="$response.body#/season_id")}}})(open_season)
    put("/seasons/{season_id}/windows/{stage}",
        summary="Change one stage's window (SeasonWindowChanged), with a reason; the same window again changes nothing",
        )(change_window)
    put("/seasons/{season_id}/rounds/{round_code}/window",
        summary="Change one review round's window, or 形式审查's (round formal_review), with a reason "
        "(SeasonWindowChanged); the same window again changes nothing")(change_round_window)
    post("/seasons/{season_id}/team-name-suffixes",
         summary="Approve a further ending of team names for a team season (TeamNameSuffixApproved); never 班组",
         )(approve_team_name_suffix)
    get("/seasons/{season_id}", summary="A season as projected")(get_season)

    post("/seasons/{season_id}/registrations", status_code=status.HTTP_201_CREATED,
         summary="Register a unit for a season (报名表); registering again amends",
         responses={200: {"description": "an existing registration was amended"},
                    201: {"links": {"registration": link(
                        "get_registration_seasons__season_id__registrations__credit_code__get",
                        season_id="$response.body#/season_id", credit_code="$response.body#/credit_code")}}},
         )(register_unit)
    get("/seasons/{season_id}/registrations/{credit_code}", summary="A unit's registration")(get_registration)
    get("/seasons/{season_id}/registrations",
        summary="A season's registrations within the caller's scope, filtered and paginated")(list_registrations)
    get("/units/{credit_code}/registrations", summary="A unit's registrations across seasons")(registrations_of_unit)

    post("/seasons/{season_id}/recommenders", status_code=status.HTTP_201_CREATED,
         summary="Register a recommending unit (推荐单位) for a season (组织方)")(register_recommender)
    put("/seasons/{season_id}/recommenders/{recommender_id}/quota",
        summary="Raise one recommending unit's quota above the season's (RecommenderQuotaRaised), with a reason",
        )(raise_quota)
    post("/seasons/{season_id}/recommenders/{recommender_id}/cancellation",
         summary="取消推荐资格: void a recommending unit's right to recommend, with a reason (RecommenderCancelled)",
         )(cancel_recommender)
    get("/seasons/{season_id}/recommenders", summary="A season's recommending units")(list_recommenders)
    get("/seasons/{season_id}/recommenders/{recommender_id}", summary="One recommending unit of a season")(get_recommender)

    post("/seasons/{season_id}/judges", status_code=status.HTTP_201_CREATED,
         summary="Register a judge (评委) for a season: by the organizer, or by a recommending unit for its own panel",
         )(register_judge)
    get("/seasons/{season_id}/judges",
        summary="A season's judges within the caller's scope; contacts masked unless the caller may see them",
        )(list_judges)

    get("/codes", summary="The coded values of the registration forms with their Chinese labels")(codes)


def build_router() -> APIRouter:
    router = APIRouter(tags=["registration"])
    router.include_router(build_feed_router())
    router.include_router(build_profile_router())
    register_routes(router)
    return router
