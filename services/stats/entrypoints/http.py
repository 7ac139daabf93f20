"""Stats' HTTP API: the reports as JSON, CSV or XLSX, the national view, and rebuilds.

Reports are read from the report documents of the active generation, which the worker writes about
once a second after the events arrive; a report is never computed by scanning on a request. Who may
read which report is stats' policy (`policy.py`); personal data in a report is masked for the caller
(infra.masking) before it is answered or laid out as a table.
"""

from __future__ import annotations

import inspect

from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from infra.authorization import Caller, Scope
from infra.errors import NotFound
from infra.http import PathId
from infra.http.dependencies import read_model_of
from infra.http.security import Authorized
from infra.masking import for_caller, masked, sees_unmasked
from services.stats.adapters.export import CSV_MEDIA_TYPE, XLSX_MEDIA_TYPE, to_csv, to_xlsx
from services.stats.adapters.read_model import StatsReadModel
from services.stats.adapters.store import StatsStore
from services.stats.domain.publicity import before_publication
from services.stats.rebuild import SWITCH_ALWAYS, SWITCH_IF_EQUAL
from services.stats.domain.entry_lines import entry_bucket
from services.stats.domain.season_reports import Report
from services.stats.domain.tables import LAYOUTS, Sheet, statistics_sheets
from services.stats.entrypoints.audit_http import register_audit_routes

Year = Annotated[int, Path(ge=2000, le=2100)]
Recommender = Annotated[str, Query(min_length=1, max_length=64, description="a recommending unit's id")]
OptionalRecommender = Annotated[str | None, Query(min_length=1, max_length=64,
                                                  description="one recommending unit's table (a recommending unit: "
                                                              "its own, also when left out)")]


def store_of(read_model: Annotated[StatsReadModel, Depends(read_model_of)]) -> StatsStore:
    return read_model.store


Store = Annotated[StatsStore, Depends(store_of)]


class UnknownToStats(NotFound):
    """404 in the words the reports use: what was asked for is not known to stats (or not to this caller)."""

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


