"""Registration's HTTP API: seasons, unit registrations, recommending units and judges; reads from its projection."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import Field

from contracts import Actor
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
from contracts.common import Payload, Window
from contracts.identity import RegionCode, season_key
from contracts.registered import (
    RECOMMENDER_ID_PATTERN,
    SEASON_ID_PATTERN,
    GradeBand,
    JudgeForm,
    ProvinceQuota,
    QuotaRule,
    RecommenderForm,
    ReviewRound,
    Rubric,
    SeasonOpened,
    UnitRegistrationForm,
)
from contracts.profiles import ProfileRef
from contracts.scored import ReviewStage
from infra.auth import AuthenticatedActor, require_org, require_role
from infra.errors import RuleViolation
from infra.http import Limit, Skip, command_answer, command_context, execute, found, idempotency_for
from services.registration.adapters.read_model import RegistrationReadModel
from services.registration.entrypoints.feed_http import build_feed_router
from services.registration.entrypoints.profile_http import build_profile_router
from services.registration.application import RegistrationApplication
from services.registration.domain.season import check_stage_weights

SeasonId = Annotated[str, Path(pattern=SEASON_ID_PATTERN, description="e.g. 310000-2024-qc_group")]
CreditCodePath = Annotated[str, Path(pattern=r"^\s*[0-9A-Za-z]{18}\s*$", description="统一社会信用代码")]
RecommenderIdPath = Annotated[str, Path(pattern=RECOMMENDER_ID_PATTERN)]
RecommenderIdQuery = Annotated[str | None, Query(pattern=RECOMMENDER_ID_PATTERN)]
STAFF = {Role.NATIONAL, Role.AUDITOR}


class OpenSeasonRequest(Payload):
    """What an organizer fills in to open a season; the season id follows from organizer, year and kind."""

    organizer: RegionCode
    organizer_name: str = Field(min_length=2, max_length=100)
    year: int = Field(ge=2000, le=2100)
    kind: ActivityKind
    title: str = Field(min_length=2, max_length=200)
    windows: dict[Stage, Window]
    channels: list[Channel] = Field(min_length=1, max_length=10)
    quota: QuotaRule | None = Field(default=None, description="the kind's quota from the notices when left out")
    rubrics: list[Rubric] = Field(default_factory=list, max_length=20)
    grade_bands: list[GradeBand] = Field(default_factory=list, max_length=10)
    stage_weights: dict[ReviewStage, Annotated[Decimal, Field(ge=0, le=100, decimal_places=4)]] = Field(
        default_factory=dict, description="weights of 文审 and 发表赛 in the combined score, e.g. 0.4 and 0.6"
    )
    judges_per_entry: dict[ReviewStage, Annotated[int, Field(ge=1, le=15)]] = Field(
        default_factory=dict, description="judges per entry and stage; the platform's default (5) where left out"
    )
    # --- review rounds ---
    formal_review: Window | None = Field(default=None, description="形式审查: its own window (e.g. by 07-20)")
    rounds: list[ReviewRound] | None = Field(
        default=None, min_length=1, max_length=10,
        description="the review rounds in their order (初审, 发表赛 …); left out, 文审 then 发表赛 with the stage "
        "weights and judges per entry above",
    )
    grade_not_advanced: bool = Field(
        default=False, description="entries a gate did not advance are graded from the rounds they took part in"
    )

    def season_fields(self) -> dict[str, Any]:
        """The SeasonOpened fields: rounds as given, or the two rounds of the stage weights and judges per entry."""
        if self.rounds is not None and (self.stage_weights or self.judges_per_entry):
            field = "stage_weights" if self.stage_weights else "judges_per_entry"
            raise RuleViolation(
                field, "season.rounds.with_stage_fields",
                f"{field} is given per round when the season declares its rounds (rounds.N.weight, "
                "rounds.N.judges_per_entry)",
            )
        check_stage_weights(self.stage_weights)
        exclude = {"rounds"} if self.rounds is None else {"stage_weights", "judges_per_entry"}
        return self.model_dump(mode="json", exclude=exclude)  # SeasonOpened makes rounds of the stage fields
    # --- end of review rounds ---
    filings_before_recommending: bool = Field(
        default=False, description="基础性条件: 统计表 and 工作总结 filed before a recommending unit recommends"
    )
    entries_per_unit_max: int | None = Field(
        default=None, ge=1, le=50, description="申报 limit per participating unit (teams 2024: 2-3); none when left out"
    )
    province_quota: ProvinceQuota | None = Field(
        default=None, description="national seasons: how many entries each province may recommend (全国推荐名额)"
    )
    profile: ProfileRef | None = Field(
        default=None, description="a built-in form profile (GET /profiles); Shanghai's of the kind when left out"
    )


class WindowChangeRequest(Window):
    """A stage's new window, and why it changes (e.g. 申报截止时间延长)."""

    reason: str = Field(min_length=2, max_length=500)


