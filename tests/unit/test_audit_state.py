"""An entry's state as of an instant, folded from its events: stories from submission to national recommendation."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from contracts import Envelope
from contracts.envelope import event_id_for
from services.stats.audit.history import entry_ids_of, history_item
from services.stats.audit.state import entry_state

ENTRY = str(uuid.uuid4())
REVIEW = uuid.uuid4()
SEASON = "310000-2026-qc_group"
T0 = datetime(2026, 3, 1, 2, tzinfo=UTC)
FORM = {"kind": "qc_group", "qc_type": "problem_solving", "group_name": "装配QC小组", "topic": "降低装配不良率",
        "credit_code": "91310000MA1FL0000X", "unit_name": "上海某电气有限公司", "recommender_id": "pudong"}
versions: dict[uuid.UUID, int] = {}


def event(type_: str, minutes: int, payload: dict[str, Any], *, aggregate: uuid.UUID | None = None,
          role: str = "organizer", channel: str = "organizer", source: dict[str, Any] | None = None) -> Envelope:
    aggregate = aggregate or REVIEW
    versions[aggregate] = versions.get(aggregate, 0) + 1
    return Envelope.model_validate({
        "event_id": event_id_for(aggregate, versions[aggregate]), "type": type_, "schema_version": 1,
        "aggregate_id": aggregate, "aggregate_version": versions[aggregate], "season_id": SEASON,
        "organizer": "310000", "occurred_at": T0 + timedelta(minutes=minutes),
        "recorded_at": T0 + timedelta(minutes=minutes, seconds=1),
        "actor": {"id": f"{role}-1", "role": role, "org": "310000"}, "channel": channel,
        "source": source or {"system": "qc-platform"}, "trace_id": "t", "payload": payload,
    })


def about(**payload: Any) -> dict[str, Any]:
    return {"season_id": SEASON, "entry_id": ENTRY} | payload


def score(judge: str, total: str, minutes: int, **extra: Any) -> Envelope:
    type_ = "ScoreRevised" if "reason" in extra else "ScoreRecorded"
    return event(type_, minutes, about(judge_id=judge, stage="material_review", rubric="qc", total=total,
                                       criteria={"a": total}, **extra), aggregate=uuid.uuid5(REVIEW, judge), role="judge")


ENTRY_ID = uuid.UUID(ENTRY)
STORY = [
    event("EntrySubmitted", 0, about(form=FORM), aggregate=ENTRY_ID, role="unit", channel="unit"),
    event("EntryAmended", 10, about(form=FORM | {"topic": "降低变压器装配不良率"}, changed=["topic"]),
          aggregate=ENTRY_ID, role="unit", channel="unit",
          source={"system": "sh-feed", "province": "310000", "external_id": "X1", "version": 2, "batch_id": "b7"}),
    event("UnitConfirmed", 20, about(credit_code=FORM["credit_code"], self_evaluation="自评", opinion="同意推荐",
                                     sealed_form={}), aggregate=ENTRY_ID, role="unit", channel="unit"),
    event("EntryRecommended", 30, about(recommender_id="pudong", rank=1, score="90", opinion="推荐"),
          role="recommender", channel="recommender"),
    event("FormalReviewFailed", 40, about(reasons=["缺少效果检查"], credit_code="x", entry_version=3)),
    event("FormalReviewResubmitted", 50, about(entry_version=4, note="已补充"), role="recommender"),
    event("FormalReviewPassed", 60, about(credit_code="x", kind="qc_group")),
    event("JudgesAssigned", 70, about(stage="material_review", judge_ids=["j1", "j2"], assigned_by="staff-1")),
    score("j1", "91", 80),
    score("j2", "85", 81),
    score("j2", "87", 90, previous_total="85", reason="复核后更正"),
    event("EntryGraded", 100, about(stages=[], weights={}, combined_score="89", grade="excellent", grade_label="优秀级")),
    event("GuidingUnitsApproved", 110, about(grade="excellent", combined_score="89", guiding_units=["上海市总工会"],
                                             approved_on="2026-08-01")),
    event("NoticeOpened", 120, {"season_id": SEASON, "entry_ids": [ENTRY, "other"], "opens_at": "2026-08-02T00:00:00Z",
                                "closes_at": "2026-08-09T00:00:00Z"}, aggregate=uuid.uuid4()),
    event("ObjectionFiled", 130, about(objection_id="o1", objector="某公司", grounds="数据不一致，请核实相关内容")),
    event("ObjectionResolved", 140, about(objection_id="o1", outcome="upheld", finding="属实", remedy="regrade")),
    event("EntryRegraded", 141, about(objection_id="o1", previous_grade="excellent", grade="advancing",
                                      grade_label="推进级", combined_score="80", reason="异议属实")),
    event("EntryPublished", 150, about(unit_name="上海某电气有限公司", entry_name="x", grade="advancing",
                                       grade_label="推进级", combined_score="80", certificate_no="2026-QC-0001")),
    event("NationalRecommendationMade", 160, about(national_season_id="CAQ-2026-qc_group", certificate_no="2026-QC-0001",
                                                   grade="advancing")),
    event("EntrySubmitted", 5, about(form=FORM) | {"entry_id": "someone-else"}, aggregate=uuid.uuid4(), role="unit"),
]


def at(minutes: float) -> dict[str, Any]:
    return entry_state(ENTRY, STORY, T0 + timedelta(minutes=minutes, seconds=1))


def test_before_its_first_event_the_entry_did_not_exist_yet_and_that_is_said() -> None:
    answer = entry_state(ENTRY, STORY, T0)
    assert answer["exists"] is False and answer["state"] is None
    assert "did not exist yet" in answer["message"] and "2026-03-01T02:00:01Z" in answer["message"]
    assert answer["first_event"]["type"] == "EntrySubmitted"
    assert answer["folded_from"] == {"events": 0, "last_event": None}


def test_just_submitted_it_has_its_form_and_nothing_of_review() -> None:
    answer = at(0)
    state = answer["state"]
    assert answer["exists"] and state["status"] == "submitted"
    assert state["form"]["title"] == "降低装配不良率" and state["form"]["type"] == "problem_solving"
    assert state["form"]["unit"]["unit_name"] == "上海某电气有限公司" and state["form"]["group_or_team"] == "装配QC小组"
    assert state["recommendation"] is None and state["scores"] == {}
    assert answer["folded_from"]["events"] == 1, "another entry's events are not folded in"


def test_amended_then_confirmed_then_recommended() -> None:
    assert at(10)["state"]["status"] == "amended" and at(10)["state"]["form"]["changed"] == ["topic"]
    state = at(30)["state"]
    assert state["status"] == "confirmed" and state["form"]["title"] == "降低变压器装配不良率"
    assert state["recommendation"]["channel"] == "recommended" and state["recommendation"]["rank"] == 1


def test_formal_review_keeps_its_rounds() -> None:
    assert at(40)["state"]["formal_review"]["outcome"] == "failed"
    review = at(60)["state"]["formal_review"]
    assert review["outcome"] == "passed"
    assert [item["outcome"] for item in review["rounds"]] == ["failed", "resubmitted", "passed"]


def test_judges_and_scores_per_stage_with_a_revision_only_after_it_was_recorded() -> None:
    before = at(85)["state"]
    assert before["judges"]["material_review"]["judge_ids"] == ["j1", "j2"]
    assert before["scores"]["material_review"]["j2"]["total"] == "85"
    after = at(90)["state"]["scores"]["material_review"]["j2"]
    assert after["total"] == "87" and after["revisions"] == [{"previous_total": "85", "reason": "复核后更正"}]


def test_grade_notice_objection_regrade_publication_and_national_recommendation() -> None:
    assert at(100)["state"]["grade"]["grade"] == "excellent"
    assert at(120)["state"]["notice"]["closes_at"] == "2026-08-09T00:00:00Z"
    assert at(130)["state"]["objections"]["o1"]["resolution"] is None
    final = at(200)
    state = final["state"]
    assert state["objections"]["o1"]["resolution"]["outcome"] == "upheld"
    assert state["grade"]["grade"] == "advancing" and state["grade"]["regraded"]["previous_grade"] == "excellent"
    assert state["publication"]["certificate_no"] == "2026-QC-0001"
    assert state["national_recommendation"]["national_season_id"] == "CAQ-2026-qc_group"
    assert state["approval"]["guiding_units"] == ["上海市总工会"]
    assert final["folded_from"]["events"] == 19 and final["folded_from"]["last_event"]["type"] == \
        "NationalRecommendationMade"


def test_a_withdrawn_entry_says_so_with_its_reason() -> None:
    withdrawn = event("EntryWithdrawn", 15, about(credit_code="x", reason="放弃参评"), aggregate=ENTRY_ID, role="unit")
    state = entry_state(ENTRY, [*STORY[:2], withdrawn], T0 + timedelta(hours=1))["state"]
    assert state["status"] == "withdrawn" and state["withdrawal"]["reason"] == "放弃参评"


def test_a_history_item_shows_who_when_through_which_channel_and_from_where() -> None:
    item = history_item(STORY[1], {"service": "submission", "topic": "submission.events", "partition": 0, "offset": 7})
    assert item["type_label"] == "申报材料修改"
    assert item["recorded_at"] == {"utc": "2026-03-01T02:10:01Z", "shanghai": "2026-03-01T10:10:01+08:00"}
    assert item["actor"] == {"id": "unit-1", "role": "unit", "org": "310000", "role_label": "申报单位"}
    assert item["channel"] == {"code": "unit", "label": "单位通道"}
    assert item["source"] == {"system": "sh-feed", "province": "310000", "external_id": "X1", "version": 2,
                              "batch_id": "b7"}
    assert (item["service"], item["aggregate_version"]) == ("submission", 2)


def test_which_entries_an_event_concerns() -> None:
    assert entry_ids_of(STORY[0]) == [ENTRY]
    assert entry_ids_of(STORY[13]) == sorted([ENTRY, "other"])


def test_a_provinces_recommendation_and_result_from_its_feed_show_with_their_provenance() -> None:
    fed = {"system": "feed", "province": "370000", "external_id": "SD-G1", "version": 1, "batch_id": "b1"}
    recommended = event("ProvincialRecommendationRecorded", 30,
                        about(province="370000", credit_code="x", recommender_name="山东省质量协会", rank=1,
                              opinion="推荐参加全国发表", recommended_on="2026-08-01"),
                        role="feed", channel="feed", source=fed | {"external_id": "SD-R1"})
    result = event("ProvincialResultRecorded", 40,
                   about(province="370000", credit_code="x", grade="excellent", grade_label="优秀级", score="88.50",
                         certificate_no="SD2026QC001", published_on="2026-09-01"),
                   role="feed", channel="feed", source=fed)
    amended = event("ProvincialResultAmended", 50,
                    about(province="370000", credit_code="x", grade="benchmark", grade_label="标杆级", score="92.00",
                          certificate_no="SD2026QC001", published_on="2026-09-01"),
                    role="feed", channel="feed", source=fed | {"version": 2})
    story = [STORY[0], recommended, result, amended]
    before_amendment = entry_state(ENTRY, story, T0 + timedelta(minutes=45))["state"]
    assert before_amendment["provincial_recommendation"]["recommender_name"] == "山东省质量协会"
    assert before_amendment["provincial_result"]["grade"] == "excellent"
    latest = entry_state(ENTRY, story, T0 + timedelta(hours=1))["state"]["provincial_result"]
    assert (latest["grade"], latest["score"]) == ("benchmark", "92.00")
    assert latest["source"] == fed | {"version": 2}
    assert latest["actor"]["role"] == "feed"
