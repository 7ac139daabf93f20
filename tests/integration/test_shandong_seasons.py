"""Shandong 2024 (鲁质协〔2024〕16号) on its own forms, on the real stack: a QC season and a team season declare
Shandong's profiles; units submit without a prior 报名, over HTTP and through Shandong's feed; recommending units
file Shandong's 统计表 (groups in 万个, typed rates; the team table's six items); a recommendation carries Shandong's
declaration; stats exports the tables in Shandong's layout; the organizer adjusts the team form, and a profile that
contradicts itself is refused. Registration, submission, review and stats run in-process in one namespace."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest_asyncio
from openpyxl import load_workbook

from contracts.builtin_profiles import SHANDONG_DECLARATION
from tests.harness import TOKENS, eventually
from tests.integration.test_review_http import (
    RUBRICS,
    ReviewServices,
    everything_on,
    fill,
    judge_form,
    recommendation_form,
    running_review,
)
from tests.integration.test_stats_season import stats_beside
from tests.integration.test_submission_http import Calendar, bearer, recommender_form
from tests.unit.test_form_profiles import (
    SD_UNIT,
    shandong_qc_statistics,
    shandong_team_form,
    shandong_team_statistics,
)
from tests.unit.test_submission_forms import attachment, qc_form, work_summary

NOW = datetime(2024, 5, 20, 2, tzinfo=UTC)
QC, TEAM = "370000-2024-qc_group", "370000-2024-team"
ORGANIZER = bearer("organizer", "370000", "staff-sd")
JINAN = bearer("recommender", "jinan", "jinan-staff", organizer="370000")  # a Shandong recommending unit
NATIONAL = bearer("national", "CAQ", "caq")
UNIT = bearer("unit", SD_UNIT["credit_code"], "sd-promoter")
QINGDAO_UNIT = {"credit_code": "91370212MA12K00124", "unit_name": "青岛海尔空调器有限总公司"}
TODAY = "2024-05-20"


def window(opens: str, closes: str) -> dict[str, str]:
    return {"opens_at": f"{opens}T00:00:00+08:00", "closes_at": f"{closes}T22:00:00+08:00"}


def shandong_season(kind: str) -> dict[str, Any]:
    """申报 by 06-01, 推荐 by 06-05 (二、1); 初审 in June and the 发表赛 after (二、2–3)."""
    return {
        "organizer": "370000", "organizer_name": "山东省质量管理协会", "year": 2024, "kind": kind,
        "title": f"山东省第四十四届群众性质量管理活动（{'质量管理小组' if kind == 'qc_group' else '质量信得过班组'}）",
        "windows": {
            "registration": window("2024-03-01", "2024-06-01"), "submission": window("2024-03-01", "2024-06-01"),
            "recommendation": window("2024-03-01", "2024-06-05"), "review": window("2024-06-06", "2024-08-31"),
            "notice": window("2024-09-01", "2024-09-10"), "publication": window("2024-09-05", "2024-12-31"),
        },
        "channels": ["group", "recommender"],
        # the notice sets no per-unit quota and no 班组类型 (Shanghai's 推荐要求 2): a generous one of its own
        "quota": {"per_unit_max": 10, "distinct_team_types": False},
        "profile": {"profile_id": f"shandong-2024-{'qc' if kind == 'qc_group' else 'team'}", "version": 1},
    } | shandong_review(RUBRICS if kind == "qc_group" else TEAM_RUBRICS)


# T/CAQ 10204-2017's two forms of evaluation for teams' experiences, as a season's scoring forms
TEAM_RUBRICS = [
    {"code": "team_material", "label": "质量信得过班组建设经验材料评审表", "standard": "T/CAQ 10204-2017",
     "review_form": "material", "criteria": [
         {"code": "basics", "label": "班组基础管理", "max_points": 40},
         {"code": "improvement", "label": "改进与创新", "max_points": 40},
         {"code": "results", "label": "特色与成效", "max_points": 20}]},
    {"code": "team_presentation", "label": "质量信得过班组建设经验发表评审表", "standard": "T/CAQ 10204-2017",
     "review_form": "presentation", "criteria": [
         {"code": "content", "label": "经验内容", "max_points": 70},
         {"code": "presentation", "label": "发表", "max_points": 30}]},
]


def shandong_review(rubrics: list[dict[str, Any]]) -> dict[str, Any]:
    """二、2–3: 初审 in June decides who presents at the 发表赛; the grade (一、二、三等) comes from both. The
    notice gives no weights (they count equally) and no score lines: the bands below are this test's."""
    return {
        "rubrics": rubrics,
            "grade_bands": [{"code": "first", "label": "一等", "min_score": 85},
                        {"code": "second", "label": "二等", "min_score": 75},
                        {"code": "third", "label": "三等", "min_score": 60}],
        "rounds": [
        {"code": "initial_review", "label": "初审", "review_form": "material", "judges_per_entry": 3,
         "window": window("2024-06-06", "2024-06-30"), "gate": {"method": "organizer_choice"},
         "assign_on_entry": False},
        {"code": "presentation", "label": "发表赛", "review_form": "presentation", "judges_per_entry": 3,
         "window": window("2024-07-01", "2024-08-31"), "assign_on_entry": False},
        ],
    }


