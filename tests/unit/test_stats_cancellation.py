"""Stats after 取消推荐资格: the withdrawn recommendations free the recommending unit's quota in the reports,
show as their own progress stage, and their grades no longer count; folded in any order to the same reports."""

from __future__ import annotations

from contracts import parse_payload
from services.stats.domain.reports import reports_for
from tests.unit.test_stats_reports import PLAN, events, fold_all, interleaved, later

REASON = "向参与活动的企业收取费用"


def cancelled_season() -> tuple[list[dict], list[dict], set[str]]:
    """The benchmark season, and the same with r000 cancelled and its recommendations withdrawn."""
    envelopes = events(PLAN)
    registered = next(item for item in envelopes
                      if item["type"] == "RecommenderRegistered" and item["payload"]["recommender_id"] == "r000")
    cancellation = later(registered, "RecommenderCancelled",
                         {"season_id": PLAN.season_id, "recommender_id": "r000", "reason": REASON}, version_step=9)
    reviews = {item["aggregate_id"]: item for item in envelopes
               if item["type"] == "EntryRecommended" and item["payload"]["recommender_id"] == "r000"}
    last = {}
    for item in envelopes:
        if item["aggregate_id"] in reviews:
            last[item["aggregate_id"]] = item
    withdrawals = [
        later(last[aggregate_id], "RecommendationWithdrawn", {
            "season_id": PLAN.season_id, "entry_id": recommended["payload"]["entry_id"], "recommender_id": "r000",
            "reason": REASON, "previous_progress": "in_review", "cause_event_id": cancellation["event_id"],
            "rule": "recommendation.recommender.cancelled",
        })
        for aggregate_id, recommended in reviews.items()
    ]
    for item in (cancellation, *withdrawals):
        parse_payload(item["type"], item["schema_version"], item["payload"])
    withdrawn_ids = {item["payload"]["entry_id"] for item in withdrawals}
    return envelopes, envelopes + [cancellation, *withdrawals], withdrawn_ids


def test_withdrawn_recommendations_free_the_quota_and_leave_the_grades() -> None:
    before_events, after_events, withdrawn = cancelled_season()
    before = reports_for(fold_all(before_events).seasons)[f"season/{PLAN.season_id}/overview"]
    after = reports_for(fold_all(after_events).seasons)[f"season/{PLAN.season_id}/overview"]
    quota = next(row for row in after["recommenders"] if row["recommender_id"] == "r000")
    assert quota["recommended"] == 0 and quota["remaining"] == quota["quota"]
    progress = {row["stage"]: row["count"] for row in after["review_progress"]}
    assert progress["recommendation_withdrawn"] == len(withdrawn) == 4
    assert sum(row["count"] for row in after["grades"]) == sum(row["count"] for row in before["grades"]) - len(withdrawn)


def test_a_cancelled_season_folds_to_the_same_reports_in_any_order() -> None:
    _, envelopes, _ = cancelled_season()
    expected = reports_for(fold_all(envelopes).seasons)
    assert reports_for(fold_all(interleaved(envelopes, 7)).seasons) == expected
