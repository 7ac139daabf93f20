"""Review rounds: a season's own rounds with their windows, a gate (初审 → 发表赛) and the grade from both.

The season is Shandong's process on the Shanghai 2020 calendar of test_review_rules: 初审 (material form)
decides who presents at the 发表赛, and the grade weighs both. One test per rule, named after it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from contracts import parse_payload
from contracts.registered import SeasonOpened
from contracts.review_rounds import GateRule, ReviewRound
from contracts.scored import GateDecision, GateMethod
from infra.errors import RuleViolation
from services.registration.domain.season import check_rounds
from services.review.application.commands import DecideGate
from services.review.domain.entry_review import ReviewProgress
from tests.unit.test_review_rules import (
    CST,
    QC_SEASON,
    SECRETARIAT,
    World,
    material,
    presentation,
    refused,
    window,
)

INITIAL = ReviewRound(
    code="initial_review", label="初审", review_form="material", judges_per_entry=3, weight=Decimal("0.4"),
    window=window(datetime(2020, 7, 20, tzinfo=CST), datetime(2020, 8, 10, 22, tzinfo=CST)),
    gate=GateRule(),
)
CONTEST = ReviewRound(
    code="presentation", label="发表赛", review_form="presentation", judges_per_entry=3, weight=Decimal("0.6"),
    window=window(datetime(2020, 8, 11, tzinfo=CST), datetime(2020, 8, 31, 22, tzinfo=CST)),
)
GATED = replace(QC_SEASON, stage_weights={}, rounds=(INITIAL, CONTEST))
IN_INITIAL = datetime(2020, 7, 25, 10, 0, tzinfo=CST)
IN_CONTEST = datetime(2020, 8, 20, 10, 0, tzinfo=CST)
JUDGES = ("j1", "j2", "j3")


def scored_in_initial(world: World, totals: dict[str, str]) -> None:
    """Entries in review, their 初审 judges assigned and every judge's total given."""
    for unit, (entry_id, total) in enumerate(totals.items()):
        world.in_review(entry_id, unit)
        world.clock.now = IN_INITIAL
        world.assign(entry_id, "initial_review", *JUDGES)
        for judge_id in JUDGES:
            world.score(entry_id, judge_id, material(total), "initial_review")


def advance(world: World, **decision: Any) -> dict[str, Any]:
    return world.app.advance(DecideGate(world.season, "initial_review", GateDecision.model_validate(decision),
                                        sorted(world.entries)), SECRETARIAT)


def presented(world: World, entry_id: str, total: str) -> None:
    world.clock.now = IN_CONTEST
    world.assign(entry_id, "presentation", *JUDGES)
    for judge_id in JUDGES:
        world.score(entry_id, judge_id, presentation(total), "presentation")


# ---------------------------------------------------------------- the season's rounds


def test_a_version_two_season_upcasts_to_its_two_rounds() -> None:
    opened = SeasonOpened.model_validate({
        "season_id": "310000-2020-qc_group", "organizer": "310000", "organizer_name": "上海市质量协会", "year": 2020,
        "kind": "qc_group", "title": "2020年上海市质量管理小组活动", "channels": ["recommender"],
        "windows": {"registration": {"opens_at": "2020-06-01T00:00:00+08:00", "closes_at": "2020-07-12T22:00:00+08:00"}},
    }).model_dump(mode="json")
    v2 = {key: value for key, value in opened.items() if key not in {"rounds", "formal_review", "grade_not_advanced"}}
    v2 |= {"stage_weights": {"material_review": "0.4", "presentation": "0.6"}, "judges_per_entry": {"presentation": 7}}
    season = parse_payload("SeasonOpened", 2, v2)
    assert [(item.code, item.label, item.weight, item.judges_per_entry, item.assign_on_entry, item.window)
            for item in season.rounds] == [
        ("material_review", "文审", Decimal("0.4"), None, True, None),
        ("presentation", "发表赛", Decimal("0.6"), 7, False, None),
    ]


def test_season_rounds_gate_last() -> None:
    with pytest.raises(RuleViolation) as refusal:
        check_rounds([INITIAL, CONTEST.model_copy(update={"gate": GateRule()})], [], 2020)
    assert (refusal.value.field, refusal.value.rule) == ("rounds.1.gate", "season.rounds.gate_last")