def shandong_qc_form(**changes: Any) -> dict[str, Any]:
    """The QC achievement (附件1 is named, not reproduced: the national standard's form)."""
    return qc_form(0, credit_code=SD_UNIT["credit_code"], unit_name=SD_UNIT["unit_name"], recommender_id="jinan",
                   group_name="炼铁QC小组", topic="降低高炉燃料比",
                   attachments=[attachment("炼铁QC小组成果报告.docx")]) | changes


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def shandong(stack, tmp_path_factory) -> AsyncIterator[Any]:
    root = tmp_path_factory.mktemp("shandong")
    async with running_review(stack, root, Calendar(NOW)) as running, stats_beside(stack, root, running) as stats:
        for kind in ("qc_group", "team"):
            answer = await running.registration.post("/seasons", json=shandong_season(kind), headers=ORGANIZER)
            assert answer.status_code == 201, answer.text
        for season_id in (QC, TEAM):
            await running.register(f"/seasons/{season_id}/recommenders",
                                   recommender_form("jinan", "济南市质量管理协会", "city", region_code="370100"),
                                   ORGANIZER)
        for season_id in (QC, TEAM):  # Jinan's panel: signs its 推荐表, so never scores its entries
            judge = await running.register(f"/seasons/{season_id}/judges",
                                           judge_form(0, recommender_id="jinan", work_unit="济南市质量技术服务中心"),
                                           ORGANIZER)
        running.judges["TGQ-2026-0001"] = judge["judge_id"]
        for season_id in (QC, TEAM):
            await eventually(lambda season_id=season_id: _knows(running.submission, season_id), timeout=90)
        running.stats = stats.client  # type: ignore[attr-defined]
        yield running


async def _knows(client: httpx.AsyncClient, season_id: str) -> bool:
    answer = await client.get(f"/seasons/{season_id}/recommenders", headers=NATIONAL)
    return answer.status_code == 200 and any(item["recommender_id"] == "jinan" for item in answer.json()["items"])


def problem(answer: httpx.Response) -> tuple[int, str, str, str]:
    error = (answer.json().get("errors") or [{}])[0]
    return answer.status_code, error.get("field"), error.get("rule"), error.get("message") or ""


def stored(services: ReviewServices) -> int:
    application = services.submission._transport.app.state.application  # type: ignore[attr-defined]  # noqa: SLF001
    return application.recorder.max_notification_id() or 0


# ---------------------------------------------------------------- the season's forms


