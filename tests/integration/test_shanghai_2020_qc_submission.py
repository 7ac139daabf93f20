"""The submission stage of the Shanghai 2020 QC season, on the real stack, with an injected clock.

沪质协 2020 notice (关于开展2020年上海市质量管理小组活动成果申报/推荐工作的通知): online submission
opens 2020-06-28 and closes 2020-07-12 (注: 7月12日22:00在线申报系统关闭); recommending units file
their statistics table and work summary in the same weeks; a recommending unit recommends at most
2 per unit, one 问题解决型 and one 创新型. Units register, groups submit through 班组通道, one entry
is amended, one withdrawn, units confirm through 单位通道, the secretariat submits for a member unit
without a recommending unit (the direct channel), and a submission at 22:00:01 is refused naming
the window — with nothing stored.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import pytest

from contracts.codes import Channel
from qcp.demo import demo_registration
from tests.integration.test_submission_http import (
    ORGANIZER,
    Calendar,
    Services,
    bearer,
    problem,
    recommender_form,
    running_services,
    unit_token,
)
from tests.unit.test_submission_forms import attachment, qc_form, qc_statistics, work_summary

CST = timezone(timedelta(hours=8))
SEASON = "310000-2020-qc_group"


def at(month: int, day: int, hour: int = 10, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2020, month, day, hour, minute, second, tzinfo=CST)


def window(opens: datetime, closes: datetime) -> dict[str, str]:
    return {"opens_at": opens.isoformat(), "closes_at": closes.isoformat()}


CLOSE = at(7, 12, 22, 0, 0)
SEASON_2020 = {
    "organizer": "310000",
    "organizer_name": "上海市质量协会",
    "year": 2020,
    "kind": "qc_group",
    "title": "2020年上海市质量管理小组活动成果申报/推荐",
    "windows": {
        "registration": window(at(6, 3, 0), CLOSE),
        "submission": window(at(6, 28, 0), CLOSE),  # 在线申报开放时间: 2020年6月28日
        "recommendation": window(at(6, 28, 0), CLOSE),  # 成果在线申报/推荐 6月28日-7月12日
        "review": window(at(7, 13, 0), at(8, 31, 23, 59)),  # 形式审查 7月20日前, 文审 7月20日-8月10日, 发表赛 8月
        "publication": window(at(12, 1, 0), at(12, 31, 23, 59)),  # 公布市级质量管理小组结果 12月
    },
    "channels": ["group", "unit", "recommender", "direct"],
}
RECOMMENDERS = [
    recommender_form("pudong", "浦东新区市场监督管理局", "district", region_code="310115"),
    recommender_form("xuhui", "徐汇区市场监督管理局", "district", region_code="310104"),
    recommender_form("direct", "其他-市质协会员与质量推进部", "direct"),
]
UNITS = {0: "pudong", 1: "xuhui", 2: "direct", 3: "pudong"}  # unit 2 is a member unit without a recommending unit


def confirmation(short_name: str) -> dict[str, Any]:
    return {
        "self_evaluation": "对标T/CAQ10201-2020：选题理由充分，现状调查数据翔实，对策实施有效，效果已巩固。",
        "self_score": "87.5",
        "opinion": "经本单位评审，同意申报2020年上海市质量管理小组成果。",
        "sealed_form": attachment(f"{short_name}成果评分与推荐意见表.pdf", "sealed_form"),
        "sealed_on": "2020-07-10",
    }


@pytest.mark.timeout(300)
async def test_the_shanghai_2020_qc_submission_stage(stack, tmp_path) -> None:
    calendar = Calendar(at(6, 3))
    async with running_services(stack, tmp_path, calendar) as services:
        await open_the_season_and_register(services)
        entries = await submit_within_the_window(services)
        await refuse_after_the_close(services, entries)
        await check_what_the_projection_shows(services, entries)
        check_the_audit_trail(services, entries)


async def open_the_season_and_register(services: Services) -> None:
    await services.register("/seasons", SEASON_2020)
    for form in RECOMMENDERS:
        await services.register(f"/seasons/{SEASON}/recommenders", form)
    services.calendar.now = at(6, 10)
    for index, recommender_id in UNITS.items():
        body = demo_registration(index) | {"recommender_id": recommender_id}
        await services.register(f"/seasons/{SEASON}/registrations", body, unit_token(index))
    await services.until_known(SEASON, units=list(UNITS), recommenders=[item["recommender_id"] for item in RECOMMENDERS])


async def submit_within_the_window(services: Services) -> dict[str, str]:
    client = services.submission
    path = f"/seasons/{SEASON}/qc-achievements"

    services.calendar.now = at(6, 27, 23, 59, 59)
    before = services.stored()
    early = await client.post(path, json=qc_form(0), headers=unit_token(0))
    assert problem(early) == (409, "season_id", "season.window.submission")
    assert "has not opened yet" in early.json()["detail"] and "2020-06-28 00:00" in early.json()["detail"]
    assert services.stored() == before

    entries: dict[str, str] = {}

    async def submit(key: str, moment: datetime, body: dict[str, Any], headers: dict[str, str]) -> None:
        services.calendar.now = moment
        answer = await client.post(path, json=body, headers=headers)
        assert answer.status_code == 201, answer.text
        entries[key] = answer.json()["entry_id"]

    await submit("shenda_problem", at(6, 28, 0, 0, 0), qc_form(0), unit_token(0))
    await submit("shenda_innovation", at(6, 30), qc_form(0, qc_type="innovation", group_name="智造创新QC小组",
                                                        topic="研制变压器线圈自动绕制工装"), unit_token(0))
    await submit("pujiang", at(7, 1), qc_form(1, group_name="灌装线QC小组", topic="提高无菌灌装一次合格率"),
                 unit_token(1))
    await submit("dongfang_direct", at(7, 2), qc_form(2, qc_type="innovation", group_name="航运数字化QC小组",
                                                     topic="研发集装箱智能配载系统"), ORGANIZER)

    services.calendar.now = at(7, 5)
    amended = await client.post(
        f"{path}/{entries['shenda_problem']}/amendments",
        json=qc_form(0, topic="降低变压器装配不良率（修订）"), headers=unit_token(0),
    )
    assert amended.status_code == 200 and amended.json()["changed"] == ["topic"], amended.text

    services.calendar.now = at(7, 8)
    withdrawn = await client.post(f"/seasons/{SEASON}/entries/{entries['pujiang']}/withdrawal",
                                  json={"reason": "成果报告数据待复核，本年度不再申报"}, headers=unit_token(1))
    assert withdrawn.status_code == 200 and withdrawn.json()["event"] == "EntryWithdrawn"

    services.calendar.now = at(7, 10)
    for key in ("shenda_problem", "shenda_innovation"):
        confirmed = await client.post(f"/seasons/{SEASON}/entries/{entries[key]}/confirmation",
                                      json=confirmation("申达电气"), headers=unit_token(0))
        assert confirmed.status_code == 200 and confirmed.json()["event"] == "UnitConfirmed", confirmed.text

    services.calendar.now = at(7, 11)
    pudong = bearer("recommender", "pudong", "pudong-staff")
    statistics = qc_statistics(period={"first_month": "2019-07", "last_month": "2020-06"})
    filed = await client.post(f"/seasons/{SEASON}/recommenders/pudong/qc-statistics", json=statistics, headers=pudong)
    assert filed.status_code == 201 and filed.json()["derived"]["participation_rate"]["value"] == "23.40"
    summary = await client.post(f"/seasons/{SEASON}/recommenders/pudong/work-summaries",
                                json=work_summary(3200, period={"first_month": "2019-07", "last_month": "2020-06"}),
                                headers=pudong)
    assert summary.status_code == 201, summary.text

    # the close instant itself is inside the window
    await submit("zhizao_at_close", CLOSE, qc_form(3, group_name="精工QC小组", topic="缩短数控机床换型时间"),
                 unit_token(3))
    return entries


async def refuse_after_the_close(services: Services, entries: dict[str, str]) -> None:
    client = services.submission
    services.calendar.now = CLOSE + timedelta(seconds=1)  # 2020-07-12 22:00:01
    late = [
        lambda: client.post(f"/seasons/{SEASON}/qc-achievements",
                            json=qc_form(3, qc_type="innovation", group_name="精工创新QC小组", topic="研制快速换模装置"),
                            headers=unit_token(3)),
        lambda: client.post(f"/seasons/{SEASON}/qc-achievements/{entries['shenda_innovation']}/amendments",
                            json=qc_form(0, qc_type="innovation", group_name="智造创新QC小组", topic="迟到的修改"),
                            headers=unit_token(0)),
        lambda: client.post(f"/seasons/{SEASON}/entries/{entries['dongfang_direct']}/withdrawal",
                            json={"reason": "迟到的撤回"}, headers=ORGANIZER),
        lambda: client.post(f"/seasons/{SEASON}/entries/{entries['zhizao_at_close']}/confirmation",
                            json=confirmation("智造精工"), headers=unit_token(3)),
    ]
    for call in late:
        before = services.stored()
        answer = await call()
        assert problem(answer) == (409, "season_id", "season.window.submission"), answer.text
        detail = answer.json()["detail"]
        assert "is closed" in detail and "2020-07-12 22:00 Asia/Shanghai" in detail, detail
        assert services.stored() == before, "a late command stored nothing"


async def check_what_the_projection_shows(services: Services, entries: dict[str, str]) -> None:
    def settled(page: dict[str, Any]) -> bool:
        by_id = {item["entry_id"]: item for item in page["items"]}
        return (
            page["total"] == 5
            and by_id[entries["shenda_problem"]]["version"] == 3
            and by_id[entries["pujiang"]]["status"] == "withdrawn"
            and by_id[entries["shenda_innovation"]]["status"] == "confirmed"
        )

    season = await services.until(f"/seasons/{SEASON}/entries", settled, limit=50)
    statuses = {item["entry_id"]: item["status"] for item in season["items"]}
    assert statuses == {
        entries["shenda_problem"]: "confirmed",
        entries["shenda_innovation"]: "confirmed",
        entries["pujiang"]: "withdrawn",
        entries["dongfang_direct"]: "submitted",
        entries["zhizao_at_close"]: "submitted",
    }
    by_id = {item["entry_id"]: item for item in season["items"]}
    first = by_id[entries["shenda_problem"]]
    assert first["topic"] == "降低变压器装配不良率（修订）" and first["qc_type"] == "problem_solving"
    assert datetime.fromisoformat(first["submitted_at"].replace("Z", "+00:00")) == at(6, 28, 0, 0, 0)
    assert by_id[entries["zhizao_at_close"]]["submitted"]["at"].startswith("2020-07-12T14:00:00")
    assert by_id[entries["dongfang_direct"]]["submitted"]["channel"] == "direct"

    pudong = bearer("recommender", "pudong", "pudong-staff")
    inbox = await services.get(f"/seasons/{SEASON}/recommenders/pudong/entries", pudong)
    assert inbox["total"] == 3
    assert {item["status"]: item["count"] for item in inbox["by_status"]} == {
        "submitted": 1, "confirmed": 2, "withdrawn": 0
    }
    xuhui = await services.get(f"/seasons/{SEASON}/recommenders/xuhui/entries", bearer("recommender", "xuhui"),
                               status="withdrawn")
    assert [item["entry_id"] for item in xuhui["items"]] == [entries["pujiang"]]
    one_per_type = await services.get(f"/units/{demo_registration(0)['credit_code']}/entries", unit_token(0),
                                      season_id=SEASON)
    assert sorted(item["qc_type"] for item in one_per_type["items"]) == ["innovation", "problem_solving"]
    tables = await services.until(f"/seasons/{SEASON}/recommenders/pudong/statistics", lambda page: page["total"] == 1,
                                  pudong)
    assert tables["items"][0]["derived"]["achievement_rate"]["formula"].startswith("本年度QC小组成果率")


def check_the_audit_trail(services: Services, entries: dict[str, str]) -> None:
    history = services.application.history(UUID(entries["shenda_problem"]))
    assert [(item.type, item.channel) for item in history] == [
        ("EntrySubmitted", Channel.GROUP), ("EntryAmended", Channel.GROUP), ("UnitConfirmed", Channel.UNIT)
    ]
    assert [item.occurred_at.astimezone(CST) for item in history] == [at(6, 28, 0, 0, 0), at(7, 5), at(7, 10)]
    assert history[0].payload["form"]["topic"] == "降低变压器装配不良率"
    assert history[1].payload["form"]["topic"] == "降低变压器装配不良率（修订）"
    assert {item.actor.id for item in history} == {"promoter-0"} and history[0].season_id == SEASON
    assert all(item.occurred_at.tzinfo is not None and item.recorded_at.tzinfo is not None for item in history)
    assert history[0].occurred_at.astimezone(UTC) == datetime(2020, 6, 27, 16, 0, tzinfo=UTC)
