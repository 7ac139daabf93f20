"""A national season's report per province: what each province sent to it, what was accepted and what was graded.

A national season (organizer CAQ) receives the provinces' recommendations as national entries
(`NationalEntryReceived`, each naming its province and whether it came through the platform or the province's
feed). Per province: `sent` (national entries received), of them `via_platform` and `via_feed`; `accepted`
(passed the national formal review); `graded` (graded by the national review), with its grades (`none`: below every band);
and the province's quota (全国推荐名额) with what remains. Pure: computed from the season's records.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from services.stats.domain.season_records import SeasonRecords
    from services.stats.domain.season_reports import Report

NATIONAL_ORGANIZER = "CAQ"
COUNTS = ("sent", "via_platform", "via_feed", "accepted", "graded")
NO_BAND = "none"


def is_national(season: SeasonRecords) -> bool:
    """A national season: the national association's, or any season that received national entries."""
    return season.season.get("organizer") == NATIONAL_ORGANIZER or any(
        review.get("national_entry") for review in season.reviews.values())


def national_intake(season: SeasonRecords, season_id: str) -> Report:
    quota = season.season.get("province_quota") or {}
    bands = {band["code"]: band["label"] for band in season.season.get("grade_bands") or []}
    rows: dict[str, dict[str, Any]] = {}
    grades: dict[str, Counter] = {}
    for entry_id in sorted(season.reviews):
        review = season.reviews[entry_id]
        arrival = review.get("national_entry")
        if not arrival:
            continue
        province = arrival["province"]
        row = rows.setdefault(province, {"province": province} | dict.fromkeys(COUNTS, 0) | {"entries": []})
        row["sent"] += 1
        row["via_feed" if arrival.get("via") == "feed" else "via_platform"] += 1
        if review.get("formal_review") == "passed":
            row["accepted"] += 1
        graded = review.get("grade")
        grade = (graded or {}).get("grade")
        if graded:  # graded by the national review; below every band counts as graded, without a band
            row["graded"] += 1
            grades.setdefault(province, Counter())[grade or NO_BAND] += 1
        row["entries"].append({
            "entry_id": entry_id, "via": arrival.get("via"), "provincial_season_id": arrival.get("provincial_season_id"),
            "provincial_entry_id": arrival.get("provincial_entry_id"), "grade": grade,
        })
    provinces = []
    for province in sorted(rows):
        row = rows[province]
        allowed = (quota.get("provinces") or {}).get(province, quota.get("per_province")) if quota else None
        provinces.append(row | {
            "quota": allowed, "remaining": None if allowed is None else max(0, allowed - row["sent"]),
            "grades": [{"code": code, "label": bands.get(code, "未达等级" if code == NO_BAND else code), "count": count}
                       for code, count in sorted(grades.get(province, Counter()).items())],
        })
    return {
        "season_id": season_id,
        "organizer": season.season.get("organizer"),
        "organizer_name": season.season.get("organizer_name"),
        "title": season.season.get("title"),
        "kind": season.season.get("kind"),
        "province_quota": quota or None,
        "provinces": provinces,
        "total": {"provinces": len(provinces)} | {name: sum(row[name] for row in provinces) for name in COUNTS},
    }


# ---------------------------------------------------------------- in the national view (national/{year}/overview)

NATIONAL_COLUMNS = ("national_sent", "national_accepted", "national_graded")


def with_national_counts(overview: Report, national_seasons: dict[str, SeasonRecords]) -> Report:
    """Each province's row (per kind) gains what it sent to the national seasons of that kind and year, how many
    passed the national formal review and how many were graded; the totals per kind and in all sum them."""
    received: dict[tuple[str, str], dict[str, int]] = {}
    for season_id, season in national_seasons.items():
        for row in national_intake(season, season_id)["provinces"]:
            counts = received.setdefault((row["province"], season.season.get("kind") or ""), dict.fromkeys(
                NATIONAL_COLUMNS, 0))
            for column, name in zip(NATIONAL_COLUMNS, ("sent", "accepted", "graded"), strict=True):
                counts[column] += row[name]
    for row in overview["provinces"]:
        row.update(received.get((row["organizer"] or "", row["kind"] or ""), dict.fromkeys(NATIONAL_COLUMNS, 0)))
    for line in overview["by_kind"]:
        of_kind = [row for row in overview["provinces"] if row["kind"] == line["kind"]]
        line.update({column: sum(row[column] for row in of_kind) for column in NATIONAL_COLUMNS})
    overview["total"].update({column: sum(row[column] for row in overview["provinces"]) for column in NATIONAL_COLUMNS})
    return overview
