"""Review's HTTP API, its queries of review's own projection: the season as review knows it, its judges, entries in
review with their scores, a recommending unit's recommendations against its quota, a judge's queue, the results.

Each answers only what the caller's grant reaches (`policy.py`): a list is narrowed to the caller's scope, and a
query parameter narrows it further, never wider (a filter outside the scope gives an empty page); one object
outside the scope answers 404, the same as a missing one. Personal data is masked by `masking.review_for`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from infra.authorization import Scope
from infra.http import Limit, PathId, Skip
from infra.http.security import Authorized
from infra.masking import for_caller
from services.review.adapters.documents import recommender_from_document
from services.review.adapters.queries import recommendations_against_quota, season_results
from services.review.domain.entry_review import ReviewProgress
from services.review.entrypoints.dependencies import ReadModel, season_of
from services.review.entrypoints.masking import review_for

SeasonId = PathId
EntryId = PathId
# The scope fields review's entries and reviews carry (the season's organizer is checked on the path already).
ENTRY_SCOPE = ("organizer", "credit_code", "recommender_id")
LIST_SCOPE = ("credit_code", "recommender_id")
GRADE_KEYS = ("combined_score", "grade", "grade_label", "result", "regrade")


async def get_season(season_id: SeasonId, grant: Authorized, read_model: ReadModel) -> dict[str, Any]:
    return dict(grant.require(await read_model.season(season_id), f"season {season_id}", fields=("organizer",)))


async def judges(season_id: SeasonId, read_model: ReadModel) -> dict[str, Any]:
    keep = ("judge_id", "name", "work_unit", "work_unit_credit_code", "certificate_no", "recommender_id")
    items = [{key: item.get(key) for key in keep} for item in await read_model.judges_of(season_id)]
    return {"total": len(items), "items": items}


async def submitted_entry(season_id: SeasonId, entry_id: EntryId, grant: Authorized,
                          read_model: ReadModel) -> dict[str, Any]:
    entry = await read_model.entry(season_id, entry_id)
    return dict(grant.require(entry, f"entry {entry_id} of season {season_id}", fields=ENTRY_SCOPE))


async def recommendations(season_id: SeasonId, recommender_id: PathId, grant: Authorized,
                          read_model: ReadModel) -> dict[str, Any]:
    season = await season_of(read_model, season_id)
    document = grant.require(await read_model.recommender(season_id, recommender_id),
                             f"recommending unit {recommender_id} of season {season_id}",
                             fields=("organizer", "recommender_id"))
    answer = await recommendations_against_quota(read_model, season, recommender_from_document(dict(document)))
    return answer | {"cancellation": document.get("cancellation"),
                     "items": [review_for(grant.caller, item) for item in answer["items"]]}


async def entries(
    season_id: SeasonId,
    grant: Authorized,
    read_model: ReadModel,
    progress: ReviewProgress | None = None,
    recommender_id: str | None = Query(default=None, max_length=64),
    credit_code: str | None = Query(default=None, max_length=64),
    skip: Skip = 0,
    limit: Limit = 50,
) -> dict[str, Any]:
    filters = {"season_id": season_id, "recommender_id": recommender_id,
               "credit_code": credit_code.upper() if credit_code else None}
    base = grant.query(filters, fields=LIST_SCOPE)
    if base is None:  # a filter outside the caller's scope selects nothing
        total, items, counts = 0, [], {item.value: 0 for item in ReviewProgress}
    else:
        query = base | ({"progress": progress.value} if progress else {})
        total, items = await read_model.find_reviews(query, skip=skip, limit=limit)
        counts = await read_model.count_by_progress(base)
    return {
        "total": total, "skip": skip, "limit": limit,
        "items": [review_for(grant.caller, item) for item in items],
        "by_progress": [{"progress": item.value, "label": item.label, "count": counts[item.value]}
                        for item in ReviewProgress],
    }


async def entry_review(season_id: SeasonId, entry_id: EntryId, grant: Authorized,
                       read_model: ReadModel) -> dict[str, Any]:
    review = grant.require(await read_model.review(season_id, entry_id),
                           f"entry {entry_id} in review of season {season_id}", fields=ENTRY_SCOPE)
    return review_for(grant.caller, review)


async def entry_scores(season_id: SeasonId, entry_id: EntryId, grant: Authorized,
                       read_model: ReadModel) -> dict[str, Any]:
    """The full view for the organizer's staff, the national association and auditors; a judge assigned to the entry
    sees his or her own scores; the entry's unit and recommending unit its progress and grade."""
    what = f"entry {entry_id} in review of season {season_id}"
    review = grant.require(await read_model.review(season_id, entry_id), what, fields=ENTRY_SCOPE)
    scores = await read_model.scores_of(season_id, entry_id)
    assignments = await read_model.assignments_of(season_id, entry_id)
    summary = {"entry_id": entry_id, "progress": review["progress"]}
    if grant.scope is Scope.JUDGE:  # only a judge assigned to the entry (at any stage) knows of it
        assigned = {judge_id for item in assignments for judge_id in item.get("judge_ids") or ()}
        grant.require({"season_id": season_id, "judge_ids": sorted(assigned)}, what)
        return summary | {"scores": [item for item in scores if item["judge_id"] == grant.actor.org]}
    grade = {key: review.get(key) for key in GRADE_KEYS}
    if grant.oversees(review):  # the organizer's staff and the platform-wide readers, under the masking policy
        return summary | {"assignments": [for_caller(grant.caller, item) for item in assignments],
                          "scores": [for_caller(grant.caller, item) for item in scores]} | grade
    return summary | grade


async def judge_queue(judge_id: PathId, grant: Authorized, read_model: ReadModel,
                      season_id: str | None = Query(default=None, max_length=64)) -> dict[str, Any]:
    """The judge's own queue; the organizer's staff see in it the entries of their own seasons only."""
    items = [item for item in await read_model.queue(judge_id, season_id)
             if grant.admits({"season_id": item["season_id"]}, fields=("organizer",))]
    return {"judge_id": judge_id, "total": len(items), "to_score": sum(not item["scored"] for item in items),
            "items": items}


async def results(season_id: SeasonId, grant: Authorized, read_model: ReadModel) -> dict[str, Any]:
    """The entries on public notice and published; the organizer's staff, the national association and auditors
    see the graded and withdrawn ones besides."""
    season = await season_of(read_model, season_id)
    return await season_results(read_model, season, full=grant.oversees({"season_id": season_id}))


def register_routes(router: APIRouter) -> None:
    """Review's queries, each a module-level function above."""
    season = "/seasons/{season_id}"
    entry = f"{season}/entries/{{entry_id}}"
    router.get(season, summary="A season as review knows it, with its registered units count")(get_season)
    router.get(f"{season}/judges", summary="The season's judges as review knows them (no contacts)")(judges)
    router.get(f"{entry}/submission", summary="An entry as review knows it from submission's events: unit, "
               "recommending unit, type, status, version")(submitted_entry)
    router.get(f"{season}/recommenders/{{recommender_id}}/recommendations",
               summary="A recommending unit's recommendations against its quota, per participating unit")(recommendations)
    router.get(f"{season}/entries", summary="Entries in review, by review stage (progress)")(entries)
    router.get(entry, summary="An entry's review as projected")(entry_review)
    router.get(f"{entry}/scores", summary="An entry's scores, assignments and grade")(entry_scores)
    router.get("/judges/{judge_id}/queue",
               summary="A judge's queue: assigned entries and whether they are scored")(judge_queue)
    router.get(f"{season}/results", summary="The season's results: grades, notice, certificates")(results)