async def test_the_seasons_declare_shandongs_forms(shandong: ReviewServices) -> None:
    answer = await shandong.registration.get(f"/seasons/{TEAM}/profile", headers=ORGANIZER)
    profile = answer.json()
    assert (profile["profile_id"], profile["version"], profile["prior_registration_required"]) == (
        "shandong-2024-team", 1, False)
    fields = profile["forms"]["team_experience"]["fields"]
    assert fields["contact_name"]["label"] == "直接联系人" and fields["member"]["presence"] == "absent"
    assert profile["declaration_text"] == SHANDONG_DECLARATION and profile["direct_channel_name"] is None
    listed = (await shandong.registration.get("/profiles", headers=UNIT)).json()
    assert {item["profile_id"] for item in listed["items"]} == {
        "shanghai-2024-qc", "shanghai-2024-team", "shanghai-2020-qc", "shandong-2024-qc", "shandong-2024-team",
        "caq-2024-qc"}
    refused = await shandong.registration.post(f"/seasons/{QC}/registrations", headers=ORGANIZER, json={
        "credit_code": SD_UNIT["credit_code"], "unit_name": SD_UNIT["unit_name"], "address": "山东省济南市莱芜区",
        "postcode": "271104", "promoter": {"name": "孔祥瑞", "mobile": "15065310111", "email": "a@b.cn"}})
    assert problem(refused)[:3] == (409, "season_id", "registration.not_offered")


# ---------------------------------------------------------------- entries over HTTP, without a prior 报名


async def test_a_team_form_with_only_shandongs_fields_is_taken_without_a_prior_registration(
        shandong: ReviewServices) -> None:
    answer = await shandong.submission.post(f"/seasons/{TEAM}/team-experiences", json=shandong_team_form(),
                                            headers=UNIT | {"Idempotency-Key": "sd-team-1"})
    assert answer.status_code == 201, answer.text
    entry_id = answer.json()["entry_id"]

    async def projected() -> Any:
        got = await shandong.submission.get(f"/seasons/{TEAM}/entries/{entry_id}", headers=ORGANIZER)
        return got.json() if got.status_code == 200 else None

    entry = await eventually(projected, timeout=90)
    assert entry["recommender_id"] == "jinan" and entry["form"]["contact_name"] == "孔祥瑞"
    assert entry["form"]["member"] is None and entry["form"]["commitments"] is None
    envelopes = await everything_on(shandong.settings.kafka_bootstrap,
                                    shandong.settings.own_topic.replace("review.", "submission."))
    (submitted,) = [item for item in envelopes if item["type"] == "EntrySubmitted"
                    and item["payload"]["entry_id"] == entry_id]
    assert submitted["payload"]["profile"] == {"profile_id": "shandong-2024-team", "version": 1}


async def test_shanghai_only_fields_are_refused_by_the_forms_own_labels_and_nothing_is_stored(
        shandong: ReviewServices) -> None:
    shanghai_boxes = shandong_team_form(team_name="轧钢二班", member=True, key_domain="manufacturing",
                                        commitments={"voluntary": True, "follows_standard": True, "authentic": True,
                                                     "no_state_secrets": True})
    before = stored(shandong)
    answer = await shandong.submission.post(f"/seasons/{TEAM}/team-experiences", json=shanghai_boxes, headers=UNIT)
    status, field, rule, message = problem(answer)
    assert (status, field, rule) == (422, "member", "profile.field.absent"), answer.text
    assert "会员单位" in message and "2024年山东省质量信得过班组申报表" in message and "commitments" in message
    missing = await shandong.submission.post(f"/seasons/{TEAM}/team-experiences", headers=UNIT,
                                             json=shandong_team_form(team_name="轧钢三班", contact_name=None))
    status, field, rule, message = problem(missing)
    assert (status, field, rule) == (422, "contact_name", "profile.field.required") and "直接联系人" in message
    assert stored(shandong) == before


