"""Stats renders each season's 统计表 in its own layout (its form profile): Shandong's QC table in 万个 with
the rates as typed, its team table's six items; text items kept; the national roll-up counts groups in 个."""

from __future__ import annotations

import io
from typing import Any

from openpyxl import load_workbook

from benchmarks.stats_events import EnvelopeWriter, SeasonPlan, season_opened
from contracts import parse_payload
from contracts.identity import stable_uuid
from contracts.filings import QcStatisticsForm, TeamStatisticsForm
from services.stats.adapters.export import to_csv, to_xlsx
from services.stats.domain.records import Header, StatsState
from services.stats.domain.reports import reports_for
from services.stats.domain.tables import statistics_sheets
from tests.unit.test_form_profiles import shandong_qc_statistics, shandong_team_statistics
from tests.unit.test_submission_forms import qc_statistics

SD_QC = SeasonPlan(season_no=5, organizer="370000", kind="qc_group")
SD_TEAM = SeasonPlan(season_no=6, organizer="370000", kind="team")
SH_QC = SeasonPlan(season_no=7, organizer="310000", kind="qc_group")
PROFILES = {SD_QC.season_id: "shandong-2024-qc", SD_TEAM.season_id: "shandong-2024-team"}


def filed(plan: SeasonPlan, recommender_id: str, form: dict[str, Any], model: Any) -> list[dict[str, Any]]:
    writer = EnvelopeWriter(plan)
    opened = season_opened(plan)
    if plan.season_id in PROFILES:
        opened |= {"profile": {"profile_id": PROFILES[plan.season_id], "version": 1}}
    season = str(stable_uuid("season", plan.season_id))
    recommender = str(stable_uuid("recommender", plan.season_id, recommender_id))
    statistics = str(stable_uuid("statistics", plan.season_id, recommender_id))
    payload = {"season_id": plan.season_id, "recommender_id": recommender_id, "kind": plan.kind,
               "form": model.model_validate(form).model_dump(mode="json"), "derived": {}}
    if plan.season_id in PROFILES:
        payload["profile"] = {"profile_id": PROFILES[plan.season_id], "version": 1}
    envelopes = [
        writer.envelope("registration.events", season, "SeasonOpened", opened, schema_version=2)[1],
        writer.envelope("registration.events", recommender, "RecommenderRegistered",
                        {"season_id": plan.season_id, "recommender_id": recommender_id, "name": "济南市质量协会",
                         "category": "city"}, schema_version=2)[1],
        writer.envelope("submission.events", statistics, "StatisticsFiled", payload, role="recommender")[1],
    ]
    for envelope in envelopes:
        parse_payload(envelope["type"], envelope["schema_version"], envelope["payload"])
    return envelopes


def reports(*envelope_lists: list[dict[str, Any]]) -> dict[str, Any]:
    state = StatsState()
    for envelopes in envelope_lists:
        for envelope in envelopes:
            state.apply(Header.of(envelope), envelope["payload"])
    return reports_for(state.seasons)


def test_shandong_qc_statistics_come_out_in_ten_thousands_with_the_rates_as_typed() -> None:
    report = reports(filed(SD_QC, "jinan", shandong_qc_statistics(), QcStatisticsForm))[
        f"season/{SD_QC.season_id}/statistics"]
    items = {item["key"]: item for item in report["items"]}
    assert items["registered_groups"]["unit"] == "万个" and "participants" not in items
    assert items["participation_rate"]["rate"] == "typed"
    (row,) = report["recommenders"]
    assert row["figures"]["registered_groups"] == "1.285"
    assert row["rates"]["participation_rate"]["value"] == "23.4" and row["rates"]["participation_rate"]["typed"]
    assert row["texts"]["features_and_suggestions"].startswith("数字化平台") and row["texts"]["contact"]["name"] == "周敏"
    sheet = load_workbook(io.BytesIO(to_xlsx(statistics_sheets(report, "jinan"))))["统计表"]
    rows = [[cell.value for cell in line] for line in sheet.iter_rows()]
    assert rows[0][0].startswith("质量管理小组活动统计表（2023-07 至 2024-06）")
    assert rows[4][1:] == ["本年度已登记注册QC小组数", "万个", "1.285"]
    assert ["本年度QC小组普及率=参加QC小组人数/职工总数×100%", "百分数", "23.4%"] in [line[1:] for line in rows]
    text = to_csv(statistics_sheets(report)).decode("utf-8-sig")
    assert "本年度QC小组活动主要特点与建议：数字化平台注册率提高" in text and "联系人：周敏" in text


def test_shandong_team_statistics_have_their_six_items_and_their_own_labels() -> None:
    report = reports(filed(SD_TEAM, "jinan", shandong_team_statistics(), TeamStatisticsForm))[
        f"season/{SD_TEAM.season_id}/statistics"]
    keys = [item["key"] for item in report["items"]]
    assert keys == ["teams", "teams_cumulative", "participating_staff", "teams_recommended", "funding", "rewards"]
    labels = {item["key"]: (item["label"], item["unit"]) for item in report["items"]}
    assert labels["teams_recommended"] == ("本年度推荐山东省质量信得过班组数", "个")
    assert labels["participating_staff"] == ("本年度参与质量信得过班组活动员工数", "个")
    text = to_csv(statistics_sheets(report)).decode("utf-8-sig")
    assert "上海市" not in text and "评审及交流形式：发表评审、现场评审、与QC小组合开" in text


def test_the_national_roll_up_counts_groups_in_pieces_and_leaves_typed_rates_out_of_the_derivation() -> None:
    national = reports(filed(SD_QC, "jinan", shandong_qc_statistics(), QcStatisticsForm),
                       filed(SH_QC, "pudong", qc_statistics(), QcStatisticsForm))["national/2026/statistics"]
    (table,) = national["tables"]
    provinces = {row["organizer"]: row for row in table["provinces"]}
    assert provinces["370000"]["figures"]["registered_groups"] == 12_850
    assert table["total"]["figures"]["registered_groups"] == 12_850 * 2
    participation = table["total"]["rates"]["participation_rate"]
    assert (participation["numerator"], participation["denominator"]) == (96_420, 412_000)
    assert provinces["370000"]["rates"]["participation_rate"]["value"] == "23.4"
