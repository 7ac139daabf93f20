"""The Shanghai 2020 QC season at the organizer, with the deadlines of its notice, over HTTP on the real stack.

The season is the example data of the demo (qcp.demo.shanghai_2020_qc_season): 形式审查 by 07-20, 文审
07-20..08-10, the 发表赛 in August preselecting the national candidates, national materials by 09-15.
Registration, submission and review run in-process (one injected clock), the review worker with its
assignment process manager. Three entries come through 推荐通道 and the direct channel and pass formal
review in time; a fourth reaches the secretariat's desk at 07-20 00:00:01 and is refused, naming 形式审查's
window. The worker gives each entry its 文审 and 发表赛 judges; a 文审 score after 08-10 is refused naming
文审 and its window; the organizer preselects one entry for the national materials, the others are recorded
as not preselected with the reason; every entry is graded from both rounds, counting equally.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest_asyncio

from qcp.demo import demo_registration, shanghai_2020_qc_season
from tests.integration.test_review_http import (
    CONFIRMATION,
    Calendar,
    ReviewServices,
    fill,
    judge_form,
    problem,
    recommendation_form,
    running_review,
)
from tests.integration.test_submission_http import DIRECT_FORM, ORGANIZER, PUDONG_FORM, XUHUI_FORM, bearer, unit_token
from tests.unit.test_submission_forms import qc_form

CST = timezone(timedelta(hours=8))
SEASON = "310000-2020-qc_group"
PUDONG = bearer("recommender", "pudong", "pudong-staff")
XUHUI = bearer("recommender", "xuhui", "xuhui-staff")
UNITS = {0: "pudong", 1: "xuhui", 2: "direct", 3: "pudong"}
RUBRICS = shanghai_2020_qc_season()["rubrics"]
MATERIAL = {"shenda": "88", "pujiang": "82", "dongfang": "90"}
CONTEST = {"shenda": "92", "pujiang": "80", "dongfang": "85"}


def at(month: int, day: int, hour: int = 10, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2020, month, day, hour, minute, second, tzinfo=CST)


def judges() -> list[dict[str, Any]]:
    """Six judges of the organizer's panel; one on each recommending unit's panel (they sign its 推荐表)."""
    return [judge_form(index, certificate_no=f"TGQ-2020-{index + 1:04d}") for index in range(6)] + [
        judge_form(6, certificate_no="TGQ-2020-0007", recommender_id="pudong", work_unit="浦东新区质量技术服务中心"),
        judge_form(7, certificate_no="TGQ-2020-0008", recommender_id="xuhui", work_unit="徐汇区质量技术服务中心"),
    ]


def recommended(rank: int, certificate: str) -> dict[str, Any]:
    return recommendation_form(rank, [certificate]) | {
        "declaration": {"accepted": True, "signer": "王芳", "signed_on": "2020-07-10"}, "filled_on": "2020-07-10"}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def season(stack, tmp_path_factory) -> AsyncIterator[ReviewServices]:
    calendar = Calendar(at(6, 3))
    async with running_review(stack, tmp_path_factory.mktemp("shanghai-2020"), calendar,
                              assignment_worker=True) as running:
        await running.register("/seasons", shanghai_2020_qc_season())
        for form in (PUDONG_FORM, XUHUI_FORM, DIRECT_FORM):
            await running.register(f"/seasons/{SEASON}/recommenders", form)
        running.calendar.now = at(6, 10)
        for index, recommender_id in UNITS.items():
            body = demo_registration(index) | {"recommender_id": recommender_id}
            await running.register(f"/seasons/{SEASON}/registrations", body, unit_token(index))
        for form in judges():
            running.judges[form["certificate_no"]] = (await running.register(f"/seasons/{SEASON}/judges", form))["judge_id"]
        await running.until(f"/seasons/{SEASON}", lambda page: page["units_registered"] == 4)
        await running.until(f"/seasons/{SEASON}/judges", lambda page: page["total"] == 8)
        yield running


async def submitted(season: ReviewServices, index: int, **form: Any) -> str:
    headers = ORGANIZER if index == 2 else unit_token(index)
    answer = await season.submission.post(f"/seasons/{SEASON}/qc-achievements", json=qc_form(index, **form),
                                          headers=headers)
    assert answer.status_code == 201, answer.text
    entry_id = answer.json()["entry_id"]
    confirmed = await season.submission.post(f"/seasons/{SEASON}/entries/{entry_id}/confirmation", json=CONFIRMATION,
                                             headers=unit_token(index))
    assert confirmed.status_code == 200, confirmed.text
    await season.until(f"/seasons/{SEASON}/entries/{entry_id}/submission", lambda item: item["status"] == "confirmed")
    return entry_id


async def assigned(season: ReviewServices, entry_id: str, stage: str) -> list[str]:
    page = await season.until(
        f"/seasons/{SEASON}/entries/{entry_id}/scores",
        lambda page: any(item["stage"] == stage and item["status"] == "assigned" for item in page["assignments"]))
    return next(item["judge_ids"] for item in page["assignments"] if item["stage"] == stage)


async def scored(season: ReviewServices, entry_id: str, stage: str, total: str) -> None:
    rubric = RUBRICS[0] if stage == "material_review" else RUBRICS[1]
    for judge_id in await assigned(season, entry_id, stage):
        await season.ok(f"/seasons/{SEASON}/entries/{entry_id}/scores",
                        {"stage": stage, "judge_id": judge_id, "criteria": fill(rubric, total)})


def mean(*totals: str) -> str:
    value = sum(Decimal(item) for item in totals) / len(totals)
    return str(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


async def test_the_shanghai_2020_season_from_formal_review_to_the_grades(season: ReviewServices) -> None:
    rounds = await season.until(f"/seasons/{SEASON}/rounds")
    assert [(item["code"], item["label"]) for item in rounds["rounds"]] == [
        ("material_review", "文审"), ("presentation", "发表赛"), ("national_materials", "推荐国家级材料完善")]
    assert rounds["formal_review"]["closes_at"].startswith("2020-07-19T16:00:00"), "7月20日前, in UTC"

    # ---- 成果在线申报/推荐 (06-28..07-12 22:00)
    season.calendar.now = at(6, 30)
    entries = {
        "shenda": await submitted(season, 0),
        "pujiang": await submitted(season, 1, group_name="灌装线QC小组", topic="提高无菌灌装一次合格率"),
        "dongfang": await submitted(season, 2, qc_type="innovation", group_name="航运数字化QC小组",
                                    topic="研发集装箱智能配载系统"),
        "zhizao": await submitted(season, 3, group_name="精工QC小组", topic="缩短数控机床换型时间"),
    }
    season.calendar.now = at(7, 10)
    await season.ok(f"/seasons/{SEASON}/entries/{entries['shenda']}/recommendation", recommended(1, "TGQ-2020-0007"),
                    PUDONG)
    await season.ok(f"/seasons/{SEASON}/entries/{entries['zhizao']}/recommendation", recommended(2, "TGQ-2020-0007"),
                    PUDONG)
    await season.ok(f"/seasons/{SEASON}/entries/{entries['pujiang']}/recommendation", recommended(1, "TGQ-2020-0008"),
                    XUHUI)
    await season.ok(f"/seasons/{SEASON}/entries/{entries['dongfang']}/direct-acceptance",
                    {"opinion": "市质协会员单位，经秘书处确认直接申报"})

    # ---- 申报材料形式审查: by 07-20; a decision at 07-20 00:00:01 is refused, naming the window
    season.calendar.now = at(7, 19, 17)
    for name in ("shenda", "pujiang", "dongfang"):
        await season.ok(f"/seasons/{SEASON}/entries/{entries[name]}/formal-review", {"outcome": "passed"})
    season.calendar.now = at(7, 20, 0, 0, 1)
    late = await season.post(f"/seasons/{SEASON}/entries/{entries['zhizao']}/formal-review", {"outcome": "passed"})
    assert problem(late) == (409, "season_id", "season.window.round")
    assert late.json()["detail"] == (
        f"the 形式审查 (formal_review) window of season {SEASON} is closed: it runs from 2020-07-12 22:00 to "
        "2020-07-20 00:00 Asia/Shanghai (now 2020-07-20 00:00:01)")

    # ---- 材料文审 07-20..08-10: the judges came from the assignment worker; a score after 08-10 is refused
    season.calendar.now = at(7, 25)
    for name, total in MATERIAL.items():
        await scored(season, entries[name], "material_review", total)
    season.calendar.now = at(8, 11, 0, 0, 0)
    judge_id = (await assigned(season, entries["pujiang"], "material_review"))[0]
    revision = {"stage": "material_review", "judge_id": judge_id, "criteria": fill(RUBRICS[0], "85"),
                "reason": "复核后更正"}
    late_score = await season.post(f"/seasons/{SEASON}/entries/{entries['pujiang']}/score-revisions", revision)
    assert problem(late_score) == (409, "season_id", "season.window.round")
    assert late_score.json()["detail"] == (
        f"the 文审 (material_review) window of season {SEASON} is closed: it runs from 2020-07-20 00:00 to "
        "2020-08-10 23:59:59 Asia/Shanghai (now 2020-08-11 00:00)")

    # ---- 发表赛 in August, preselecting the national candidates (the organizer's choice)
    season.calendar.now = at(8, 20)
    for name, total in CONTEST.items():
        await scored(season, entries[name], "presentation", total)
    preselected = await season.ok(f"/seasons/{SEASON}/rounds/presentation/advance",
                                  {"entry_ids": [entries["shenda"]], "reason": "未预选为国家级质量管理小组"})
    assert (preselected["method"], preselected["advanced"], preselected["next_round"]) == (
        "organizer_choice", [entries["shenda"]], "national_materials")
    outcomes = await season.until(f"/seasons/{SEASON}/rounds/presentation",
                                  lambda page: len(page["not_advanced"]) == 2)
    assert {(item["entry_id"], item["reason"], item["message"]) for item in outcomes["not_advanced"]} == {
        (entries[name], "gate.organizer_choice.not_chosen", "未预选为国家级质量管理小组") for name in ("pujiang", "dongfang")}

    # ---- grades from both rounds, counting equally; preselected or not
    for name in ("shenda", "pujiang", "dongfang"):
        graded = await season.ok(f"/seasons/{SEASON}/entries/{entries[name]}/grade")
        assert graded["combined_score"] == mean(MATERIAL[name], CONTEST[name]), name
