"""Stats' HTTP API: the reports as JSON, CSV or XLSX, the national view, and rebuilds.

Reports are read from the report documents of the active generation, which the worker writes about
once a second after the events arrive; a report is never computed by scanning on a request.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response, status
from fastapi.responses import JSONResponse

from contracts.codes import Role
from infra.auth import AuthenticatedActor, require_role
from infra.errors import NotFound
from infra.http import PathId
from services.stats.adapters.export import CSV_MEDIA_TYPE, XLSX_MEDIA_TYPE, to_csv, to_xlsx
from services.stats.adapters.store import StatsStore
from services.stats.rebuild import SWITCH_ALWAYS, SWITCH_IF_EQUAL
from services.stats.domain.reports import Report, entry_bucket
from services.stats.domain.tables import LAYOUTS, Sheet, statistics_sheets
from services.stats.entrypoints.audit_http import build_audit_router

REBUILDERS = (Role.ORGANIZER, Role.AUDITOR)
Year = Annotated[int, Path(ge=2000, le=2100)]
Recommender = Annotated[str, Query(min_length=1, max_length=64, description="a recommending unit's id")]


class UnknownToStats(NotFound):
    """404 in the words the reports use: what was asked for is not known to stats."""

    def __str__(self) -> str:
        return f"{self.what} is not known to stats"


class Switch(StrEnum):
    IF_EQUAL = SWITCH_IF_EQUAL
    ALWAYS = SWITCH_ALWAYS


SwitchQuery = Annotated[Switch, Query(
    description="if_equal (default): switch only when every rebuilt report equals the live one; always: switch "
                "to the rebuilt reports anyway (after a change of the reducer), keeping the differences"
)]


class Format(StrEnum):
    JSON = "json"
    CSV = "csv"
    XLSX = "xlsx"


FormatQuery = Annotated[
    Format | None, Query(description="json (default), csv (UTF-8 with BOM) or xlsx; or ask by the Accept header")
]


def wanted_format(request: Request, asked: Format | None) -> Format:
    if asked is not None:
        return asked
    accept = request.headers.get("accept", "")
    if "spreadsheetml" in accept:
        return Format.XLSX
    if "text/csv" in accept:
        return Format.CSV
    return Format.JSON


def answer(report: Report, fmt: Format, name: str, file_name: str, sheets: list[Sheet] | None = None) -> Response:
    """The report as JSON, or laid out as the seeds' table in CSV or XLSX."""
    if fmt is Format.JSON:
        return JSONResponse(report)
    sheets = sheets if sheets is not None else LAYOUTS[name](report)
    body, media_type = (to_csv(sheets), CSV_MEDIA_TYPE) if fmt is Format.CSV else (to_xlsx(sheets), XLSX_MEDIA_TYPE)
    return Response(body, media_type=media_type, headers={
        "Content-Disposition": f'attachment; filename="{file_name}.{fmt.value}"',
    })


async def season_report(store: StatsStore, season_id: str, name: str) -> Report:
    report = await store.report(f"season/{season_id}/{name}")
    if report is None:
        raise UnknownToStats(f"season {season_id}")
    return report


def store_of(request: Request) -> StatsStore:
    return request.app.state.read_model.store


SEASON_REPORTS = {
    "overview": "Season overview: registrations, entries, quotas, progress, grades",
    "judge-workload": "Judge workload: assigned, scored and to score per stage",
    "provinces": "National season: per province, the recommendations sent (through the platform or by feed), "
                 "accepted by formal review and graded, against the province's quota",
}
NATIONAL_REPORTS = {
    "overview": "National view: per province (organizer) and kind, the totals",
    "statistics": "National 统计表: the provinces' tables summed, rates re-derived from the sums",
}


def add_season_report(router: APIRouter, name: str, summary: str) -> None:
    @router.get(f"/seasons/{{season_id}}/{name}", summary=summary, name=f"season_{name}")
    async def season_report_route(season_id: PathId, request: Request, actor: AuthenticatedActor,  # noqa: ARG001
                                  format: FormatQuery = None) -> Response:  # noqa: A002
        report = await season_report(store_of(request), season_id, name)
        return answer(report, wanted_format(request, format), name, f"{season_id}-{name}")