class CancellationRequest(Payload):
    """取消推荐资格: why the recommending unit loses its right to recommend (e.g. it charged fees)."""

    reason: str = Field(min_length=2, max_length=500)


class TeamNameSuffixRequest(Payload):
    """A further ending of team names for a team season (车间, 站, 队 …), and why."""

    suffix: str = Field(min_length=1, max_length=4, pattern=r"^[\u4e00-\u9fff]{1,4}$", title="班组名称结尾")
    reason: str = Field(min_length=2, max_length=500)


class QuotaRaiseRequest(Payload):
    """A larger quota for one recommending unit; what is left out stays as it is."""

    per_unit_max: int | None = Field(default=None, ge=1, le=50)
    per_type_max: dict[QcAchievementType, Annotated[int, Field(ge=0, le=50)]] | None = None
    reason: str = Field(min_length=2, max_length=500)


def build_router() -> APIRouter:
    router = APIRouter(tags=["registration"])
    router.include_router(build_feed_router())
    router.include_router(build_profile_router())

    # --- seasons ---------------------------------------------------------------------------

    @router.post("/seasons", status_code=status.HTTP_201_CREATED, summary="Open a season (组织方)")
    async def open_season(body: OpenSeasonRequest, request: Request, actor: AuthenticatedActor) -> JSONResponse:
        require_role(actor, Role.ORGANIZER, Role.NATIONAL)
        require_org(actor, body.organizer, f"organizer {body.organizer}")
        opened = SeasonOpened(season_id=season_key(body.organizer, body.year, body.kind.value), **body.season_fields())
        context = command_context(request, actor, Channel.ORGANIZER)
        result = await asyncio.to_thread(
            _application(request).open_season, opened, context, idempotency_for(request, actor, body)
        )
        return command_answer(result)

    @router.put(
        "/seasons/{season_id}/windows/{stage}",
        summary="Change one stage's window (SeasonWindowChanged), with a reason; the same window again changes nothing",
    )
    async def change_window(
        season_id: SeasonId, stage: Stage, body: WindowChangeRequest, request: Request, actor: AuthenticatedActor
    ) -> JSONResponse:
        _require_season_organizer(actor, season_id)
        window = Window(opens_at=body.opens_at, closes_at=body.closes_at)
        context = command_context(request, actor, Channel.ORGANIZER)
        result = await asyncio.to_thread(
            _application(request).change_window,
            season_id, stage, window, body.reason, context, idempotency_for(request, actor, body),
        )
        result.pop("changed", None)
        return command_answer(result)

    @router.put(
        "/seasons/{season_id}/rounds/{round_code}/window",
        summary="Change one review round's window, or 形式审查's (round formal_review), with a reason "
        "(SeasonWindowChanged); the same window again changes nothing",
    )
    async def change_round_window(
        season_id: SeasonId,
        round_code: Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,39}$", description="e.g. initial_review")],
        body: WindowChangeRequest,
        request: Request,
        actor: AuthenticatedActor,
    ) -> JSONResponse:
        _require_season_organizer(actor, season_id)
        window = Window(opens_at=body.opens_at, closes_at=body.closes_at)
        context = command_context(request, actor, Channel.ORGANIZER)
        result = await asyncio.to_thread(
            _application(request).change_round_window,
            season_id, round_code, window, body.reason, context, idempotency_for(request, actor, body),
        )
        result.pop("changed", None)
        return command_answer(result)

    @router.post(
        "/seasons/{season_id}/team-name-suffixes",
        summary="Approve a further ending of team names for a team season (TeamNameSuffixApproved); never 班组",
    )
    async def approve_team_name_suffix(
        season_id: SeasonId, body: TeamNameSuffixRequest, request: Request, actor: AuthenticatedActor
    ) -> JSONResponse:
        _require_season_organizer(actor, season_id)
        context = command_context(request, actor, Channel.ORGANIZER)
        result = await asyncio.to_thread(
            _application(request).approve_team_name_suffix,
            season_id, body.suffix, body.reason, context, idempotency_for(request, actor, body),
        )
        return command_answer(result)

    @router.get("/seasons/{season_id}", summary="A season as projected")
    async def get_season(season_id: SeasonId, request: Request, actor: AuthenticatedActor) -> dict[str, Any]:  # noqa: ARG001
        return found(await _read_model(request).season(season_id), f"season {season_id}")

    # --- unit registrations ------------------------------------------------------------------

    @router.post(
        "/seasons/{season_id}/registrations",
        summary="Register a unit for a season (报名表); registering again amends",
        responses={200: {"description": "an existing registration was amended"}},
    )
    async def register_unit(
        season_id: SeasonId, body: UnitRegistrationForm, request: Request, actor: AuthenticatedActor
    ) -> JSONResponse:
        require_role(actor, Role.UNIT, Role.ORGANIZER)
        if actor.role is Role.UNIT:
            require_org(actor, body.credit_code, f"unit {body.credit_code}")
        else:
            require_org(actor, _organizer_of(season_id), f"season {season_id}")
        channel = Channel.UNIT if actor.role is Role.UNIT else Channel.ORGANIZER
        return await execute(request, actor, channel, _application(request).register_unit, season_id, body, body=body)

    @router.get("/seasons/{season_id}/registrations/{credit_code}", summary="A unit's registration")
    async def get_registration(
        season_id: SeasonId, credit_code: CreditCodePath, request: Request, actor: AuthenticatedActor
    ) -> dict[str, Any]:
        registration = await _read_model(request).registration(season_id, credit_code.strip().upper())
        return _registration_for(actor, found(registration, f"registration of unit {credit_code} for season {season_id}"))

    @router.get("/seasons/{season_id}/registrations", summary="A season's registrations, filtered and paginated")
    async def list_registrations(
        season_id: SeasonId,
        request: Request,
        actor: AuthenticatedActor,
        unit_nature: UnitNature | None = None,
        key_domain: KeyDomain | None = None,
        key_industry: KeyIndustry | None = None,
        recommender_id: RecommenderIdQuery = None,
        member: bool | None = None,
        skip: Skip = 0,
        limit: Limit = 50,
    ) -> dict[str, Any]:
        filters = {
            "unit_nature": unit_nature and unit_nature.value,
            "key_domain": key_domain and key_domain.value,
            "key_industries": key_industry and key_industry.value,
            "recommender_id": recommender_id,
            "member": member,
        }
        total, items = await _read_model(request).registrations_of(season_id, skip=skip, limit=limit, filters=filters)
        return _page(total, skip, limit, [_registration_for(actor, item) for item in items])

    @router.get("/units/{credit_code}/registrations", summary="A unit's registrations across seasons")
    async def registrations_of_unit(
        credit_code: CreditCodePath,
        request: Request,
        actor: AuthenticatedActor,
        skip: Skip = 0,
        limit: Limit = 50,
    ) -> dict[str, Any]:
        total, items = await _read_model(request).registrations_of_unit(credit_code.strip().upper(), skip=skip, limit=limit)
        return _page(total, skip, limit, [_registration_for(actor, item) for item in items])

    # --- recommending units --------------------------------------------------------------------

    @router.post(
        "/seasons/{season_id}/recommenders", status_code=status.HTTP_201_CREATED,
        summary="Register a recommending unit (推荐单位) for a season (组织方)",
    )
    async def register_recommender(
        season_id: SeasonId, body: RecommenderForm, request: Request, actor: AuthenticatedActor
    ) -> JSONResponse:
        _require_season_organizer(actor, season_id)
        return await execute(request, actor, Channel.ORGANIZER, _application(request).register_recommender, season_id, body, body=body)

    @router.put(
        "/seasons/{season_id}/recommenders/{recommender_id}/quota",
        summary="Raise one recommending unit's quota above the season's (RecommenderQuotaRaised), with a reason",
    )
    async def raise_quota(
        season_id: SeasonId,
        recommender_id: RecommenderIdPath,
        body: QuotaRaiseRequest,
        request: Request,
        actor: AuthenticatedActor,
    ) -> JSONResponse:
        _require_season_organizer(actor, season_id)
        changes = body.model_dump(mode="json", exclude={"reason"}, exclude_none=True)
        if not changes:
            raise RuleViolation(
                "per_unit_max", "recommender.quota.not_raised", "say what to raise: per_unit_max or per_type_max"
            )
        context = command_context(request, actor, Channel.ORGANIZER)
        result = await asyncio.to_thread(
            _application(request).raise_recommender_quota,
            season_id, recommender_id, changes, body.reason, context, idempotency_for(request, actor, body),
        )
        return command_answer(result)

    @router.post(
        "/seasons/{season_id}/recommenders/{recommender_id}/cancellation",
        summary="取消推荐资格: void a recommending unit's right to recommend, with a reason (RecommenderCancelled)",
    )
    async def cancel_recommender(
        season_id: SeasonId,
        recommender_id: RecommenderIdPath,
        body: CancellationRequest,
        request: Request,
        actor: AuthenticatedActor,
    ) -> JSONResponse:
        _require_season_organizer(actor, season_id)
        context = command_context(request, actor, Channel.ORGANIZER)
        result = await asyncio.to_thread(
            _application(request).cancel_recommender,
            season_id, recommender_id, body.reason, context, idempotency_for(request, actor, body),
        )
        return command_answer(result)

    @router.get("/seasons/{season_id}/recommenders", summary="A season's recommending units")
    async def list_recommenders(
        season_id: SeasonId,
        request: Request,
        actor: AuthenticatedActor,
        category: RecommenderCategory | None = None,
        skip: Skip = 0,
        limit: Limit = 100,
    ) -> dict[str, Any]:
        read_model = _read_model(request)
        total, items = await read_model.recommenders_of(
            season_id, skip=skip, limit=limit, category=category and category.value
        )
        season_quota = (await read_model.season(season_id) or {}).get("quota")
        return _page(total, skip, limit, [_recommender_for(actor, item, season_quota) for item in items])

    @router.get("/seasons/{season_id}/recommenders/{recommender_id}", summary="One recommending unit of a season")
    async def get_recommender(
        season_id: SeasonId,
        recommender_id: RecommenderIdPath,
        request: Request,
        actor: AuthenticatedActor,
    ) -> dict[str, Any]:
        read_model = _read_model(request)
        item = found(
            await read_model.recommender(season_id, recommender_id),
            f"recommending unit {recommender_id} of season {season_id}",
        )
        season_quota = (await read_model.season(season_id) or {}).get("quota")
        return _recommender_for(actor, item, season_quota)

    # --- judges ---------------------------------------------------------------------------------

    @router.post(
        "/seasons/{season_id}/judges", status_code=status.HTTP_201_CREATED,
        summary="Register a judge (评委) for a season: by the organizer, or by a recommending unit for its own panel",
    )
    async def register_judge(
        season_id: SeasonId, body: JudgeForm, request: Request, actor: AuthenticatedActor
    ) -> JSONResponse:
        require_role(actor, Role.ORGANIZER, Role.NATIONAL, Role.RECOMMENDER)
        if actor.role is Role.RECOMMENDER:
            if body.recommender_id is None:
                body = body.model_copy(update={"recommender_id": actor.org})
            require_org(actor, body.recommender_id or "", f"the panel of recommending unit {body.recommender_id}")
            channel = Channel.RECOMMENDER
        else:
            require_org(actor, _organizer_of(season_id), f"season {season_id}")
            channel = Channel.ORGANIZER
        return await execute(request, actor, channel, _application(request).register_judge, season_id, body, body=body)

    @router.get("/seasons/{season_id}/judges", summary="A season's judges; contacts masked unless the caller may see them")
    async def list_judges(
        season_id: SeasonId,
        request: Request,
        actor: AuthenticatedActor,
        recommender_id: RecommenderIdQuery = None,
        skip: Skip = 0,
        limit: Limit = 100,
    ) -> dict[str, Any]:
        total, items = await _read_model(request).judges_of(
            season_id, skip=skip, limit=limit, recommender_id=recommender_id
        )
        return _page(total, skip, limit, [_judge_for(actor, item) for item in items])

    # --- codes ----------------------------------------------------------------------------------

    @router.get("/codes", summary="The coded values of the registration forms with their Chinese labels")
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

    return router