async def test_a_qc_achievement_is_taken_without_a_prior_registration(shandong: ReviewServices) -> None:
    answer = await shandong.submission.post(f"/seasons/{QC}/qc-achievements", json=shandong_qc_form(), headers=UNIT)
    assert answer.status_code == 201, answer.text
    unknown = await shandong.submission.post(f"/seasons/{QC}/qc-achievements", headers=UNIT,
                                             json=shandong_qc_form(topic="提高烧结矿转鼓强度", recommender_id="qingdao"))
    assert problem(unknown)[:3] == (409, "recommender_id", "entry.recommender.registered")


# ---------------------------------------------------------------- by feed


async def test_shandongs_feed_takes_the_same_forms_by_the_same_profile(shandong: ReviewServices) -> None:
    def record(external_id: str, season: str, data: dict[str, Any]) -> str:
        return json.dumps({"record_type": "entry", "province": "370000", "external_id": external_id, "version": 1,
                           "season": season, "occurred_at": "2024-05-18T09:00:00+08:00", "data": data},
                          ensure_ascii=False)

    qingdao = QINGDAO_UNIT | {"recommender_id": "jinan"}
    body = "\n".join([
        record("SD-2024-TE001", TEAM, shandong_team_form(**qingdao, team_name="钣金一班", contact_name="孟凡华",
                                                         contact_mobile="15165310112")),
        record("SD-2024-QE001", QC, shandong_qc_form(**qingdao, group_name="总装QC小组", topic="降低空调外机装配漏氟率")),
        record("SD-2024-TE002", TEAM, shandong_team_form(**qingdao, team_name="钣金二班", key_domain="manufacturing")),
    ]).encode()
    feed = {"Authorization": f"Bearer {TOKENS.mint('feed-370000', 'feed', '370000')}"}
    answer = await shandong.submission.post("/feeds/batches", content=body, headers=feed,
                                            params={"batch_id": "sd-2024-1"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["by_type"]["entry"] | {} == {"in": 3, "accepted": 2, "amendments": 0, "duplicates": 0,
                                                     "stale": 0, "quarantined": 1}

    async def quarantined() -> Any:
        page = await shandong.submission.get("/feeds/quarantine", headers=feed, params={"batch_id": "sd-2024-1"})
        return page.json() if page.status_code == 200 and page.json()["total"] == 1 else None

    (item,) = (await eventually(quarantined, timeout=60))["items"]
    assert item["external_id"] == "SD-2024-TE002"
    assert (item["reasons"][0]["field"], item["reasons"][0]["rule"]) == ("key_domain", "profile.field.absent")
    assert "重点领域" in item["reasons"][0]["message"]


# ---------------------------------------------------------------- Shandong's 统计表, 推荐表 and exports


async def test_shandongs_statistics_tables_are_filed_and_exported_in_shandongs_layout(shandong: ReviewServices) -> None:
    qc = await shandong.submission.post(f"/seasons/{QC}/recommenders/jinan/qc-statistics",
                                        json=shandong_qc_statistics(), headers=JINAN)
    assert qc.status_code == 201, qc.text
    assert qc.json()["derived"] == {}, "Shandong's rates are typed in, not derived"
    team = await shandong.submission.post(f"/seasons/{TEAM}/recommenders/jinan/team-statistics",
                                          json=shandong_team_statistics(), headers=JINAN)
    assert team.status_code == 201, team.text
    summary = await shandong.submission.post(f"/seasons/{QC}/recommenders/jinan/work-summaries",
                                             json=work_summary(), headers=JINAN)
    assert problem(summary)[:3] == (409, "form", "profile.form.not_offered")
    shanghai_items = await shandong.submission.post(
        f"/seasons/{TEAM}/recommenders/jinan/team-statistics", headers=JINAN,
        json=shandong_team_statistics(enterprises=46, caq_certified_judges=3))
    status, field, rule, _ = problem(shanghai_items)
    assert (status, field, rule) == (422, "enterprises", "profile.field.absent")

    stats: httpx.AsyncClient = shandong.stats  # type: ignore[attr-defined]

    async def exported(path: str, check: str, **params: str) -> Any:
        async def probe() -> Any:
            got = await stats.get(path, headers=ORGANIZER, params=params)
            return got if got.status_code == 200 and check in got.content.decode("utf-8-sig", "replace") else None

        return await eventually(probe, timeout=90)

    csv = (await exported(f"/seasons/{QC}/statistics", "1.285", format="csv")).content.decode("utf-8-sig")
    assert "（万元）（万元）" not in csv
    assert "本年度已登记注册QC小组数（万个）" in csv and "1.285" in csv and "23.4%" in csv
    assert "参加QC小组人数（人）" not in csv and "职工总数（人）" not in csv, "the table Shandong prints has no such items"
    assert "本年度QC小组活动主要特点与建议：数字化平台注册率提高" in csv and "联系人：周敏" in csv
    workbook = await exported(f"/seasons/{QC}/statistics", "", recommender="jinan", format="xlsx")
    rows = [[cell.value for cell in line] for line in load_workbook(io.BytesIO(workbook.content))["统计表"].iter_rows()]
    assert ["本年度已登记注册QC小组数", "万个", "1.285"] in [line[1:] for line in rows]
    as_json = (await exported(f"/seasons/{QC}/statistics", "jinan")).json()
    assert as_json["recommenders"][0]["rates"]["achievement_rate"].items() >= {"value": "56.9", "typed": True}.items()
    team_csv = (await exported(f"/seasons/{TEAM}/statistics", "5260", format="csv")).content.decode("utf-8-sig")
    assert "本年度推荐山东省质量信得过班组数（个）" in team_csv and "上海市" not in team_csv
    assert "本年度开展质量信得过班组企业数" not in team_csv and "取得中国质协评委证书人数" not in team_csv


async def test_a_recommendation_carries_shandongs_declaration(shandong: ReviewServices) -> None:
    submitted = await shandong.submission.post(f"/seasons/{TEAM}/team-experiences", headers=UNIT,
                                               json=shandong_team_form(team_name="轧钢五班"))
    assert submitted.status_code == 201, submitted.text
    entry_id = submitted.json()["entry_id"]
    body = recommendation_form(1, ["TGQ-2026-0001"], declaration={"accepted": True, "signer": "王芳", "signed_on": TODAY},
                               filled_on=TODAY)

    async def recommended() -> Any:  # review learns of the entry and the judge from the others' events
        got = await shandong.review.post(f"/seasons/{TEAM}/entries/{entry_id}/recommendation", json=body,
                                         headers=JINAN | {"Idempotency-Key": "sd-rec-1"})
        return got if got.status_code == 201 else None

    await eventually(recommended, timeout=90)
    envelopes = await everything_on(shandong.settings.kafka_bootstrap, shandong.settings.own_topic)
    (recommendation,) = [item for item in envelopes if item["type"] == "EntryRecommended"]
    assert recommendation["payload"]["declaration_text"] == SHANDONG_DECLARATION
    stats: httpx.AsyncClient = shandong.stats  # type: ignore[attr-defined]

    async def summary() -> Any:
        got = await stats.get(f"/seasons/{TEAM}/recommendation-summary", headers=ORGANIZER,
                              params={"recommender": "jinan", "format": "csv"})
        return got if got.status_code == 200 and "王芳" in got.content.decode("utf-8-sig") else None

    text = (await eventually(summary, timeout=90)).content.decode("utf-8-sig")
    assert SHANDONG_DECLARATION in text and "上海市群众性质量提升活动" not in text


# ---------------------------------------------------------------- the organizer adjusts the forms


async def test_the_organizer_adjusts_the_team_form_and_a_contradiction_is_refused(shandong: ReviewServices) -> None:
    path = f"/seasons/{TEAM}/profile/adjustments"
    contradiction = {"form": "team_experience", "require": ["contact_phone"], "make_absent": ["contact_phone"],
                     "reason": "电话改为选填"}
    answer = await shandong.registration.post(path, json=contradiction, headers=ORGANIZER)
    assert problem(answer)[:3] == (422, "make_absent", "profile.field.presence.conflict"), answer.text
    other = await shandong.registration.post(path, json=contradiction | {"make_absent": []},
                                             headers=bearer("organizer", "310000", "staff-1"))
    assert other.status_code == 404, "another province's season is not known to its organizer: it adjusts nothing here"
    unit = await shandong.registration.post(path, json=contradiction | {"make_absent": []}, headers=UNIT)
    assert unit.status_code == 403, "a unit adjusts no season's forms"
    unknown = await shandong.registration.post(path, headers=ORGANIZER, json={
        "form": "team_experience", "make_optional": ["favourite_colour"], "reason": "试试"})
    assert problem(unknown)[:3] == (422, "favourite_colour", "profile.field.unknown")
    derived = await shandong.registration.post(f"/seasons/{QC}/profile/adjustments", headers=ORGANIZER, json={
        "form": "qc_statistics", "fields": {"participation_rate": {"rate": "derived"}}, "reason": "改为平台计算"})
    assert problem(derived)[:3] == (422, "forms.qc_statistics.participation_rate", "profile.rate.derived_typed")
    adjusted = await shandong.registration.post(path, headers=ORGANIZER | {"Idempotency-Key": "sd-adjust-1"}, json={
        "form": "team_experience", "make_optional": ["contact_phone"], "reason": "电话改为选填"})
    assert adjusted.status_code == 200, adjusted.text
    assert adjusted.json()["profile"] == {"profile_id": TEAM, "version": 1}

    async def taken() -> Any:
        got = await shandong.submission.post(f"/seasons/{TEAM}/team-experiences", headers=UNIT,
                                             json=shandong_team_form(team_name="轧钢四班", contact_phone=None))
        return got if got.status_code == 201 else None

    assert (await eventually(taken, timeout=90)).json()["event"] == "EntrySubmitted"
    profile = (await shandong.registration.get(f"/seasons/{TEAM}/profile", headers=ORGANIZER)).json()
    assert profile["based_on"] == {"profile_id": "shandong-2024-team", "version": 1}
    assert profile["forms"]["team_experience"]["fields"]["contact_phone"]["presence"] == "optional"


# ---------------------------------------------------------------- end to end: 初审 as a gate to the 发表赛


async def test_a_qc_achievement_goes_from_shandongs_form_through_the_initial_review_gate_to_its_grade(
    shandong: ReviewServices,
) -> None:
    forms = {name: shandong_qc_form(topic=topic, group_name=group, attachments=[attachment(f"{group}成果报告.docx")])
             for name, topic, group in (("A", "降低转炉钢铁料消耗", "炼钢QC小组"), ("B", "提高连铸坯定尺合格率", "连铸QC小组"))}
    await through_the_gate_to_a_grade(shandong, QC, "qc-achievements", forms, RUBRICS)


async def test_a_teams_experience_goes_from_shandongs_form_through_the_initial_review_gate_to_its_grade(
    shandong: ReviewServices,
) -> None:
    forms = {name: shandong_team_form(team_name=team) for name, team in (("A", "炼钢厂转炉丙班"), ("B", "热轧厂精整二组"))}
    await through_the_gate_to_a_grade(shandong, TEAM, "team-experiences", forms, TEAM_RUBRICS)


async def through_the_gate_to_a_grade(shandong: ReviewServices, season_id: str, route: str, forms: dict[str, Any],
                                      rubrics: list[dict[str, Any]]) -> None:
    """Entries A and B on Shandong's form, recommended by Jinan; 初审 scores A 88 and B 72; the organizer lets A
    present; A scores 90 at the 发表赛 and is graded 一等 from both (89.00); B stays not advanced, ungraded."""
    judges = [(await shandong.register(f"/seasons/{season_id}/judges",
                                       judge_form(index, work_unit=f"山东省质量技术研究院第{index}室"), ORGANIZER))["judge_id"]
              for index in (5, 6, 7)]
    entries = {}
    for name, form in forms.items():
        answer = await shandong.submission.post(f"/seasons/{season_id}/{route}", json=form, headers=UNIT)
        assert answer.status_code == 201, answer.text
        entries[name] = answer.json()["entry_id"]
    for rank, name in enumerate(forms, start=11):  # ranks of their own beside the season's other recommendations
        body = recommendation_form(rank, ["TGQ-2026-0001"], filled_on=TODAY,
                                   declaration={"accepted": True, "signer": "王芳", "signed_on": TODAY})

        async def recommended(entry_id: str = entries[name], body: dict = body) -> Any:
            got = await shandong.review.post(f"/seasons/{season_id}/entries/{entry_id}/recommendation", json=body,
                                             headers=JINAN)
            return got if got.status_code == 201 else None

        await eventually(recommended, timeout=90)
    await shandong.until(f"/seasons/{season_id}/judges", lambda page: page["total"] >= 4, ORGANIZER)

    before = shandong.calendar.now
    try:
        shandong.calendar.now = datetime(2024, 6, 10, 2, tzinfo=UTC)
        for name, total in {"A": "88", "B": "72"}.items():
            path = f"/seasons/{season_id}/entries/{entries[name]}"
            await shandong.ok(f"{path}/formal-review", {"outcome": "passed"}, ORGANIZER)
            await shandong.until(path, lambda item: item["progress"] == "in_review", ORGANIZER)
            await shandong.ok(f"{path}/assignments", {"stage": "initial_review", "judge_ids": judges}, ORGANIZER)
            for judge_id in judges:
                await shandong.ok(f"{path}/scores", {"stage": "initial_review", "judge_id": judge_id,
                                                     "criteria": fill(rubrics[0], total)}, ORGANIZER)

        # 初审 closed: a late score is refused naming the round; the organizer lets A present, B stops here
        shandong.calendar.now = datetime(2024, 7, 2, 2, tzinfo=UTC)
        late = await shandong.post(f"/seasons/{season_id}/entries/{entries['B']}/score-revisions",
                                   {"stage": "initial_review", "judge_id": judges[0],
                                    "criteria": fill(rubrics[0], "90"), "reason": "复核后更正"}, ORGANIZER)
        assert problem(late)[:3] == (409, "season_id", "season.window.round") and "初审" in problem(late)[3]
        decided = await shandong.ok(f"/seasons/{season_id}/rounds/initial_review/advance",
                                    {"method": "organizer_choice", "entry_ids": [entries["A"]]}, ORGANIZER)
        assert decided["advanced"] == [entries["A"]]
        assert [item["entry_id"] for item in decided["not_advanced"]] == [entries["B"]]

        path = f"/seasons/{season_id}/entries/{entries['A']}"
        await shandong.ok(f"{path}/assignments", {"stage": "presentation", "judge_ids": judges}, ORGANIZER)
        for judge_id in judges:
            await shandong.ok(f"{path}/scores", {"stage": "presentation", "judge_id": judge_id,
                                                 "criteria": fill(rubrics[1], "90")}, ORGANIZER)
        graded = await shandong.ok(f"{path}/grade", None, ORGANIZER)
        assert (graded["combined_score"], graded["grade"]) == ("89.00", "first"), graded  # (88 + 90) / 2
        stopped = await shandong.post(f"/seasons/{season_id}/entries/{entries['B']}/grade", None, ORGANIZER)
        assert problem(stopped)[:3] == (409, "entry_id", "grade.entry.not_advanced")
    finally:
        shandong.calendar.now = before
