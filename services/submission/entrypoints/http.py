"""Submission's HTTP API: entries through 班组通道 / 单位通道 (or the organizer for the direct channel),
statistics tables and work summaries through 推荐通道, and queries of submission's own projection.

Seasons and registered units are read from submission's read model (fed by registration.events)
and handed to the synchronous commands as plain data; submission never calls registration.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import JSONResponse

from contracts import Actor
from contracts.codes import ActivityKind, Channel, QcAchievementType, Role
from contracts.submitted import (
    Confirmation,
    EntryStatus,
    QcAchievementForm,
    QcStatisticsForm,
    TeamExperienceForm,
    TeamStatisticsForm,
    Withdrawal,
    WorkSummaryForm,
)
from infra.auth import AuthenticatedActor, require_org, require_role
from infra.http import FULL_VIEW, Limit, PathId, Skip, execute, found
from infra.errors import NotFound
from services.submission.adapters.read_model import SubmissionReadModel
from services.submission.entrypoints.feed_http import build_feed_router
from services.submission.application import SubmissionApplication
from services.submission.domain.entry import EntryFormModel
from services.submission.domain.season import RegisteredUnit, SeasonView

SeasonId = PathId
EntryId = PathId
RecommenderPath = PathId
CreditCodePath = PathId
PERSONAL_KEYS = {"mobile", "email", "phone"}


def build_router() -> APIRouter:
    router = APIRouter(tags=["submission"])
    router.include_router(build_feed_router())

    # ------------------------------------------------------------ what submission knows of registration

    @router.get("/seasons/{season_id}", summary="A season as submission knows it")
    async def get_season(season_id: SeasonId, request: Request, actor: AuthenticatedActor) -> dict[str, Any]:  # noqa: ARG001
        return found(await _read_model(request).season(season_id), f"season {season_id}")

    @router.get("/seasons/{season_id}/units/{credit_code}", summary="A unit registered for the season")
    async def get_unit(
        season_id: SeasonId, credit_code: CreditCodePath, request: Request, actor: AuthenticatedActor  # noqa: ARG001
    ) -> dict[str, Any]:
        unit = await _read_model(request).unit(season_id, credit_code.upper())
        return found(unit, f"unit {credit_code} registered for season {season_id}")

    @router.get("/seasons/{season_id}/recommenders", summary="The season's recommending units, as submission knows them")
    async def get_recommenders(season_id: SeasonId, request: Request, actor: AuthenticatedActor) -> dict[str, Any]:  # noqa: ARG001
        items = await _read_model(request).recommenders_of(season_id)
        return {"total": len(items), "items": items}

    # ------------------------------------------------------------ entries

    async def submit(season_id: SeasonId, body: EntryFormModel, request: Request, actor: Actor) -> JSONResponse:
        season, channel = await _entry_scope(request, actor, season_id, body.credit_code, Channel.GROUP)
        unit = await _registered_unit(request, season_id, body.credit_code)
        return await execute(request, actor, channel, _application(request).submit_entry, season, unit, body, body=body)

    async def amend(
        season_id: SeasonId, entry_id: EntryId, body: EntryFormModel, request: Request, actor: Actor
    ) -> JSONResponse:
        season, channel = await _entry_scope(request, actor, season_id, body.credit_code, Channel.GROUP)
        unit = await _registered_unit(request, season_id, body.credit_code)
        return await execute(request, actor, channel, _application(request).amend_entry, season, unit, entry_id, body, body=body)

    @router.post(
        "/seasons/{season_id}/qc-achievements",
        status_code=status.HTTP_201_CREATED,
        summary="Submit a QC group achievement (质量管理小组成果, 班组通道)",
    )
    async def submit_qc_achievement(
        season_id: SeasonId, body: QcAchievementForm, request: Request, actor: AuthenticatedActor
    ) -> JSONResponse:
        return await submit(season_id, body, request, actor)

    @router.post(
        "/seasons/{season_id}/team-experiences",
        status_code=status.HTTP_201_CREATED,
        summary="Submit a quality-trustworthy team's building experience (质量信得过班组申报表, 班组通道)",
    )
    async def submit_team_experience(
        season_id: SeasonId, body: TeamExperienceForm, request: Request, actor: AuthenticatedActor
    ) -> JSONResponse:
        return await submit(season_id, body, request, actor)

    @router.post(
        "/seasons/{season_id}/qc-achievements/{entry_id}/amendments",
        summary="Amend a QC group achievement: the whole form again, while the submission window is open",
    )
    async def amend_qc_achievement(
        season_id: SeasonId, entry_id: EntryId, body: QcAchievementForm, request: Request, actor: AuthenticatedActor
    ) -> JSONResponse:
        return await amend(season_id, entry_id, body, request, actor)

    @router.post(
        "/seasons/{season_id}/team-experiences/{entry_id}/amendments",
        summary="Amend a team's experience: the whole form again, while the submission window is open",
    )
    async def amend_team_experience(
        season_id: SeasonId, entry_id: EntryId, body: TeamExperienceForm, request: Request, actor: AuthenticatedActor
    ) -> JSONResponse:
        return await amend(season_id, entry_id, body, request, actor)

    @router.post(
        "/seasons/{season_id}/entries/{entry_id}/withdrawal",
        summary="Withdraw an entry (撤回), while the submission window is open",
    )
    async def withdraw_entry(
        season_id: SeasonId, entry_id: EntryId, body: Withdrawal, request: Request, actor: AuthenticatedActor
    ) -> JSONResponse:
        season, channel = await _entry_scope(request, actor, season_id, None, Channel.GROUP)
        return await execute(request, actor, channel, _application(request).withdraw_entry, season, entry_id, body, body=body)

    @router.post(
        "/seasons/{season_id}/entries/{entry_id}/confirmation",
        summary="The unit's confirmation (单位通道): self-evaluation, 推荐意见 and the sealed form",
    )
    async def confirm_entry(
        season_id: SeasonId, entry_id: EntryId, body: Confirmation, request: Request, actor: AuthenticatedActor
    ) -> JSONResponse:
        season, channel = await _entry_scope(request, actor, season_id, None, Channel.UNIT)
        return await execute(request, actor, channel, _application(request).confirm_entry, season, entry_id, body, body=body)

    @router.get("/seasons/{season_id}/entries", summary="A season's entries, filtered and paginated")
    async def season_entries(
        season_id: SeasonId,
        request: Request,
        actor: AuthenticatedActor,
        kind: ActivityKind | None = None,
        qc_type: QcAchievementType | None = None,
        entry_status: Annotated[EntryStatus | None, Query(alias="status")] = None,
        recommender_id: str | None = None,
        credit_code: str | None = None,
        skip: Skip = 0,
        limit: Limit = 50,
    ) -> dict[str, Any]:
        query: dict[str, Any] = {"season_id": season_id}
        filters = {
            "kind": kind, "qc_type": qc_type, "status": entry_status, "recommender_id": recommender_id,
            "credit_code": credit_code.upper() if credit_code else None,
        }
        query |= {key: str(value) for key, value in filters.items() if value is not None}
        return await _page(request, actor, query, skip, limit)

    @router.get("/seasons/{season_id}/entries/{entry_id}", summary="One entry as projected")
    async def get_entry(season_id: SeasonId, entry_id: EntryId, request: Request, actor: AuthenticatedActor) -> dict[str, Any]:
        query = {"season_id": season_id, "entry_id": entry_id} | _read_scope(actor)
        entry = found(await _read_model(request).entry(query), f"entry {entry_id} of season {season_id}")
        return _masked_for(actor, entry)

    @router.get("/units/{credit_code}/entries", summary="A unit's entries, of one season or all")
    async def unit_entries(
        credit_code: CreditCodePath,
        request: Request,
        actor: AuthenticatedActor,
        season_id: str | None = None,
        skip: Skip = 0,
        limit: Limit = 50,
    ) -> dict[str, Any]:
        credit_code = credit_code.upper()
        if actor.role is Role.UNIT:
            require_org(actor, credit_code, f"unit {credit_code}")
        query: dict[str, Any] = {"credit_code": credit_code} | ({"season_id": season_id} if season_id else {})
        return await _page(request, actor, query, skip, limit)

    @router.get(
        "/seasons/{season_id}/recommenders/{recommender_id}/entries",
        summary="A recommending unit's inbox: its units' entries, by status",
    )
    async def recommender_inbox(
        season_id: SeasonId,
        recommender_id: RecommenderPath,
        request: Request,
        actor: AuthenticatedActor,
        kind: ActivityKind | None = None,
        entry_status: Annotated[EntryStatus | None, Query(alias="status")] = None,
        skip: Skip = 0,
        limit: Limit = 50,
    ) -> dict[str, Any]:
        await _recommender_scope(request, actor, season_id, recommender_id)
        base = {"season_id": season_id, "recommender_id": recommender_id}
        query = base | ({"kind": kind.value} if kind else {}) | ({"status": entry_status.value} if entry_status else {})
        page = await _page(request, actor, query, skip, limit)
        counts = await _read_model(request).count_by_status(base | ({"kind": kind.value} if kind else {}))
        return page | {"by_status": [
            {"status": item.value, "label": item.label, "count": counts[item.value]} for item in EntryStatus
        ]}

    # ------------------------------------------------------------ recommending units' filings

    async def file_statistics(
        season_id: SeasonId, recommender_id: RecommenderPath, body: QcStatisticsForm | TeamStatisticsForm, request: Request, actor: Actor
    ) -> JSONResponse:
        season, channel = await _filing_scope(request, actor, season_id, recommender_id)
        return await execute(request, actor, channel, _application(request).file_statistics, season, recommender_id, body, body=body)

    @router.post(
        "/seasons/{season_id}/recommenders/{recommender_id}/qc-statistics",
        status_code=status.HTTP_201_CREATED,
        summary="File the QC statistics table (质量管理小组活动统计表); the rates are derived, not typed in",
    )
    async def file_qc_statistics(
        season_id: SeasonId, recommender_id: RecommenderPath, body: QcStatisticsForm, request: Request, actor: AuthenticatedActor
    ) -> JSONResponse:
        return await file_statistics(season_id, recommender_id, body, request, actor)

    @router.post(
        "/seasons/{season_id}/recommenders/{recommender_id}/team-statistics",
        status_code=status.HTTP_201_CREATED,
        summary="File the team statistics table (质量信得过班组建设活动成果统计表)",
    )
    async def file_team_statistics(
        season_id: SeasonId, recommender_id: RecommenderPath, body: TeamStatisticsForm, request: Request, actor: AuthenticatedActor
    ) -> JSONResponse:
        return await file_statistics(season_id, recommender_id, body, request, actor)

    @router.post(
        "/seasons/{season_id}/recommenders/{recommender_id}/work-summaries",
        status_code=status.HTTP_201_CREATED,
        summary="File the work summary (推进工作总结): three parts, at least 3000 characters",
    )
    async def file_work_summary(
        season_id: SeasonId, recommender_id: RecommenderPath, body: WorkSummaryForm, request: Request, actor: AuthenticatedActor
    ) -> JSONResponse:
        season, channel = await _filing_scope(request, actor, season_id, recommender_id)
        return await execute(request, actor, channel, _application(request).file_work_summary, season, recommender_id, body, body=body)

    @router.get("/seasons/{season_id}/recommenders/{recommender_id}/statistics", summary="Filed statistics tables")
    async def get_statistics(
        season_id: SeasonId, recommender_id: RecommenderPath, request: Request, actor: AuthenticatedActor
    ) -> dict[str, Any]:
        await _recommender_scope(request, actor, season_id, recommender_id)
        items = await _read_model(request).filings("statistics", season_id, recommender_id)
        return {"total": len(items), "items": items}

    @router.get("/seasons/{season_id}/recommenders/{recommender_id}/work-summaries", summary="Filed work summaries")
    async def get_work_summaries(
        season_id: SeasonId, recommender_id: RecommenderPath, request: Request, actor: AuthenticatedActor
    ) -> dict[str, Any]:
        await _recommender_scope(request, actor, season_id, recommender_id)
        items = await _read_model(request).filings("work_summaries", season_id, recommender_id)
        return {"total": len(items), "items": items}

    return router


def _application(request: Request) -> SubmissionApplication:
    return request.app.state.application


def _read_model(request: Request) -> SubmissionReadModel:
    return request.app.state.read_model


async def _season(request: Request, season_id: str) -> SeasonView:
    read_model = _read_model(request)
    document = await read_model.season(season_id)
    if document is None:
        raise NotFound(f"season {season_id}")
    return SeasonView.from_document(document, await read_model.recommender_ids(season_id))


async def _registered_unit(request: Request, season_id: str, credit_code: str) -> RegisteredUnit | None:
    document = await _read_model(request).unit(season_id, credit_code)
    return RegisteredUnit.from_document(document) if document else None


async def _entry_scope(
    request: Request, actor: Actor, season_id: str, credit_code: str | None, unit_channel: Channel
) -> tuple[SeasonView, Channel]:
    """A unit acts for itself through 班组通道 or 单位通道; the organizer acts for the direct channel."""
    require_role(actor, Role.UNIT, Role.ORGANIZER)
    if actor.role is Role.UNIT and credit_code is not None:
        require_org(actor, credit_code, f"unit {credit_code}")
    season = await _season(request, season_id)
    if actor.role is Role.ORGANIZER:
        require_org(actor, season.organizer, f"season {season_id}")
        return season, Channel.DIRECT
    return season, unit_channel


async def _filing_scope(request: Request, actor: Actor, season_id: str, recommender_id: str) -> tuple[SeasonView, Channel]:
    """A recommending unit files its own tables through 推荐通道; the organizer may file for the direct channel."""
    require_role(actor, Role.RECOMMENDER, Role.ORGANIZER)
    if actor.role is Role.RECOMMENDER:
        require_org(actor, recommender_id, f"recommending unit {recommender_id}")
    season = await _season(request, season_id)
    if actor.role is Role.ORGANIZER:
        require_org(actor, season.organizer, f"season {season_id}")
        return season, Channel.DIRECT
    return season, Channel.RECOMMENDER


async def _recommender_scope(request: Request, actor: Actor, season_id: str, recommender_id: str) -> None:
    require_role(actor, Role.RECOMMENDER, Role.ORGANIZER, Role.NATIONAL, Role.AUDITOR)
    if actor.role is Role.RECOMMENDER:
        require_org(actor, recommender_id, f"recommending unit {recommender_id}")
    if actor.role is Role.ORGANIZER:
        require_org(actor, (await _season(request, season_id)).organizer, f"season {season_id}")


def _read_scope(actor: Actor) -> dict[str, Any]:
    """What an actor may read of entries: its own unit's, its recommending unit's, its season's or all."""
    if actor.role is Role.UNIT:
        return {"credit_code": actor.org}
    if actor.role is Role.RECOMMENDER:
        return {"recommender_id": actor.org}
    if actor.role is Role.ORGANIZER:
        return {"organizer": actor.org}
    if actor.role in {Role.NATIONAL, Role.AUDITOR, Role.JUDGE, Role.FEED}:
        return {}
    raise HTTPException(status.HTTP_403_FORBIDDEN, detail=f"role {actor.role.value} may not read entries")


