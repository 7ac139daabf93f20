"""Submission's HTTP API: entries through 班组通道 / 单位通道 (or the organizer for the direct channel), and
queries of submission's own projection: seasons, registered units, recommending units and entries.

Seasons and registered units are read from submission's read model (fed by registration.events) and handed to
the synchronous commands as plain data; submission never calls registration. Who may call what is
`entrypoints/policy.py`; each route narrows its reads with the grant it receives and masks personal data
through `infra.masking`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import JSONResponse

from contracts.codes import ActivityKind, Channel, QcAchievementType
from contracts.submitted import (
    Confirmation,
    EntryStatus,
    QcAchievementForm,
    TeamExperienceForm,
    Withdrawal,
)
from infra.authorization import Grant
from infra.http import Limit, PathId, Skip, execute
from infra.http.form_routes import taking
from infra.http.openapi import link
from infra.http.security import Authorized
from services.submission.adapters.read_model import SubmissionReadModel
from services.submission.domain.entry import EntryFormModel
from services.submission.domain.season import RegisteredUnit, SeasonView
from services.submission.entrypoints.edge import (
    ENTRY_SCOPE,
    Application,
    ReadModel,
    channel_of,
    entry_page,
    season_of,
    shown,
)
from services.submission.entrypoints.feed_http import build_feed_router
from services.submission.entrypoints.filings_http import register_filing_routes

SeasonId = PathId
EntryId = PathId
RecommenderPath = PathId
CreditCodePath = PathId
StatusQuery = Annotated[EntryStatus | None, Query(alias="status")]


# ---------------------------------------------------------------- what submission knows of registration


async def get_season(season_id: SeasonId, grant: Authorized, read_model: ReadModel) -> dict[str, Any]:
    return dict(grant.require(await read_model.season(season_id), f"season {season_id}", fields=("organizer",)))


async def get_unit(
    season_id: SeasonId, credit_code: CreditCodePath, grant: Authorized, read_model: ReadModel
) -> dict[str, Any]:
    """A recommending unit sees only the units whose registration names it."""
    unit = await read_model.unit(season_id, credit_code.upper())
    return dict(grant.require(unit, f"unit {credit_code} registered for season {season_id}"))


async def get_recommenders(season_id: SeasonId, grant: Authorized, read_model: ReadModel) -> dict[str, Any]:
    query = grant.query({"season_id": season_id}, fields=("recommender_id",))
    items = await read_model.find_recommenders(query) if query is not None else []
    return {"total": len(items), "items": items}


# ---------------------------------------------------------------- entries


async def submit(
    season_id: SeasonId, body: EntryFormModel, request: Request, grant: Authorized, application: Application,
    read_model: ReadModel,
) -> JSONResponse:
    # one handler for every kind of entry; each kind's route reads its own form (ENTRY_ROUTES)
    season, unit = await _season_and_unit(grant, read_model, season_id, body)
    return await execute(request, grant.actor, channel_of(grant, Channel.GROUP), application.submit_entry,
                         season, unit, body, body=body)


async def amend(
    season_id: SeasonId, entry_id: EntryId, body: EntryFormModel, request: Request, grant: Authorized,
    application: Application, read_model: ReadModel,
) -> JSONResponse:
    # one handler for every kind of entry; each kind's route reads its own form (ENTRY_ROUTES)
    season, unit = await _season_and_unit(grant, read_model, season_id, body)
    return await execute(request, grant.actor, channel_of(grant, Channel.GROUP), application.amend_entry,
                         season, unit, entry_id, body, body=body)


async def withdraw_entry(
    season_id: SeasonId, entry_id: EntryId, body: Withdrawal, request: Request, grant: Authorized,
    application: Application, read_model: ReadModel,
) -> JSONResponse:
    """Another unit's entry is answered as missing (the aggregate checks its unit)."""
    season = await season_of(read_model, season_id)
    return await execute(request, grant.actor, channel_of(grant, Channel.GROUP), application.withdraw_entry,
                         season, entry_id, body, body=body)


async def confirm_entry(
    season_id: SeasonId, entry_id: EntryId, body: Confirmation, request: Request, grant: Authorized,
    application: Application, read_model: ReadModel,
) -> JSONResponse:
    season = await season_of(read_model, season_id)
    return await execute(request, grant.actor, channel_of(grant, Channel.UNIT), application.confirm_entry,
                         season, entry_id, body, body=body)


async def season_entries(
    season_id: SeasonId,
    grant: Authorized,
    read_model: ReadModel,
    kind: ActivityKind | None = None,
    qc_type: QcAchievementType | None = None,
    entry_status: StatusQuery = None,
    recommender_id: str | None = None,
    credit_code: str | None = None,
    skip: Skip = 0,
    limit: Limit = 50,
) -> dict[str, Any]:
    """The filters narrow the caller's scope, never widen it: another unit's credit code finds nothing."""
    filters = {
        "season_id": season_id, "kind": kind, "qc_type": qc_type, "status": entry_status,
        "recommender_id": recommender_id, "credit_code": credit_code.upper() if credit_code else None,
    }
    query = grant.query({key: str(value) for key, value in filters.items() if value is not None}, fields=ENTRY_SCOPE)
    return await entry_page(read_model, grant, query, skip, limit)