def test_season_rounds_code_unique() -> None:
    with pytest.raises(RuleViolation) as refusal:
        check_rounds([INITIAL.model_copy(update={"gate": None}), INITIAL.model_copy(update={"gate": None})], [], 2020)
    assert refusal.value.rule == "season.rounds.code_unique"


def test_season_rounds_code_reserved() -> None:
    with pytest.raises(RuleViolation) as refusal:
        check_rounds([CONTEST.model_copy(update={"code": "formal_review"})], [], 2020)
    assert refusal.value.rule == "season.rounds.code_reserved"


def test_season_rounds_rubric_unknown() -> None:
    with pytest.raises(RuleViolation) as refusal:
        check_rounds([CONTEST.model_copy(update={"rubric": "no_such_form"})], [], 2020)
    assert (refusal.value.field, refusal.value.rule) == ("rounds.0.rubric", "season.rounds.rubric_unknown")


def test_season_rounds_order() -> None:
    with pytest.raises(RuleViolation) as refusal:
        check_rounds([CONTEST, INITIAL.model_copy(update={"gate": None})], [], 2020)
    assert (refusal.value.field, refusal.value.rule) == ("rounds.1.window.opens_at", "season.rounds.order")


def test_season_rounds_may_overlap() -> None:
    """Shanghai 2020: 文审 07-20..08-10 and the 发表赛 in August overlap, as the notice has them."""
    august = CONTEST.model_copy(update={"window": window(datetime(2020, 8, 1, tzinfo=CST),
                                                         datetime(2020, 8, 31, 22, tzinfo=CST))})
    check_rounds([INITIAL, august], [], 2020)


def test_season_rounds_gate_inconsistent() -> None:
    gate = GateRule(method=GateMethod.THRESHOLD, top_n=10)
    with pytest.raises(RuleViolation) as refusal:
        check_rounds([INITIAL.model_copy(update={"gate": gate}), CONTEST], [], 2020)
    assert (refusal.value.field, refusal.value.rule) == ("rounds.0.gate.top_n", "season.rounds.gate_inconsistent")


# ---------------------------------------------------------------- windows per round


def test_season_window_round_a_late_score_names_the_round_and_its_window() -> None:
    world = World(season=GATED)
    scored_in_initial(world, {"e1": "80"})
    world.clock.now = datetime(2020, 8, 10, 22, 0, 1, tzinfo=CST)
    status = refused(world, lambda: world.revise("e1", "j1", material("81"), stage="initial_review"))
    assert status == (409, "season_id", "season.window.round")
    assert world.last_message == (  # type: ignore[attr-defined]
        "the 初审 (initial_review) window of season 310000-2020-qc_group is closed: it runs from 2020-07-20 00:00 "
        "to 2020-08-10 22:00 Asia/Shanghai (now 2020-08-10 22:00:01)"
    )


def test_season_window_round_a_round_without_its_own_window_keeps_the_review_window() -> None:
    world = World(season=replace(GATED, rounds=(INITIAL.model_copy(update={"window": None}), CONTEST)))
    scored_in_initial(world, {"e1": "80"})
    world.clock.now = datetime(2020, 9, 1, 9, 0, tzinfo=CST)
    assert refused(world, lambda: world.revise("e1", "j1", material("81"), stage="initial_review")) == (
        409, "season_id", "season.window.review")


def test_review_round_unknown() -> None:
    world = World(season=GATED)
    scored_in_initial(world, {"e1": "80"})
    assert refused(world, lambda: world.score("e1", "j4", material("80"), "video")) == (
        422, "stage", "review_round.unknown")


def test_review_round_not_taken_before_the_gate_advances_the_entry() -> None:
    world = World(season=GATED)
    scored_in_initial(world, {"e1": "80"})
    assert refused(world, lambda: world.assign("e1", "presentation", *JUDGES)) == (
        409, "stage", "review_round.not_taken")


# ---------------------------------------------------------------- gates