async def _page(request: Request, actor: Actor, query: dict[str, Any], skip: int, limit: int) -> dict[str, Any]:
    total, items = await _read_model(request).find_entries(query | _read_scope(actor), skip=skip, limit=limit)
    return {"total": total, "skip": skip, "limit": limit, "items": [_masked_for(actor, item) for item in items]}


def _masked_for(actor: Actor, entry: dict[str, Any]) -> dict[str, Any]:
    """Mobiles and e-mails are personal data: the unit, its recommending unit, organizers and auditors
    see them; judges and feeds see them masked."""
    if (
        actor.role in FULL_VIEW
        or (actor.role is Role.UNIT and actor.org == entry.get("credit_code"))
        or (actor.role is Role.RECOMMENDER and actor.org == entry.get("recommender_id"))
    ):
        return entry
    return _mask(entry)


def _mask(value: Any, key: str | None = None) -> Any:
    if isinstance(value, dict):
        return {name: _mask(item, name) for name, item in value.items()}
    if isinstance(value, list):
        return [_mask(item) for item in value]
    if key in PERSONAL_KEYS and isinstance(value, str) and value:
        if key == "email":
            name, _, domain = value.partition("@")
            return name[:1] + "***@" + domain
        return value[:3] + "****" + value[-4:] if len(value) > 7 else "****"
    return value