def _application(request: Request) -> RegistrationApplication:
    return request.app.state.application


def _read_model(request: Request) -> RegistrationReadModel:
    return request.app.state.read_model


def _organizer_of(season_id: str) -> str:
    """Season ids begin with their organizer's code (310000-2024-qc_group)."""
    return season_id.split("-", 1)[0]


def _require_season_organizer(actor: Actor, season_id: str) -> None:
    require_role(actor, Role.ORGANIZER, Role.NATIONAL)
    require_org(actor, _organizer_of(season_id), f"season {season_id}")


def _page(total: int, skip: int, limit: int, items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"total": total, "skip": skip, "limit": limit, "items": items}


def _organizer_staff(actor: Actor, document: dict[str, Any]) -> bool:
    """The season's own organizer, the national association and auditors see personal data."""
    if actor.role in STAFF:
        return True
    organizer = document.get("organizer") or _organizer_of(str(document.get("season_id", "")))
    return actor.role is Role.ORGANIZER and actor.org == organizer


def mask_mobile(value: str | None) -> str | None:
    return value[:3] + "****" + value[-4:] if value and len(value) >= 7 else value


def mask_email(value: str | None) -> str | None:
    if not value:
        return value
    name, _, domain = value.partition("@")
    return name[:1] + "***@" + domain


