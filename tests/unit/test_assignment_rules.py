"""Judge assignment's rules: conflicts of interest, load balance, k per stage, blocked entries, exactly once."""

from __future__ import annotations

from collections import Counter
from uuid import uuid4

import pytest

from contracts import Actor
from contracts.codes import Channel, Role
from infra.eventstore import CommandContext
from infra.settings import ServiceSettings
from qcp.demo import demo_credit_code
from services.review.application import ReviewApplication
from services.review.assignment.domain import (
    NOT_ENOUGH_JUDGES,
    OWN_WORK_UNIT,
    RECOMMENDER_PANEL,
    EntryToAssign,
    Judge,
    assignment_id,
    choose_judges,
    conflict_of,
    judges_per_entry,
    name_key,
)
from services.review.assignment.process import AssignmentRecorder, AssignmentSettings

SEASON = "310000-2024-qc_group"
UNIT = demo_credit_code(1)
SYSTEM = CommandContext(Actor(id="review.assignment", role=Role.SYSTEM, org="310000"), Channel.SYSTEM)


def entry(entry_id: str = "e1", recommender: str | None = "xuhui", names: tuple[str, ...] = ("上海申达电气设备有限公司", "申达电气")) -> EntryToAssign:
    return EntryToAssign(SEASON, entry_id, "material_review", UNIT, recommender, names)


def panel(count: int, **fields: str | None) -> list[Judge]:
    return [Judge(judge_id=f"j{index:02d}", work_unit=f"上海第{index}评审单位", **fields) for index in range(count)]


def test_assignment_conflict_own_work_unit_by_credit_code() -> None:
    judge = Judge("j1", "另一个名称有限公司", work_unit_credit_code=UNIT.lower())
    assert conflict_of(judge, entry()) == OWN_WORK_UNIT


@pytest.mark.parametrize("work_unit", ["上海申达电气设备有限公司", " 上海申达电气 设备有限公司 ", "申达电气"])
def test_assignment_conflict_own_work_unit_by_name(work_unit: str) -> None:
    assert conflict_of(Judge("j1", work_unit), entry()) == OWN_WORK_UNIT


def test_names_compare_without_spaces_and_full_width_forms() -> None:
    assert name_key("上海（ＡＢＣ）有限公司") == name_key("上海(abc) 有限公司")


def test_assignment_conflict_recommender_panel() -> None:
    assert conflict_of(Judge("j1", "上海质量研究院", recommender_id="xuhui"), entry()) == RECOMMENDER_PANEL
    assert conflict_of(Judge("j1", "上海质量研究院", recommender_id="pudong"), entry()) is None
    assert conflict_of(Judge("j1", "上海质量研究院"), entry()) is None, "the organizer's panel judges every entry"
    assert conflict_of(Judge("j1", "上海质量研究院", recommender_id="xuhui"), entry(recommender=None)) is None


def test_assignment_load_balance_takes_the_least_loaded_unconflicted_judges() -> None:
    judges = [*panel(6), Judge("own", "申达电气"), Judge("xuhui", "徐汇区某单位", recommender_id="xuhui")]
    loads = {"j00": 3, "j01": 0, "j02": 1, "j03": 0, "j04": 2, "j05": 9, "own": 0, "xuhui": 0}
    choice = choose_judges(entry(), judges, loads, 4)
    assert not choice.blocked
    assert set(choice.judge_ids) == {"j01", "j03", "j02", "j04"}
    assert choice.judge_ids[2:] == ("j02", "j04"), "fewest assigned first"
    assert choice.conflicted == {OWN_WORK_UNIT: 1, RECOMMENDER_PANEL: 1}


def test_ties_are_broken_deterministically_and_differently_between_entries() -> None:
    judges = panel(20)
    first = choose_judges(entry("e1"), judges, {}, 5)
    assert choose_judges(entry("e1"), list(reversed(judges)), {}, 5) == first
    picks = {choose_judges(entry(f"e{index}"), judges, {}, 5).judge_ids for index in range(20)}
    assert len(picks) > 15, "concurrent workers with equal loads spread their picks"


def test_sequential_assignment_keeps_loads_within_one() -> None:
    judges = panel(13)
    loads: Counter[str] = Counter()
    for index in range(200):
        choice = choose_judges(entry(f"e{index}", recommender=None, names=()), judges, loads, 5)
        loads.update(choice.judge_ids)
    assert max(loads.values()) - min(loads.values()) <= 1
    assert sum(loads.values()) == 1000


def test_assignment_not_enough_judges_blocks_with_the_counts() -> None:
    judges = [*panel(3), Judge("own", "申达电气"), Judge("xuhui", "某单位", recommender_id="xuhui")]
    choice = choose_judges(entry(), judges, {}, 5)
    assert choice.blocked and choice.judge_ids == ()
    assert (choice.required, choice.eligible, sum(choice.conflicted.values())) == (5, 3, 2)
    assert "5 judges are needed and 3 are free of conflicts" in choice.message()