# A report that takes `format` (or the Accept header) answers CSV and XLSX too.
EXPORTS: dict[int | str, dict[str, Any]] = {200: {
    "description": "the report: JSON, or laid out as the seeds' table in CSV (UTF-8 with BOM) or XLSX",
    "content": {"text/csv": {"schema": {"type": "string"}},
                XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
}}


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


async def _season_answer(store: StatsStore, request: Request, season_id: str, name: str,
                         fmt: Format | None) -> Response:
    report = await season_report(store, season_id, name)
    return answer(report, wanted_format(request, fmt), name, f"{season_id}-{name}")


async def _national_answer(store: StatsStore, request: Request, year: int, name: str, fmt: Format | None) -> Response:
    report = await store.report(f"national/{year}/{name}")
    if report is None:
        raise UnknownToStats(f"a province's season of {year}")
    return answer(report, wanted_format(request, fmt), f"national-{name}", f"national-{year}-{name}")


# ---------------------------------------------------------------- a season's reports


async def season_overview(season_id: PathId, request: Request, store: Store, grant: Authorized,  # noqa: ARG001
                          format: FormatQuery = None) -> Response:  # noqa: A002
    """Season overview: registrations, entries, quotas, progress, grades."""
    return await _season_answer(store, request, season_id, "overview", format)


async def season_judge_workload(season_id: PathId, request: Request, store: Store, grant: Authorized,  # noqa: ARG001
                                format: FormatQuery = None) -> Response:  # noqa: A002
    """Judge workload: assigned, scored and to score per stage."""
    return await _season_answer(store, request, season_id, "judge-workload", format)


async def season_provinces(season_id: PathId, request: Request, store: Store, grant: Authorized,  # noqa: ARG001
                           format: FormatQuery = None) -> Response:  # noqa: A002
    """National season: per province, the recommendations sent (through the platform or by feed), accepted by
    formal review and graded, against the province's quota."""
    return await _season_answer(store, request, season_id, "provinces", format)


def _as_seen(caller: Caller | None, shown: Report, report: Report) -> tuple[Report, Report]:
    """The part answered and the report it is laid out from, both masked unless the caller sees `shown` as given."""
    if sees_unmasked(caller, shown):
        return shown, report
    return masked(shown) | {"masked": True}, masked(report) | {"masked": True}


async def season_statistics(season_id: PathId, request: Request, store: Store, grant: Authorized,
                            recommender: OptionalRecommender = None,
                            format: FormatQuery = None) -> Response:  # noqa: A002
    """统计表: per recommending unit and the organizer's total, with the derived rates."""
    report = await season_report(store, season_id, "statistics")
    fmt = wanted_format(request, format)
    # a recommending unit reads its own row: its scope names it when the query does not
    wanted = (grant.query({"recommender_id": recommender}, fields=("recommender_id",)) or {}).get("recommender_id")
    if wanted is None:
        return answer(for_caller(grant.caller, report), fmt, "statistics", f"{season_id}-statistics")
    rows = [row for row in report["recommenders"] if row["recommender_id"] == wanted]
    if not rows:
        raise UnknownToStats(f"a statistics table of recommending unit {wanted} in season {season_id}")
    single = {key: report[key] for key in ("season_id", "organizer", "organizer_name", "kind", "items")} | rows[0]
    single, laid_out = _as_seen(grant.caller, single, report)
    return answer(single, fmt, "statistics", f"{season_id}-{wanted}-statistics", statistics_sheets(laid_out, wanted))


async def recommendation_summary(season_id: PathId, recommender: Recommender, request: Request, store: Store,
                                 grant: Authorized, format: FormatQuery = None) -> Response:  # noqa: A002
    """推荐表 / 评审汇总表 of one recommending unit: its entries, judges and declaration."""
    report = await store.report(f"season/{season_id}/recommendation-summary/{recommender}")
    if report is None:
        await season_report(store, season_id, "overview")
        raise UnknownToStats(f"recommending unit {recommender} in season {season_id}")
    return answer(for_caller(grant.caller, report), wanted_format(request, format), "recommendation-summary",
                  f"{season_id}-{recommender}-recommendation-summary")


async def entry_line(season_id: PathId, entry_id: PathId, store: Store, grant: Authorized) -> dict[str, Any]:
    """An entry's line in the reports: unit, recommending unit, progress, scores per stage, grade.

    Its unit and its recommending unit read it without the result until the result is public; anyone else's
    entry answers as an unknown one."""
    lines = await season_report(store, season_id, f"entries/{entry_bucket(entry_id)}")
    line = lines["entries"].get(entry_id)
    if line is None or not grant.admits(line | {"season_id": season_id}):
        raise UnknownToStats(f"entry {entry_id} in season {season_id}")
    if grant.scope in (Scope.UNIT, Scope.RECOMMENDER):
        return before_publication(line)
    return line


# ---------------------------------------------------------------- the national view


async def national_overview(year: Year, request: Request, store: Store, grant: Authorized,  # noqa: ARG001
                            format: FormatQuery = None) -> Response:  # noqa: A002
    """National view: per province (organizer) and kind, the totals."""
    return await _national_answer(store, request, year, "overview", format)


async def national_statistics(year: Year, request: Request, store: Store, grant: Authorized,  # noqa: ARG001
                              format: FormatQuery = None) -> Response:  # noqa: A002
    """National 统计表: the provinces' tables summed, rates re-derived from the sums."""
    return await _national_answer(store, request, year, "statistics", format)


# ---------------------------------------------------------------- rebuilds


async def request_rebuild(store: Store, grant: Authorized, switch: SwitchQuery = Switch.IF_EQUAL) -> dict[str, Any]:
    """Rebuild every report from offset 0 and switch over if equal (or anyway, with switch=always)."""
    return rebuild_view(await store.request_rebuild(grant.actor.id, switch.value))


async def rebuild(rebuild_id: PathId, store: Store, grant: Authorized) -> dict[str, Any]:  # noqa: ARG001
    """A rebuild's phase, progress and outcome."""
    document = await store.rebuild(rebuild_id)
    if document is None:
        raise UnknownToStats(f"rebuild {rebuild_id}")
    return rebuild_view(document)


def rebuild_view(document: dict[str, Any]) -> dict[str, Any]:
    view = {key: value for key, value in document.items() if key != "_id"}
    return {"rebuild_id": document["_id"]} | {
        key: value.isoformat() if hasattr(value, "isoformat") else value for key, value in view.items()
    }


def register_routes(router: APIRouter) -> None:
    for path, route in (
        ("/seasons/{season_id}/overview", season_overview),
        ("/seasons/{season_id}/judge-workload", season_judge_workload),
        ("/seasons/{season_id}/provinces", season_provinces),
        ("/national/{year}/overview", national_overview),
        ("/national/{year}/statistics", national_statistics),
        ("/seasons/{season_id}/statistics", season_statistics),
        ("/seasons/{season_id}/recommendation-summary", recommendation_summary),
        ("/seasons/{season_id}/entries/{entry_id}", entry_line),
        ("/rebuilds/{rebuild_id}", rebuild),
    ):
        router.add_api_route(path, route, methods=["GET"], name=route.__name__, summary=summary_of(route),
                             responses=EXPORTS if "format" in inspect.signature(route).parameters else None)
    router.add_api_route("/rebuilds", request_rebuild, methods=["POST"], status_code=202, name="request_rebuild",
                         summary=summary_of(request_rebuild))


def summary_of(route: Any) -> str:  # noqa: ANN401 - a route function
    """A route's summary in the API's documentation: its docstring's first line."""
    return (route.__doc__ or "").strip().splitlines()[0]


def build_router() -> APIRouter:
    router = APIRouter(tags=["stats"])
    register_audit_routes(router)
    register_routes(router)
    return router