def add_national_report(router: APIRouter, name: str, summary: str) -> None:
    @router.get(f"/national/{{year}}/{name}", summary=summary, name=f"national_{name}")
    async def national_report_route(year: Year, request: Request, actor: AuthenticatedActor,  # noqa: ARG001
                                    format: FormatQuery = None) -> Response:  # noqa: A002
        report = await store_of(request).report(f"national/{year}/{name}")
        if report is None:
            raise UnknownToStats(f"a province's season of {year}")
        return answer(report, wanted_format(request, format), f"national-{name}", f"national-{year}-{name}")
def build_router() -> APIRouter:
    router = APIRouter(tags=["stats"])
    router.include_router(build_audit_router())

    for name, summary in SEASON_REPORTS.items():
        add_season_report(router, name, summary)
    for name, summary in NATIONAL_REPORTS.items():
        add_national_report(router, name, summary)

    @router.get("/seasons/{season_id}/statistics",
                summary="统计表: per recommending unit and the organizer's total, with the derived rates")
    async def statistics(season_id: PathId, request: Request, actor: AuthenticatedActor,  # noqa: ARG001
                         recommender: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
                         format: FormatQuery = None) -> Response:  # noqa: A002
        report = await season_report(store_of(request), season_id, "statistics")
        if recommender is None:
            return answer(report, wanted_format(request, format), "statistics", f"{season_id}-statistics")
        rows = [row for row in report["recommenders"] if row["recommender_id"] == recommender]
        if not rows:
            raise UnknownToStats(f"a statistics table of recommending unit {recommender} in season {season_id}")
        single = {key: report[key] for key in ("season_id", "organizer", "organizer_name", "kind", "items")} | rows[0]
        return answer(single, wanted_format(request, format), "statistics", f"{season_id}-{recommender}-statistics",
                      statistics_sheets(report, recommender))

    @router.get("/seasons/{season_id}/recommendation-summary",
                summary="推荐表 / 评审汇总表 of one recommending unit: its entries, judges and declaration")
    async def recommendation_summary(season_id: PathId, recommender: Recommender, request: Request,
                                     actor: AuthenticatedActor, format: FormatQuery = None) -> Response:  # noqa: A002
        store = store_of(request)
        report = await store.report(f"season/{season_id}/recommendation-summary/{recommender}")
        if report is None:
            await season_report(store, season_id, "overview")
            raise UnknownToStats(f"recommending unit {recommender} in season {season_id}")
        if actor.role is Role.RECOMMENDER and actor.org != recommender:
            return JSONResponse({"detail": f"the token is scoped to recommending unit {actor.org}, not {recommender}"},
                                status_code=status.HTTP_403_FORBIDDEN)
        return answer(report, wanted_format(request, format), "recommendation-summary",
                      f"{season_id}-{recommender}-recommendation-summary")

    @router.get("/seasons/{season_id}/entries/{entry_id}",
                summary="An entry's line in the reports: unit, recommending unit, progress, scores per stage, grade")
    async def entry(season_id: PathId, entry_id: PathId, request: Request,
                    actor: AuthenticatedActor) -> dict[str, Any]:  # noqa: ARG001
        lines = await season_report(store_of(request), season_id, f"entries/{entry_bucket(entry_id)}")
        if entry_id not in lines["entries"]:
            raise UnknownToStats(f"entry {entry_id} in season {season_id}")
        return lines["entries"][entry_id]

    @router.post("/rebuilds", status_code=202, summary="Rebuild every report from offset 0 and switch over if equal")
    async def request_rebuild(request: Request, actor: AuthenticatedActor, switch: SwitchQuery = Switch.IF_EQUAL
                              ) -> dict[str, Any]:
        require_role(actor, *REBUILDERS)
        if switch is Switch.ALWAYS:
            # replacing the live reports despite differences alters what everyone reads: the organizer's call
            require_role(actor, Role.ORGANIZER)
        document = await store_of(request).request_rebuild(actor.id, switch.value)
        return rebuild_view(document)

    @router.get("/rebuilds/{rebuild_id}", summary="A rebuild's phase, progress and outcome")
    async def rebuild(rebuild_id: PathId, request: Request, actor: AuthenticatedActor) -> dict[str, Any]:  # noqa: ARG001
        document = await store_of(request).rebuild(rebuild_id)
        if document is None:
            raise UnknownToStats(f"rebuild {rebuild_id}")
        return rebuild_view(document)

    return router


def rebuild_view(document: dict[str, Any]) -> dict[str, Any]:
    view = {key: value for key, value in document.items() if key != "_id"}
    return {"rebuild_id": document["_id"]} | {
        key: value.isoformat() if hasattr(value, "isoformat") else value for key, value in view.items()
    }