def mask_text(value: str | None) -> str | None:
    return value[:3] + "****" if value else value


def _registration_for(actor: Actor, registration: dict[str, Any]) -> dict[str, Any]:
    """The unit itself, its recommending unit and the season's organizer see the promoter's contacts; others masked."""
    if (
        _organizer_staff(actor, registration)
        or (actor.role is Role.UNIT and actor.org == registration.get("credit_code"))
        or (actor.role is Role.RECOMMENDER and registration.get("recommender_id") and actor.org == registration["recommender_id"])
    ):
        return registration
    promoter = dict(registration.get("promoter") or {})
    promoter["mobile"] = mask_mobile(promoter.get("mobile"))
    promoter["email"] = mask_email(promoter.get("email"))
    return registration | {"promoter": promoter, "masked": True}


def _recommender_for(actor: Actor, recommender: dict[str, Any], season_quota: dict[str, Any] | None) -> dict[str, Any]:
    shown = recommender | {
        "quota": recommender.get("quota") or season_quota,
        "quota_raised": bool(recommender.get("quota")),
    }
    if _organizer_staff(actor, recommender) or (
        actor.role is Role.RECOMMENDER and actor.org == recommender.get("recommender_id")
    ):
        return shown
    contacts = [
        contact | {"mobile": mask_mobile(contact.get("mobile")), "email": mask_email(contact.get("email")),
                   "phone": contact.get("phone")}
        for contact in recommender.get("contacts") or []
    ]
    return shown | {"contacts": contacts, "masked": True}


def _judge_for(actor: Actor, judge: dict[str, Any]) -> dict[str, Any]:
    """Judges' contacts: for the season's organizer and the recommending unit whose panel they sit on."""
    if _organizer_staff(actor, judge) or (
        actor.role is Role.RECOMMENDER and judge.get("recommender_id") and actor.org == judge["recommender_id"]
    ):
        return judge
    return judge | {
        "mobile": mask_mobile(judge.get("mobile")),
        "email": mask_email(judge.get("email")),
        "address": mask_text(judge.get("address")),
        "masked": True,
    }