def test_gate_top_n_advances_the_best_and_records_the_others_with_their_reason() -> None:
    world = World(season=GATED)
    scored_in_initial(world, {"e1": "90", "e2": "70", "e3": "85"})
    answer = advance(world, method="top_n", top_n=2)
    assert answer["advanced"] == ["e1", "e3"]
    assert answer["not_advanced"] == [{"entry_id": "e2", "reason": "gate.top_n.below",
                                       "message": "ranked 3 in 初审 with 70.00; the top 2 go on"}]
    stopped = world.app.entry_review(GATED.season_id, "e2")
    assert (stopped.progress, stopped.stopped_at) == (ReviewProgress.NOT_ADVANCED, "initial_review")
    events = [item.type for item in world.app.history(stopped.id)]
    assert events[-1] == "EntryNotAdvanced"


def test_gate_top_n_ties_at_the_last_place_all_go_on() -> None:
    world = World(season=GATED)
    scored_in_initial(world, {"e1": "90", "e2": "85", "e3": "85"})
    assert advance(world, method="top_n", top_n=2)["advanced"] == ["e1", "e2", "e3"]


def test_gate_threshold() -> None:
    world = World(season=GATED)
    scored_in_initial(world, {"e1": "90", "e2": "70"})
    answer = advance(world, method="threshold", threshold="75")
    assert answer["advanced"] == ["e1"] and answer["not_advanced"][0]["reason"] == "gate.threshold.below"


def test_gate_organizer_choice_with_the_reason() -> None:
    world = World(season=GATED)
    scored_in_initial(world, {"e1": "90", "e2": "70"})
    answer = advance(world, method="organizer_choice", entry_ids=["e2"], reason="好中选优，同一单位只选一项")
    assert answer["advanced"] == ["e2"]
    assert answer["not_advanced"] == [{"entry_id": "e1", "reason": "gate.organizer_choice.not_chosen",
                                       "message": "好中选优，同一单位只选一项"}]


def test_gate_decided() -> None:
    world = World(season=GATED)
    scored_in_initial(world, {"e1": "90", "e2": "70"})
    advance(world, method="top_n", top_n=1)
    assert refused(world, lambda: advance(world, method="top_n", top_n=2)) == (409, "round_code", "gate.decided")


def test_gate_scores_incomplete() -> None:
    world = World(season=GATED)
    scored_in_initial(world, {"e1": "90"})
    world.in_review("e2", 1)
    world.clock.now = IN_INITIAL
    world.assign("e2", "initial_review", *JUDGES)
    world.score("e2", "j1", material("80"), "initial_review")
    assert refused(world, lambda: advance(world, method="top_n", top_n=1)) == (409, "method", "gate.scores.incomplete")


def test_gate_method_season() -> None:
    world = World(season=replace(GATED, rounds=(INITIAL.model_copy(update={"gate": GateRule(method="threshold")}),
                                                CONTEST)))
    scored_in_initial(world, {"e1": "90"})
    assert refused(world, lambda: advance(world, method="top_n", top_n=1)) == (422, "method", "gate.method.season")


def test_gate_top_n_required() -> None:
    world = World(season=GATED)
    scored_in_initial(world, {"e1": "90"})
    assert refused(world, lambda: advance(world, method="top_n")) == (422, "top_n", "gate.top_n.required")


def test_gate_not_a_gate() -> None:
    world = World(season=GATED)
    scored_in_initial(world, {"e1": "90"})
    decision = GateDecision(method="top_n", top_n=1)
    assert refused(world, lambda: world.app.advance(DecideGate(world.season, "presentation", decision, ["e1"]), SECRETARIAT)) == (
        409, "round_code", "gate.not_a_gate")


def test_gate_entry_not_in_round() -> None:
    world = World(season=GATED)
    scored_in_initial(world, {"e1": "90"})
    assert refused(world, lambda: advance(world, method="organizer_choice", entry_ids=["e9"])) == (
        409, "entry_ids.0", "gate.entry.not_in_round")


# ---------------------------------------------------------------- the grade from the rounds taken


def test_grade_from_both_rounds_by_the_seasons_weights() -> None:
    world = World(season=GATED)
    scored_in_initial(world, {"e1": "90", "e2": "70"})
    advance(world, method="top_n", top_n=1)
    presented(world, "e1", "80")
    answer = world.grade("e1")
    assert answer["combined_score"] == "84.00"  # 0.4 × 90 + 0.6 × 80
    graded = world.app.history(world.app.entry_review(GATED.season_id, "e1").id)[-1]
    assert graded.payload["weights"] == {"initial_review": "0.4", "presentation": "0.6"}