def test_k_comes_from_the_season_when_it_has_one_else_from_the_stage_default() -> None:
    defaults = AssignmentSettings().judges_per_entry
    assert judges_per_entry(None, "material_review", defaults) == 5
    assert judges_per_entry({"judges_per_entry": {"material_review": 7}}, "material_review", defaults) == 7
    assert judges_per_entry({"judges_per_entry": {"material_review": 7}}, "presentation", {"presentation": 9}) == 9


def test_k_per_stage_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QCP_ASSIGNMENT_JUDGES_PER_ENTRY", '{"material_review": 3, "presentation": 7}')
    assert AssignmentSettings().judges_per_entry == {"material_review": 3, "presentation": 7}


def recorder() -> tuple[AssignmentRecorder, ReviewApplication]:
    app = ReviewApplication(ServiceSettings(service="review", event_store="memory"))
    return AssignmentRecorder(app), app


def test_an_entry_is_assigned_once_for_a_stage_a_second_opening_collides_and_returns_the_first() -> None:
    assigner, app = recorder()
    first = choose_judges(entry(), panel(8), {}, 5)
    other = choose_judges(entry(), panel(8), {"j00": 5, "j01": 5, "j02": 5}, 5)
    envelopes, recorded = assigner.open(entry(), first, SYSTEM, "310000")
    again, recorded_again = assigner.open(entry(), other, SYSTEM, "310000")
    assert recorded and not recorded_again
    assert again == envelopes and [item.type for item in envelopes] == ["JudgesAssigned"]
    assert envelopes[0].payload["judge_ids"] == list(first.judge_ids)
    assert envelopes[0].aggregate_id == assignment_id(SEASON, "e1", "material_review")
    published, _ = app.envelopes_after(0, 100)
    assert published == envelopes, "what the relay publishes is what the process applied"


def test_a_blocked_assignment_is_recorded_and_assigned_once_when_enough_judges_arrive() -> None:
    assigner, app = recorder()
    blocked = choose_judges(entry(), panel(2), {}, 5)
    envelopes, recorded = assigner.open(entry(), blocked, SYSTEM, "310000")
    assert recorded and [item.type for item in envelopes] == ["AssignmentBlocked"]
    assert envelopes[0].payload["reason"] == NOT_ENOUGH_JUDGES
    aggregate_id = envelopes[0].aggregate_id

    def still_short(current):  # noqa: ANN001, ANN202
        return current.entry(), choose_judges(current.entry(), panel(4), {}, 5)

    assert assigner.assign_blocked(aggregate_id, still_short, SYSTEM, "310000") == ([], False)

    def enough(current):  # noqa: ANN001, ANN202
        return current.entry(), choose_judges(current.entry(), panel(6), {}, 5)

    assigned, recorded = assigner.assign_blocked(aggregate_id, enough, SYSTEM, "310000")
    assert recorded and [item.type for item in assigned] == ["JudgesAssigned"]
    assert assigned[0].aggregate_version == 3
    history, recorded = assigner.assign_blocked(aggregate_id, enough, SYSTEM, "310000")
    assert not recorded and [item.type for item in history] == ["AssignmentBlocked", "JudgesAssigned"]
    types = Counter(item.type for item in app.envelopes_after(0, 100)[0])
    assert types == {"AssignmentBlocked": 1, "JudgesAssigned": 1}


def test_the_opening_is_bookkeeping_and_never_published() -> None:
    assigner, app = recorder()
    assigner.open(entry(str(uuid4())), choose_judges(entry(), panel(5), {}, 5), SYSTEM, "310000")
    assert app.recorder.max_notification_id() == 2
    assert [item.type for item in app.envelopes_after(0, 100)[0]] == ["JudgesAssigned"]


def test_assignment_conflict_recommender_panel_a_judge_named_on_the_recommendation_form() -> None:
    """The judges who signed the entry's 推荐表 scored it already: the worker keeps them off, as scoring does."""
    from services.review.assignment.domain import RECOMMENDER_PANEL, EntryToAssign, Judge, conflict_of

    entry = EntryToAssign("310000-2020-qc_group", "e1", "material_review", "91310000MA1K0000X0",
                          recommender_id="xuhui", recommendation_certificates=("TGQ-2020-0007",))
    signed = Judge("j7", "浦东新区质量技术服务中心", recommender_id="pudong", certificate_no="TGQ-2020-0007")
    assert conflict_of(signed, entry) == RECOMMENDER_PANEL
    assert conflict_of(Judge("j1", "上海质量研究院", certificate_no="TGQ-2020-0001"), entry) is None
