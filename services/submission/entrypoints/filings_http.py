"""Submission's HTTP API for what recommending units file through 推荐通道 (or the organizer for the direct
channel): statistics tables (统计表) and work summaries (推进工作总结), and their reads."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, status
from fastapi.responses import JSONResponse

from contracts.codes import Channel
from contracts.filings import FilingForm, QcStatisticsForm, TeamStatisticsForm, WorkSummaryForm
from infra.authorization import Grant
from infra.http import PathId, execute
from infra.http.form_routes import taking
from infra.http.security import Authorized
from services.submission.adapters.read_model import SubmissionReadModel
from services.submission.entrypoints.edge import ENTRY_SCOPE, Application, ReadModel, channel_of, season_of, shown

SeasonId = PathId
RecommenderPath = PathId


async def file_statistics(
    season_id: SeasonId, recommender_id: RecommenderPath, body: FilingForm, request: Request,
    grant: Authorized, application: Application, read_model: ReadModel,
) -> JSONResponse:
    # one handler for every kind of table; each kind's route reads its own form (STATISTICS_ROUTES)
    season = await season_of(read_model, season_id)
    return await execute(request, grant.actor, channel_of(grant, Channel.RECOMMENDER), application.file_statistics,
                         season, recommender_id, body, body=body)


async def file_work_summary(
    season_id: SeasonId, recommender_id: RecommenderPath, body: WorkSummaryForm, request: Request,
    grant: Authorized, application: Application, read_model: ReadModel,
) -> JSONResponse:
    season = await season_of(read_model, season_id)
    return await execute(request, grant.actor, channel_of(grant, Channel.RECOMMENDER), application.file_work_summary,
                         season, recommender_id, body, body=body)


async def _filed(read_model: SubmissionReadModel, grant: Grant, collection: str, season_id: str,
                 recommender_id: str) -> dict[str, Any]:
    query = grant.query({"season_id": season_id, "recommender_id": recommender_id}, fields=ENTRY_SCOPE)
    items = shown(grant, await read_model.filings(collection, query)) if query is not None else []
    return {"total": len(items), "items": items}


async def get_statistics(
    season_id: SeasonId, recommender_id: RecommenderPath, grant: Authorized, read_model: ReadModel
) -> dict[str, Any]:
    return await _filed(read_model, grant, "statistics", season_id, recommender_id)


async def get_work_summaries(
    season_id: SeasonId, recommender_id: RecommenderPath, grant: Authorized, read_model: ReadModel
) -> dict[str, Any]:
    return await _filed(read_model, grant, "work_summaries", season_id, recommender_id)


# The statistics tables (统计表), one route per form kind: its path, its form, its route's name and summary.
STATISTICS_ROUTES: tuple[tuple[str, type[FilingForm], str, str], ...] = (
    ("qc-statistics", QcStatisticsForm, "file_qc_statistics",
     "File the QC statistics table (质量管理小组活动统计表); the rates are derived, not typed in"),
    ("team-statistics", TeamStatisticsForm, "file_team_statistics",
     "File the team statistics table (质量信得过班组建设活动成果统计表)"),
)


def register_filing_routes(router: APIRouter) -> None:
    created = {"status_code": status.HTTP_201_CREATED,
               "responses": {200: {"description": "the same period filed again: the filing was amended"}}}
    path = "/seasons/{season_id}/recommenders/{recommender_id}"
    for segment, form, name, summary in STATISTICS_ROUTES:
        router.post(f"{path}/{segment}", **created, summary=summary)(taking(file_statistics, form, name))
    router.post(f"{path}/work-summaries", **created,
                summary="File the work summary (推进工作总结): three parts, at least 3000 characters")(file_work_summary)
    router.get(f"{path}/statistics", summary="Filed statistics tables")(get_statistics)
    router.get(f"{path}/work-summaries", summary="Filed work summaries")(get_work_summaries)
