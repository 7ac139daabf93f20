"""Each entry's line in a season's reports (who, which recommending unit, how far, its scores and grade), kept in a
few documents per season so that a request for one entry reads one small document."""

from __future__ import annotations

import zlib

from services.stats.domain.season_records import SeasonRecords
from services.stats.domain.season_reports import PROGRESS, Report, entry_progress, season_rounds

ENTRY_BUCKETS = 16


def entry_bucket(entry_id: str) -> int:
    """Which of a season's entry documents holds an entry: a stable hash, so a request reads one small document."""
    return zlib.crc32(entry_id.encode()) % ENTRY_BUCKETS


def entry_lines(season: SeasonRecords, season_id: str) -> dict[int, Report]:
    """Each entry's line in the reports (who, which recommending unit, how far, its scores and grade), in
    ENTRY_BUCKETS documents; every bucket is written, empty or not."""
    buckets: dict[int, Report] = {index: {"season_id": season_id, "entries": {}} for index in range(ENTRY_BUCKETS)}
    rounds = [code for code, _, _ in season_rounds(season)]
    for entry_id in season.entry_ids():
        entry = season.entries.get(entry_id) or {}
        review = season.reviews.get(entry_id) or {}
        recommendation = review.get("recommendation") or {}
        reached = entry_progress(season, entry_id)
        stages = {}
        for stage in rounds:
            assignment = season.assignments.get((entry_id, stage))
            scored = season.scores.get((entry_id, stage), {})
            stages[stage] = {"judges": len(assignment["judge_ids"]) if assignment else 0, "scored": len(scored),
                             "blocked": (assignment or {}).get("blocked")}
        buckets[entry_bucket(entry_id)]["entries"][entry_id] = {
            "entry_id": entry_id,
            "kind": entry.get("kind") or recommendation.get("kind"),
            "type": entry.get("type") or recommendation.get("qc_type") or recommendation.get("team_type"),
            "unit_name": entry.get("unit_name") or recommendation.get("unit_name"),
            "credit_code": entry.get("credit_code") or recommendation.get("credit_code"),
            "name": entry.get("name") or recommendation.get("entry_name"),
            "recommender_id": recommendation.get("recommender_id") or entry.get("recommender_id"),
            "channel": recommendation.get("channel"),
            "status": entry.get("status"),
            "progress": [code for code, _ in PROGRESS if code in reached],
            "formal_review": review.get("formal_review"),
            "stages": stages,
            **({"rounds": review["rounds"]} if review.get("rounds") else {}),
            "grade": review.get("grade"),
            "objections": review.get("objections") or {},
            "certificate_no": review.get("certificate_no"),
            "national": review.get("national"),
            "fed": entry_id in season.fed_entries,
            "provincial_recommendation": season.provincial_recommendations.get(entry_id),
            "provincial_result": season.provincial_results.get(entry_id),
        }
    return buckets
