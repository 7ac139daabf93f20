"""Stats and review rounds: a season with 初审 as a gate (SeasonOpened version 3, EntryAdvanced, EntryNotAdvanced)
folds beside an older season (version 2) into the same reports in any order; the overview counts each round
and the reasons entries did not advance; the judge workload lists the declared rounds."""

from __future__ import annotations

from typing import Any

from benchmarks.stats_events import EnvelopeWriter, SeasonPlan, aggregate, season_events, season_opened
from services.stats.domain.reports import reports_for
from tests.unit.test_stats_reports import events, fold_all, interleaved

OLD = SeasonPlan(season_no=5, recommenders=1, units_per_recommender=2, entries_per_unit=1, judges=5)
GATED = SeasonPlan(season_no=6, organizer="370000", recommenders=1, units_per_recommender=1, entries_per_unit=1,
                   judges=3)
ROUNDS = [
    {"code": "initial_review", "label": "初审", "review_form": "material", "judges_per_entry": 3, "weight": "0.4",
     "gate": {"method": "top_n", "top_n": 1}},
    {"code": "presentation", "label": "发表赛", "review_form": "presentation", "judges_per_entry": 3, "weight": "0.6"},
]


def gated_events() -> list[dict[str, Any]]:
    """The gated season: two entries scored in 初审; e1 goes on and is scored in the 发表赛, e2 does not."""
    writer = EnvelopeWriter(GATED)
    sid = GATED.season_id
    opened = {key: value for key, value in season_opened(GATED).items() if key != "stage_weights"}
    out = [writer.envelope("registration.events", aggregate("season", sid), "SeasonOpened",
                           opened | {"rounds": ROUNDS}, schema_version=3)[1]]
    judges = ["j1", "j2", "j3"]

    def scored(entry_id: str, stage: str, total: str) -> None:
        out.append(writer.envelope("review.events", aggregate("assignment", sid, entry_id, stage), "JudgesAssigned", {
            "season_id": sid, "entry_id": entry_id, "stage": stage, "judge_ids": judges,
            "assigned_by": "review.assignment"})[1])
        for judge_id in judges:
            out.append(writer.envelope("review.events", aggregate("score", sid, entry_id, stage, judge_id),
                                       "ScoreRecorded", {
                "season_id": sid, "entry_id": entry_id, "judge_id": judge_id, "stage": stage, "rubric": "r",
                "criteria": {"total": total}, "comment": None, "total": total})[1])

    scored("e1", "initial_review", "90")
    scored("e2", "initial_review", "70")
    gate = {"season_id": sid, "stage": "initial_review", "stage_label": "初审", "method": "top_n"}
    out.append(writer.envelope("review.events", aggregate("entry-review", sid, "e1"), "EntryAdvanced", gate | {
        "entry_id": "e1", "score": "90.00", "rank": 1, "next_stage": "presentation", "next_stage_label": "发表赛"})[1])
    out.append(writer.envelope("review.events", aggregate("entry-review", sid, "e2"), "EntryNotAdvanced", gate | {
        "entry_id": "e2", "score": "70.00", "rank": 2, "reason": "gate.top_n.below",
        "message": "ranked 2 in 初审 with 70.00; the top 1 go on"})[1])
    scored("e1", "presentation", "85")
    return out


def test_a_gated_season_and_an_older_one_fold_to_the_same_reports_in_any_order() -> None:
    envelopes = events(OLD) + gated_events()
    expected = reports_for(fold_all(envelopes).seasons)
    for seed in range(3):
        assert reports_for(fold_all(interleaved(envelopes, seed)).seasons) == expected
    assert reports_for(fold_all(envelopes + envelopes[::3]).seasons) == expected, "redelivered"


def test_the_overview_counts_each_round_and_why_entries_did_not_advance() -> None:
    reports = reports_for(fold_all(gated_events()).seasons)
    overview = reports[f"season/{GATED.season_id}/overview"]
    assert overview["review_rounds"] == [
        {"round": "initial_review", "label": "初审", "gate": True, "assigned": 2, "scored": 2, "advanced": 1,
         "not_advanced": 1, "not_advanced_reasons": [{"reason": "gate.top_n.below", "count": 1}]},
        {"round": "presentation", "label": "发表赛", "gate": False, "assigned": 1, "scored": 1, "advanced": 0,
         "not_advanced": 0, "not_advanced_reasons": []},
    ]
    assert {row["stage"]: row["count"] for row in overview["review_progress"]}["not_advanced"] == 1
    workload = reports[f"season/{GATED.season_id}/judge-workload"]
    assert [item["label"] for item in workload["rounds"]] == ["初审", "发表赛"]
    assert workload["judges"][0]["stages"]["initial_review"] == {"assigned": 2, "scored": 2}


def test_an_older_season_shows_its_two_rounds() -> None:
    reports = reports_for(fold_all(list(envelope for _, envelope in season_events(OLD))).seasons)
    rows = reports[f"season/{OLD.season_id}/overview"]["review_rounds"]
    assert [(row["round"], row["label"], row["gate"]) for row in rows] == [
        ("material_review", "文审", False), ("presentation", "发表赛", False)]
