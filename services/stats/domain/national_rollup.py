"""The national roll-up: per year, the provinces' seasons summed into the national overview and 统计表.

Rates are re-derived from the provinces' summed figures, never averaged (contracts.rates).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from contracts.codes import ActivityKind
from contracts.rates import RATE_FIGURES, RATE_FORMULAS, rate
from services.stats.domain.national_intake import is_national, with_national_counts
from services.stats.domain.records import is_province
from services.stats.domain.season_records import SeasonRecords
from services.stats.domain.season_reports import Report, code_label, provincial_grades, season_statistics, summed
from services.stats.domain.statistics_layout import ITEMS, in_pieces, season_profile_of

# ---------------------------------------------------------------- national view


def province_totals(season: SeasonRecords, season_id: str) -> dict[str, Any]:
    """One province's season: what its units registered and entered (through its feed or directly), what was
    recommended and graded (the national platform's own steps and the province's facts from its feed, each
    entry counted once in `recommended` / `graded` / `published`), and its feed's quarantine."""
    platform_recommended = {key for key, review in season.reviews.items() if review.get("recommendation")}
    platform_graded = {key for key, review in season.reviews.items() if review.get("grade")}
    platform_published = {key for key, review in season.reviews.items() if review.get("certificate_no")}
    provincial_recommended = set(season.provincial_recommendations)
    provincial_results = set(season.provincial_results)
    feeds = season.feed_counts()
    registrations = len(season.registrations)
    entries = sum(entry["status"] != "withdrawn" for entry in season.entries.values())
    return {
        "organizer": season.season.get("organizer") or season.organizer,
        "organizer_name": season.season.get("organizer_name"),
        "season_id": season_id,
        "kind": season.kind,
        "registrations": registrations,
        "fed_registrations": feeds["fed_registrations"],
        "direct_registrations": registrations - feeds["fed_registrations"],
        "entries": entries,
        "fed_entries": feeds["fed_entries"],
        "direct_entries": entries - feeds["fed_entries"],
        "recommended": len(platform_recommended | provincial_recommended),
        "platform_recommended": len(platform_recommended),
        "provincial_recommended": len(provincial_recommended),
        "graded": len(platform_graded | provincial_results),
        "provincial_results": len(provincial_results),
        "published": len(platform_published | provincial_results),
        "quarantined_open": feeds["quarantined_open"],
        "quarantined_resolved": feeds["quarantined_resolved"],
        "provincial_results_by_grade": provincial_grades(season),
    }


COUNTED = (
    "registrations", "fed_registrations", "direct_registrations", "entries", "fed_entries", "direct_entries",
    "recommended", "platform_recommended", "provincial_recommended", "graded", "provincial_results", "published",
    "quarantined_open", "quarantined_resolved",
)


def national_key(season: SeasonRecords) -> str | None:
    """The national view a season rolls up into (its year), if it is a province's season or a national one."""
    info = season.season
    if info and (is_province(info.get("organizer")) or is_national(season)) and info.get("year"):
        return str(info["year"])
    return None


def national_overview(year: str, seasons: dict[str, SeasonRecords]) -> Report:
    """Per province and kind: registrations and entries (of them through a feed), recommended and graded (of them
    the provinces' facts), published, the feeds' quarantine; totals per kind and in all."""
    rows = sorted(
        (province_totals(season, season_id) for season_id, season in seasons.items()),
        key=lambda row: (row["organizer"] or "", row["kind"] or "", row["season_id"]),
    )
    by_kind = []
    for kind in sorted({row["kind"] for row in rows if row["kind"]}):
        of_kind = [row for row in rows if row["kind"] == kind]
        by_kind.append({"kind": kind, "kind_label": code_label(ActivityKind, kind), "provinces": len(of_kind)}
                       | {name: sum(row[name] for row in of_kind) for name in COUNTED})
    return {
        "year": int(year),
        "provinces": rows,
        "by_kind": by_kind,
        "total": {"provinces": len({row["organizer"] for row in rows})}
        | {name: sum(row[name] for row in rows) for name in COUNTED},
    }


def national_statistics(year: str, seasons: dict[str, SeasonRecords]) -> Report:
    """The national 统计表 per kind: each province's (summed from its recommending units) and the nation's,
    the rates re-derived from the summed figures."""
    tables = []
    for kind in sorted({season.kind for season in seasons.values() if season.kind}):
        provinces = []
        for season_id, season in sorted(seasons.items(), key=lambda item: (item[1].season.get("organizer"), item[0])):
            if season.kind != kind:
                continue
            statistics = season_statistics(season, season_id)
            profile = season_profile_of(season.season)
            provinces.append({
                "organizer": season.season.get("organizer"),
                "organizer_name": season.season.get("organizer_name"),
                "season_id": season_id,
                "recommenders": statistics["total"]["recommenders"],
                "rates": statistics["total"]["rates"],
                "figures": dict(sorted(in_pieces(statistics["total"]["figures"], profile, kind).items())),
            })
        tables.append({
            "kind": kind,
            "kind_label": code_label(ActivityKind, kind),
            "items": [{"key": key, "label": label, "unit": unit} for key, label, unit in ITEMS[kind]],
            "provinces": provinces,
            "total": {"provinces": len(provinces), "figures": dict(sorted(summed(provinces).items())),
                      "rates": national_rates(provinces, kind)},
        })
    return {"year": int(year), "tables": tables}


def national_rates(provinces: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    """The nation's rates re-derived from the provinces' figures; a province whose form types a rate in (and so
    files no figures behind it) counts in neither its numerator nor its denominator."""
    if kind != ActivityKind.QC_GROUP.value:
        return {}
    rates = {}
    for name, (numerator, denominator) in RATE_FIGURES.items():
        counted = [row["figures"] for row in provinces
                   if row["figures"].get(numerator) is not None and not row["rates"].get(name, {}).get("typed")]
        rates[name] = rate(sum(int(Decimal(str(item.get(numerator) or 0))) for item in counted),
                           sum(int(Decimal(str(item.get(denominator) or 0))) for item in counted),
                           RATE_FORMULAS[name]).model_dump(mode="json")
    return rates


def national_reports(year: str, seasons: dict[str, SeasonRecords]) -> dict[str, Report]:
    # national flow (issue 10): the provinces' rows, with what each sent to the national seasons of the year
    provinces = {key: season for key, season in seasons.items() if is_province(season.season.get("organizer"))}
    nationals = {key: season for key, season in seasons.items() if key not in provinces}
    overview = with_national_counts(national_overview(year, provinces), nationals)
    return {"overview": overview, "statistics": national_statistics(year, provinces)}


def season_ids_by_year(seasons: dict[str, SeasonRecords]) -> dict[str, dict[str, SeasonRecords]]:
    years: dict[str, dict[str, SeasonRecords]] = {}
    for season_id, season in seasons.items():
        year = national_key(season)
        if year is not None:
            years.setdefault(year, {})[season_id] = season
    return years
