"""Stats' report documents by id: every season's reports and the national years they roll up into.

A season's reports are `season_reports` (each entry's line `entry_lines`), the national roll-up `national_rollup`;
this module names the documents the live fold writes and a rebuild compares.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from services.stats.domain.entry_lines import entry_lines
from services.stats.domain.national_intake import is_national, national_intake
from services.stats.domain.national_rollup import national_key, national_reports, season_ids_by_year
from services.stats.domain.records import Record
from services.stats.domain.season_records import SeasonRecords
from services.stats.domain.season_reports import (
    Report,
    judge_workload,
    recommendation_summary,
    recommenders_with_summaries,
    season_overview,
    season_statistics,
)

def season_reports(season: SeasonRecords, season_id: str) -> dict[str, Report]:
    """Every report of one season, by document key (per recommending unit for the recommendation summary)."""
    reports = {
        "overview": season_overview(season, season_id),
        "statistics": season_statistics(season, season_id),
        "judge-workload": judge_workload(season, season_id),
    }
    for bucket, lines in entry_lines(season, season_id).items():
        reports[f"entries/{bucket}"] = lines
    for recommender_id in recommenders_with_summaries(season):
        reports[f"recommendation-summary/{recommender_id}"] = recommendation_summary(season, season_id, recommender_id)
    if is_national(season):  # national flow (issue 10): per province, what was sent, accepted and graded
        reports["provinces"] = national_intake(season, season_id)
    return reports


def reports_for(records_by_season: dict[str, dict[str, Record]], changed: Iterable[str] | None = None) -> dict[str, Report]:
    """The report documents, by id, of the seasons given (every season when None) and of the national years
    they roll up into; a rebuild compares every one of them."""
    if changed is None:
        reports: dict[str, Report] = {}
        for part in reports_in_parts(records_by_season):
            reports.update(part)
        return reports
    wanted = set(changed) & set(records_by_season)
    seasons = {season_id: SeasonRecords.of(records_by_season[season_id].values()) for season_id in sorted(wanted)}
    reports = {}
    for season_id, season in seasons.items():
        reports.update(_season_documents(season, season_id))
    years = {national_key(season) for season in seasons.values()} - {None}
    if years:
        everyone = {
            season_id: seasons.get(season_id) or SeasonRecords.of(records.values())
            for season_id, records in records_by_season.items()
        }
        reports.update(_national_documents(everyone, years))
    return reports


def reports_in_parts(records_by_season: dict[str, dict[str, Record]]) -> Iterator[dict[str, Report]]:
    """Every report document, a season's at a time and the national ones last, so that a rebuild can
    write one part while it computes the next."""
    seasons: dict[str, SeasonRecords] = {}
    for season_id in sorted(records_by_season):
        seasons[season_id] = SeasonRecords.of(records_by_season[season_id].values())
        yield _season_documents(seasons[season_id], season_id)
    yield _national_documents(seasons, None)


def _season_documents(season: SeasonRecords, season_id: str) -> dict[str, Report]:
    if not season.known:
        return {}
    return {f"season/{season_id}/{name}": report for name, report in season_reports(season, season_id).items()}


def _national_documents(seasons: dict[str, SeasonRecords], years: set[str] | None) -> dict[str, Report]:
    reports: dict[str, Report] = {}
    for year, of_year in season_ids_by_year(seasons).items():
        if years is None or year in years:
            reports.update({f"national/{year}/{name}": report for name, report in national_reports(year, of_year).items()})
    return reports
