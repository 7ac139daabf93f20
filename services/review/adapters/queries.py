"""Review's read-side queries that combine several of its projection's collections: a recommending unit's
recommendations against its quota, the season's results as published, the seasons and entries a feed batch names.

Each returns plain data (or the domain's inbound values); the routes authorize, mask and answer.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from services.review.adapters.documents import entry_from_document, season_from_document
from services.review.adapters.read_model import ReviewReadModel
from services.review.domain.entry_review import ReviewProgress
from services.review.domain.inbound import EntryView, RecommenderView, SeasonView

NOT_COUNTED = (ReviewProgress.REVOKED.value, ReviewProgress.WITHDRAWN.value)
PUBLIC_RESULTS = (ReviewProgress.APPROVED.value, ReviewProgress.PUBLISHED.value)
ALL_RESULTS = (*PUBLIC_RESULTS, ReviewProgress.GRADED.value, ReviewProgress.RESULT_WITHDRAWN.value)
RESULT_KEYS = ("entry_id", "unit_name", "entry_name", "kind", "qc_type", "team_type", "recommender_id",
               "combined_score", "grade", "grade_label", "progress", "progress_label", "certificate_no", "national")


async def recommendations_against_quota(read_model: ReviewReadModel, season: SeasonView,
                                        recommender: RecommenderView) -> dict[str, Any]:
    """The recommending unit's recommendations (each marked whether its entry was withdrawn), and per participating
    unit how many count against the quota (neither revoked nor withdrawn), what remains and whether it is below the
    minimum; `items` are the reviews as stored, for the route to mask."""
    season_id, recommender_id = season.season_id, recommender.recommender_id
    quota = recommender.effective_quota(season)
    _, items = await read_model.find_reviews({"season_id": season_id, "recommender_id": recommender_id})
    units: dict[str, dict[str, Any]] = {}
    counted = []
    for item in items:
        entry = await read_model.entry(season_id, item["entry_id"])
        withdrawn = (entry or {}).get("status") == "withdrawn"
        item["entry_withdrawn"] = withdrawn
        if item["progress"] in NOT_COUNTED or withdrawn:
            continue
        counted.append(item)
        unit = units.setdefault(item["credit_code"], {
            "credit_code": item["credit_code"], "unit_name": item["unit_name"], "recommended": 0,
            "per_type": {}, "team_types": [],
        })
        unit["recommended"] += 1
        if item.get("qc_type"):
            unit["per_type"][item["qc_type"]] = unit["per_type"].get(item["qc_type"], 0) + 1
        if item.get("team_type"):
            unit["team_types"].append(item["team_type"])
    for unit in units.values():
        unit["remaining"] = max(quota.per_unit_max - unit["recommended"], 0)
        unit["below_minimum"] = unit["recommended"] < quota.per_unit_min
    return {
        "season_id": season_id, "recommender_id": recommender_id, "name": recommender.name,
        "quota": quota.model_dump(mode="json"), "quota_raised": recommender.quota is not None,
        "recommended": len(counted),
        "total_team_size": sum(item.get("team_size") or 0 for item in counted),
        "units": sorted(units.values(), key=lambda unit: unit["credit_code"]),
        "items": items,
    }


async def season_results(read_model: ReviewReadModel, season: SeasonView, *, full: bool) -> dict[str, Any]:
    """The entries on public notice and published; with `full`, the graded and withdrawn ones besides."""
    season_id = season.season_id
    notice = await read_model.results(season_id)
    shown = ALL_RESULTS if full else PUBLIC_RESULTS
    _, items = await read_model.find_reviews({"season_id": season_id, "progress": {"$in": list(shown)}})
    if not full:
        public_ids = set((notice or {}).get("on_notice") or [])
        items = [item for item in items if item["entry_id"] in public_ids]
    return {
        "season_id": season_id,
        "notice": {key: (notice or {}).get(key) for key in ("on_notice", "opens_at", "closes_at")} if notice else None,
        "last_publication": (notice or {}).get("last_publication"),
        "items": [{key: item.get(key) for key in RESULT_KEYS} for item in by_grade(season, items)],
    }


def by_grade(season: SeasonView, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Results as published: by grade band (from the highest), then combined score (exact decimals), then entry."""
    order = {band.code: position for position, band in enumerate(season.grade_bands)}
    return sorted(items, key=lambda item: (order.get(item.get("grade") or "", len(order)),
                                           -Decimal(item.get("combined_score") or "-1"), item["entry_id"]))


async def seasons_by_id(read_model: ReviewReadModel, season_ids: Iterable[str]) -> dict[str, SeasonView]:
    """The seasons review knows of among these ids."""
    seasons = {}
    for season_id in sorted(set(season_ids)):
        document = await read_model.season(season_id)
        if document is not None:
            seasons[season_id] = season_from_document(document)
    return seasons


async def entries_by_id(read_model: ReviewReadModel, entry_ids: Iterable[str]) -> dict[str, EntryView]:
    """The entries review knows of among these ids, whatever their season."""
    return {document["entry_id"]: entry_from_document(document)
            for document in await read_model.entries_with_ids(sorted(set(entry_ids)))}
