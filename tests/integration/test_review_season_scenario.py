"""A QC season at the organizer, from recommendation to publication, over HTTP on the real stack.

Registration, submission and review run in-process (one injected clock) as in test_review_http. Three
recommending channels bring six entries (pudong and xuhui through 推荐通道, the secretariat for the
direct channel); one fails formal review, is corrected and passes; seven judges are assigned by hand
(five per entry in 文审, so the highest and lowest totals are dropped; three in 发表赛); the stages are
weighted 0.4 / 0.6 as the season says; grades come from the Shanghai bands (标杆级, 优秀级, 推进级).
The guiding units approve, the results go on public notice, an objection is upheld (a regrade) and
another leads to a withdrawal, one is dismissed; after the notice the results are published with
sequential certificate numbers, and the organizer's choices among the graded (好中选优) go to the national season.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest_asyncio

from qcp.demo import demo_registration
from tests.integration.test_review_http import (
    NOTICE_OPEN,
    NOW,
    PUBLICATION_OPEN,
    PUDONG,
    QC,
    REVIEW_OPEN,
    XUHUI,
    AUDITOR,
    Calendar,
    ReviewServices,
    material,
    presentation,
    problem,
    published,
    recommendation_form,
    running_review,
    set_up_season,
)
from tests.integration.test_submission_http import bearer, unit_token
from tests.unit.test_submission_forms import qc_form


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def season(stack, tmp_path_factory) -> AsyncIterator[ReviewServices]:
    calendar = Calendar(NOW)
    async with running_review(stack, tmp_path_factory.mktemp("review-season"), calendar) as running:
        await set_up_season(running)
        yield running


# Totals per entry: five judges in 文审, three in 发表赛.
SCORES = {
    "A": (["95", "92", "91", "93", "70"], ["94", "95", "93"]),   # 文审 92.00 (70 and 95 dropped), 发表赛 94.00
    "B": (["85", "88", "84", "99", "86"], ["84", "85", "83"]),   # 文审 86.67 after judge 4's revision to 87
    "C": (["78", "75", "77", "76", "60"], ["72", "74", "73"]),   # 文审 76.00, 发表赛 73.00
    "D": (["90", "91", "89", "92", "88"], ["91", "92", "93"]),   # 文审 90.00, 发表赛 92.00
    "E": (["81", "80", "82", "83", "79"], ["80", "81", "82"]),   # 文审 81.00, 发表赛 81.00
    "F": (["65", "60", "62", "64", "61"], ["60", "61", "62"]),   # below every band
}


async def open_national_season(season: ReviewServices) -> None:
    """The national association's 2026 QC season, taking the provinces' recommendations while this season publishes."""
    body = {
        "organizer": "CAQ", "organizer_name": "中国质量协会", "year": 2026, "kind": "qc_group",
        "title": "2026年全国优秀质量管理小组推荐", "channels": ["recommender"],
        "windows": {stage: {"opens_at": (NOW - timedelta(days=1)).isoformat(),
                            "closes_at": (PUBLICATION_OPEN + timedelta(days=30)).isoformat()}
                    for stage in ("registration", "recommendation")},
    }
    caq = bearer("organizer", "CAQ", "caq-staff")
    await season.register("/seasons", body, caq)
    await season.until("/seasons/CAQ-2026-qc_group", headers=caq)  # a province's staff knows nothing of it


def trimmed(totals: list[str]) -> Decimal:
    values = sorted(Decimal(item) for item in totals)
    counted = values[1:-1] if len(values) >= 5 else values
    return (sum(counted) / len(counted)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


REVISED = {"B": (["85", "88", "84", "99", "87"], ["84", "85", "83"])}


def combined(name: str) -> str:
    first, second = REVISED.get(name, SCORES[name])
    value = trimmed(first) * Decimal("0.4") + trimmed(second) * Decimal("0.6")
    return str(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


async def test_a_season_from_recommendation_to_publication(season: ReviewServices) -> None:
    post, ok, judge = season.post, season.ok, season.judge

    # ---- 推荐: pudong recommends units 0 and 1, xuhui unit 3, the secretariat accepts unit 2 (direct channel)
    entries = {
        "A": await season.submit(0, topic="降低变压器装配不良率", qc_type="problem_solving"),
        "B": await season.submit(0, topic="智能巡检机器人研制", qc_type="innovation", group_name="创新QC小组"),
        "C": await season.submit(1, topic="提高灌装一次合格率", qc_type="problem_solving"),
        "D": await season.submit(3, topic="降低沥青路面离析率", qc_type="problem_solving"),
        "E": await season.submit(2, topic="优化船舶靠泊计划", qc_type="innovation"),
        "F": await season.submit(1, topic="缩短冷链配送时间", qc_type="innovation", group_name="物流QC小组"),
    }
    names = {entry_id: name for name, entry_id in entries.items()}
    for rank, name in enumerate(("A", "B", "C", "F"), start=1):
        await ok(f"/seasons/{QC}/entries/{entries[name]}/recommendation", recommendation_form(rank, ["TGQ-2026-0008"]),
                 PUDONG)
    await ok(f"/seasons/{QC}/entries/{entries['D']}/recommendation", recommendation_form(1, ["TGQ-2026-0009"]), XUHUI)
    await ok(f"/seasons/{QC}/entries/{entries['E']}/direct-acceptance", {"opinion": "市质协会员单位，经秘书处确认"})
    extra = await season.submit(0, topic="提高焊缝一次合格率", qc_type="problem_solving", group_name="焊接QC小组")
    over = await post(f"/seasons/{QC}/entries/{extra}/recommendation", recommendation_form(9, ["TGQ-2026-0008"]), PUDONG)
    assert problem(over) == (409, "entry_id", "recommendation.quota.per_unit"), "2 per unit, one of each type"
    quota = await season.until(f"/seasons/{QC}/recommenders/pudong/recommendations",
                               lambda page: page["recommended"] == 4, PUDONG)
    assert {unit["credit_code"]: unit["remaining"] for unit in quota["units"]} == {
        demo_registration(0)["credit_code"]: 0, demo_registration(1)["credit_code"]: 0}
    assert quota["total_team_size"] == 12, "班组人数总计: 3 members in each of 4 groups"

    # ---- 形式审查: D fails, its unit corrects it, xuhui resubmits, it passes; the others pass
    await ok(f"/seasons/{QC}/entries/{entries['D']}/formal-review",
             {"outcome": "failed", "reasons": ["成果报告缺少效果检查部分"]})
    amended = await season.submission.post(
        f"/seasons/{QC}/qc-achievements/{entries['D']}/amendments",
        json=qc_form(3, topic="降低沥青路面离析率", qc_type="problem_solving", group_name="路面攻关QC小组"),
        headers=unit_token(3),
    )
    assert amended.status_code == 200, amended.text
    await season.until(f"/seasons/{QC}/entries/{entries['D']}/submission", lambda item: item["form_version"] >= 3)
    await ok(f"/seasons/{QC}/entries/{entries['D']}/resubmission", {"note": "已补充效果检查"}, XUHUI)
    for name in "ABCDEF":
        assert (await ok(f"/seasons/{QC}/entries/{entries[name]}/formal-review", {"outcome": "passed"}))["event"] == \
            "FormalReviewPassed"
    passed = await published(season, "FormalReviewPassed", entries["D"])
    assert passed["payload"]["recommender_id"] == "xuhui"

    # ---- 评委分配 by hand: five judges for 文审, three for 发表赛
    for name in "ABCDEF":
        await ok(f"/seasons/{QC}/entries/{entries[name]}/assignments",
                 {"stage": "material_review", "judge_ids": [judge(index) for index in range(5)]})
        await ok(f"/seasons/{QC}/entries/{entries[name]}/assignments",
                 {"stage": "presentation", "judge_ids": [judge(index) for index in range(4, 7)]})

    # ---- 评分 in the review window; one revision with its reason
    season.calendar.now = REVIEW_OPEN
    for name, (first, second) in SCORES.items():
        for index, total in enumerate(first):
            await ok(f"/seasons/{QC}/entries/{entries[name]}/scores", material(total), season.judge_token(index))
        for index, total in zip(range(4, 7), second, strict=True):
            await ok(f"/seasons/{QC}/entries/{entries[name]}/scores", presentation(total), season.judge_token(index))
    early = await post(f"/seasons/{QC}/entries/{entries['A']}/scores", presentation("90"), season.judge_token(0))
    assert problem(early) == (403, "judge_id", "score.judge.not_assigned")
    revised = await ok(f"/seasons/{QC}/entries/{entries['B']}/score-revisions",
                       material("87", reason="复核后更正活动过程得分"), season.judge_token(4))
    assert (revised["event"], revised["previous_total"], revised["total"]) == ("ScoreRevised", "86", "87")
    queue = await season.until(f"/judges/{judge(4)}/queue", lambda page: page["total"] == 12 and page["to_score"] == 0,
                               season.judge_token(4), season_id=QC)
    assert {item["stage"] for item in queue["items"]} == {"material_review", "presentation"}

    # ---- 成果等级: trimmed mean from 5 judges, 0.4 × 文审 + 0.6 × 发表赛, Shanghai bands
    grades = {}
    for name in "ABCDEF":
        graded = await ok(f"/seasons/{QC}/entries/{entries[name]}/grade")
        assert graded["combined_score"] == combined(name), name
        grades[name] = graded["grade"]
    assert grades == {"A": "benchmark", "B": "excellent", "C": "advancing", "D": "benchmark", "E": "excellent",
                      "F": None}
    scores = await season.until(f"/seasons/{QC}/entries/{entries['A']}/scores", lambda page: page["grade"] is not None)
    material_stage = scores["result"]["stages"][0]
    assert material_stage["method"] == "trimmed_mean" and material_stage["score"] == "92.00"
    assert set(material_stage["dropped"]) == {judge(4), judge(0)}, "70 (judge 4) and 95 (judge 0) dropped"
    assert scores["result"]["weights"] == {"material_review": "0.4", "presentation": "0.6"}

    # ---- 指导单位审定 after the review stage
    season.calendar.now = NOW + timedelta(days=150, hours=1)
    await season.until(f"/seasons/{QC}/entries", lambda page: page["total"] == 6, progress="graded")
    approved = await ok(f"/seasons/{QC}/approval", {
        "guiding_units": ["上海市市场监督管理局", "上海市总工会", "共青团上海市委员会", "上海市妇女联合会"],
        "approved_on": season.calendar.now.date().isoformat(),
    })
    assert sorted(approved["entry_ids"]) == sorted(entries[name] for name in "ABCDE")

    # ---- 公示: objections to A (upheld: regrade), C (upheld: withdrawn) and B (dismissed)
    season.calendar.now = NOTICE_OPEN
    await season.until(f"/seasons/{QC}/entries", lambda page: page["total"] == 5, progress="approved")
    notice = await ok(f"/seasons/{QC}/notice")
    assert sorted(notice["entry_ids"]) == sorted(entries[name] for name in "ABCDE")
    public = await season.until(f"/seasons/{QC}/results", lambda page: page["notice"] is not None, unit_token(1))
    assert {item["entry_id"] for item in public["items"]} == {entries[name] for name in "ABCDE"}
    for name, objector in (("A", "上海某机械有限公司"), ("C", "匿名来信（秘书处登记）"), ("B", "某职工")):
        filed = await ok(f"/seasons/{QC}/entries/{entries[name]}/objections",
                         {"objector": objector, "grounds": "该成果部分效果数据与企业统计报表不一致，请核实"})
        assert filed["objection_id"] == "o1"
    by_unit = await ok(f"/seasons/{QC}/entries/{entries['D']}/objections",
                       {"objector": "上海东方航运服务有限公司", "grounds": "对该成果的经济效益计算口径有疑问，请核实"},
                       unit_token(2))
    assert by_unit["event"] == "ObjectionFiled"

    season.calendar.now = PUBLICATION_OPEN
    blocked = await post(f"/seasons/{QC}/publication")
    assert problem(blocked) == (409, "season_id", "publication.objection_unresolved")
    regraded = await ok(f"/seasons/{QC}/entries/{entries['A']}/objections/o1/resolution", {
        "outcome": "upheld", "remedy": "regrade", "grade": "excellent",
        "finding": "经核实，部分效果数据未经顾客确认，等级由标杆级调整为优秀级",
    })
    assert regraded["events"] == ["ObjectionResolved", "EntryRegraded"] and regraded["grade"] == "excellent"
    withdrawn = await ok(f"/seasons/{QC}/entries/{entries['C']}/objections/o1/resolution", {
        "outcome": "upheld", "remedy": "withdraw", "finding": "经查，该成果与他人已发表成果雷同，撤销其成果",
    })
    assert withdrawn["events"] == ["ObjectionResolved", "EntryResultWithdrawn"]
    for name in ("B", "D"):
        await ok(f"/seasons/{QC}/entries/{entries[name]}/objections/o1/resolution",
                 {"outcome": "dismissed", "finding": "经核实，数据与原始记录一致，异议不成立"})

    # ---- 发布: certificates in grade order, unique and sequential; then 推荐全国
    publication = await ok(f"/seasons/{QC}/publication")
    issued = [(names[item["entry_id"]], item["certificate_no"]) for item in publication["certificates"]]
    assert issued == [("D", "2026-QC-0001"), ("A", "2026-QC-0002"), ("B", "2026-QC-0003"), ("E", "2026-QC-0004")]
    again = await post(f"/seasons/{QC}/publication")
    assert problem(again) == (409, "season_id", "publication.nothing_to_publish")

    # 推荐全国: the organizer chooses among the graded entries (好中选优), the regraded A (优秀级) as well as the top D
    await open_national_season(season)
    national = await ok(f"/seasons/{QC}/entries/{entries['D']}/national-recommendation",
                        {"national_season_id": "CAQ-2026-qc_group", "note": "发表赛第一名"})
    assert national["event"] == "NationalRecommendationMade" and national["national_entry_id"]
    chosen = await ok(f"/seasons/{QC}/entries/{entries['A']}/national-recommendation",
                      {"national_season_id": "CAQ-2026-qc_group", "note": "好中选优"})
    assert chosen["event"] == "NationalRecommendationMade", "regraded to 优秀级, and still the organizer's choice"
    below = await post(f"/seasons/{QC}/entries/{entries['F']}/national-recommendation",
                       {"national_season_id": "CAQ-2026-qc_group"})
    assert problem(below) == (409, "entry_id", "national.not_graded"), "below every band"

    results = await season.until(f"/seasons/{QC}/results",
                                 lambda page: sum(item["progress"] == "published" for item in page["items"]) == 4
                                 and any(item.get("national") for item in page["items"]))
    shown = [(names[item["entry_id"]], item["grade_label"], item["certificate_no"], item["progress"])
             for item in results["items"]]
    assert shown == [
        ("D", "标杆级", "2026-QC-0001", "published"),
        ("A", "优秀级", "2026-QC-0002", "published"),
        ("B", "优秀级", "2026-QC-0003", "published"),
        ("E", "优秀级", "2026-QC-0004", "published"),
        ("C", "推进级", None, "result_withdrawn"),
        ("F", None, None, "graded"),
    ], "by grade, then combined score: the regraded A keeps its score; below every band last"
    public = await season.get(f"/seasons/{QC}/results", unit_token(1))
    assert [names[item["entry_id"]] for item in public["items"]] == ["D", "A", "B", "E"], \
        "the public sees the published results; a withdrawn one is no longer shown"
    assert results["last_publication"]["certificates"] == 4
    assert results["last_publication"]["first_certificate_no"] == "2026-QC-0001"

    audit = await season.get(f"/seasons/{QC}/entries/{entries['A']}", AUDITOR)
    assert audit["regrade"]["previous_grade"] == "benchmark" and audit["objections"]["o1"]["status"] == "upheld"
    assert audit["certificate_no"] == "2026-QC-0002" and audit["formal_review"]["outcome"] == "passed"
    stored = season.application.events.get(season.application.entry_review(QC, entries["D"]).id)
    assert [type(item).__name__ for item in stored if hasattr(item, "meta")] == [
        "EntryRecommended", "FormalReviewFailed", "FormalReviewResubmitted", "FormalReviewPassed", "EntryGraded",
        "GuidingUnitsApproved", "ObjectionFiled", "ObjectionResolved", "EntryPublished", "NationalRecommendationMade",
    ]
    assert (await season.review.get(f"/seasons/{QC}/results", headers=bearer("unit", "x"))).status_code == 200