async def get_entry(season_id: SeasonId, entry_id: EntryId, grant: Authorized, read_model: ReadModel) -> dict[str, Any]:
    entry = await read_model.entry({"season_id": season_id, "entry_id": entry_id})
    (shown_entry,) = shown(grant, [grant.require(entry, f"entry {entry_id} of season {season_id}")])
    return shown_entry


async def unit_entries(
    credit_code: CreditCodePath,
    grant: Authorized,
    read_model: ReadModel,
    season_id: str | None = None,
    skip: Skip = 0,
    limit: Limit = 50,
) -> dict[str, Any]:
    filters = {"credit_code": credit_code.upper()} | ({"season_id": season_id} if season_id else {})
    return await entry_page(read_model, grant, grant.query(filters, fields=ENTRY_SCOPE), skip, limit)


async def recommender_inbox(
    season_id: SeasonId,
    recommender_id: RecommenderPath,
    grant: Authorized,
    read_model: ReadModel,
    kind: ActivityKind | None = None,
    entry_status: StatusQuery = None,
    skip: Skip = 0,
    limit: Limit = 50,
) -> dict[str, Any]:
    """A recommending unit's inbox: its units' entries, by status."""
    base = grant.query({"season_id": season_id, "recommender_id": recommender_id}
                       | ({"kind": kind.value} if kind else {}), fields=ENTRY_SCOPE)
    query = None if base is None else base | ({"status": entry_status.value} if entry_status else {})
    page = await entry_page(read_model, grant, query, skip, limit)
    counts = await read_model.count_by_status(base) if base is not None else {}
    return page | {"by_status": [
        {"status": item.value, "label": item.label, "count": counts.get(item.value, 0)} for item in EntryStatus
    ]}


async def _season_and_unit(grant: Grant, read_model: SubmissionReadModel, season_id: str,
                           body: EntryFormModel) -> tuple[SeasonView, RegisteredUnit | None]:
    """What an entry's form is checked against: the season and the unit it names, once the caller may act for it."""
    grant.claims(f"unit {body.credit_code}", credit_code=body.credit_code)
    return await season_of(read_model, season_id), await read_model.registered_unit(season_id, body.credit_code)


# The entries, one pair of routes per form kind: its path, its form, its routes' name, the summaries of its
# submission and of its amendment.
ENTRY_ROUTES: tuple[tuple[str, type[EntryFormModel], str, str, str], ...] = (
    ("qc-achievements", QcAchievementForm, "qc_achievement",
     "Submit a QC group achievement (质量管理小组成果, 班组通道)",
     "Amend a QC group achievement: the whole form again, while the submission window is open"),
    ("team-experiences", TeamExperienceForm, "team_experience",
     "Submit a quality-trustworthy team's building experience (质量信得过班组申报表, 班组通道)",
     "Amend a team's experience: the whole form again, while the submission window is open"),
)


def register_routes(router: APIRouter) -> None:
    """Submission's own routes, by name (the feed routes are infra's, included by `build_router`)."""
    created = {"status_code": status.HTTP_201_CREATED, "responses": {status.HTTP_201_CREATED: {"links": {"entry": link(
        "get_entry_seasons__season_id__entries__entry_id__get",
        season_id="$response.body#/season_id", entry_id="$response.body#/entry_id")}}}}
    router.get("/seasons/{season_id}", summary="A season as submission knows it")(get_season)
    router.get("/seasons/{season_id}/units/{credit_code}", summary="A unit registered for the season")(get_unit)
    router.get("/seasons/{season_id}/recommenders",
               summary="The season's recommending units, as submission knows them")(get_recommenders)
    for segment, form, name, submitted, amended in ENTRY_ROUTES:
        router.post(f"/seasons/{{season_id}}/{segment}", **created, summary=submitted)(
            taking(submit, form, f"submit_{name}"))
        router.post(f"/seasons/{{season_id}}/{segment}/{{entry_id}}/amendments", summary=amended)(
            taking(amend, form, f"amend_{name}"))
    router.post("/seasons/{season_id}/entries/{entry_id}/withdrawal",
                summary="Withdraw an entry (撤回), while the submission window is open")(withdraw_entry)
    router.post("/seasons/{season_id}/entries/{entry_id}/confirmation",
                summary="The unit's confirmation (单位通道): self-evaluation, 推荐意见 and the sealed form")(confirm_entry)
    router.get("/seasons/{season_id}/entries", summary="A season's entries, filtered and paginated")(season_entries)
    router.get("/seasons/{season_id}/entries/{entry_id}", summary="One entry as projected")(get_entry)
    router.get("/units/{credit_code}/entries", summary="A unit's entries, of one season or all")(unit_entries)
    router.get("/seasons/{season_id}/recommenders/{recommender_id}/entries",
               summary="A recommending unit's inbox: its units' entries, by status")(recommender_inbox)
    register_filing_routes(router)


def build_router() -> APIRouter:
    router = APIRouter(tags=["submission"])
    router.include_router(build_feed_router())
    register_routes(router)
    return router