def test_grade_entry_not_advanced() -> None:
    world = World(season=GATED)
    scored_in_initial(world, {"e1": "90", "e2": "70"})
    advance(world, method="top_n", top_n=1)
    assert refused(world, lambda: world.grade("e2")) == (409, "entry_id", "grade.entry.not_advanced")


def test_grade_not_advanced_from_the_rounds_taken_where_the_season_says_so() -> None:
    world = World(season=replace(GATED, grade_not_advanced=True))
    scored_in_initial(world, {"e1": "90", "e2": "72"})
    advance(world, method="top_n", top_n=1)
    assert world.grade("e2")["combined_score"] == "72.00"


def test_grade_gate_pending() -> None:
    world = World(season=GATED)
    scored_in_initial(world, {"e1": "90"})
    assert refused(world, lambda: world.grade("e1")) == (409, "entry_id", "grade.gate.pending")


# ---------------------------------------------------------------- the example seasons


def test_the_shanghai_2020_example_season_opens_with_its_notices_deadlines() -> None:
    from qcp.demo import shanghai_2020_qc_season
    from services.registration.domain.season import check_season

    opened = SeasonOpened(season_id="310000-2020-qc_group", **shanghai_2020_qc_season())
    check_season(opened)
    assert opened.formal_review is not None and opened.formal_review.closes_at.isoformat() == "2020-07-19T16:00:00+00:00"
    assert [(item.label, item.gate is not None) for item in opened.rounds] == [
        ("文审", False), ("发表赛", True), ("推荐国家级材料完善", False)]


def test_season_windows_may_overlap_as_shanghai_teams_2024_has_them() -> None:
    """评价 7–8月 and 发布 8月 (Shanghai teams 2024): the 发布 window lies within the 评审 window's last month."""
    from services.registration.domain.season import check_windows

    def month(first: int, last: int) -> Any:
        return window(datetime(2024, first, 1, tzinfo=CST), datetime(2024, last + 1, 1, tzinfo=CST))

    from contracts.codes import Stage

    check_windows({Stage(stage): value for stage, value in {"registration": month(2, 5), "submission": month(2, 5), "recommendation": month(4, 6),
                   "review": month(7, 8), "publication": month(8, 8)}.items()}, 2024)


def test_season_window_round_judges_are_assigned_by_hand_until_the_round_closes() -> None:
    from qcp.demo import shanghai_2020_qc_season

    opened = SeasonOpened(season_id="310000-2020-qc_group", **shanghai_2020_qc_season())
    season = replace(QC_SEASON, rounds=tuple(opened.rounds), formal_review=opened.formal_review, stage_weights={})
    world = World(season=replace(season, formal_review=None))
    world.in_review("e1")
    world.season = season
    world.clock.now = datetime(2020, 8, 20, 10, 0, tzinfo=CST)  # 形式审查 closed on 07-20; the 发表赛 is on
    assert world.assign("e1", "presentation", *JUDGES)["event"] == "JudgesAssigned"
    world.clock.now = datetime(2020, 9, 1, 0, 0, tzinfo=CST)
    assert refused(world, lambda: world.assign("e1", "presentation", "j4", "j5", "j6")) == (
        409, "season_id", "season.window.round")


def test_score_judge_one_entry_per_unit_where_the_round_says_so() -> None:
    world = World(season=replace(GATED, rounds=(INITIAL.model_copy(update={"one_entry_per_unit": True}), CONTEST)))
    world.in_review("e1")
    world.in_review("e2", qc_type="innovation")  # the same unit's second entry
    world.clock.now = IN_INITIAL
    for entry_id in ("e1", "e2"):
        world.assign(entry_id, "initial_review", *JUDGES)
    world.score("e1", "j1", material("80"), "initial_review")
    assert refused(world, lambda: world.score("e2", "j1", material("82"), "initial_review")) == (
        409, "entry_id", "score.judge.one_entry_per_unit")
    assert world.score("e2", "j2", material("82"), "initial_review")["event"] == "ScoreRecorded"
