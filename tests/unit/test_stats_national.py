"""Stats' national view of the provinces' feeds, as stories: a province whose season came only through its feed
(registrations and entries stamped `source.system = feed`, its own recommendations and results, quarantined
records and one corrected) rolls up beside a province reviewed on the platform. The provincial facts are
counted apart from the platform's own steps, any interleaving folds to the same reports, an amendment replaces
the province's earlier fact, and the layouts carry Chinese headers."""

from __future__ import annotations

import io
from typing import Any

from openpyxl import load_workbook

from benchmarks.stats_events import REVIEWED, EnvelopeWriter, SeasonPlan, aggregate, season_events
from contracts import Envelope, parse_payload
from services.stats.adapters.export import to_xlsx
from services.stats.domain.reports import reports_for
from services.stats.domain.tables import LAYOUTS
from tests.unit.test_stats_reports import PLAN, events, fold_all, interleaved

TIBET = SeasonPlan(season_no=3, organizer="540000", recommenders=2, units_per_recommender=2, entries_per_unit=1,
                   judges=3, province_feed=True)


def fed_season(plan: SeasonPlan) -> list[dict[str, Any]]:
    """The province's season as its feed brings it: registrations, entries and statistics, no national review;
    then the province's recommendations (one amended), results (one amended) and quarantine (one corrected)."""
    envelopes = [envelope for topic, envelope in season_events(plan) if topic != REVIEWED]
    writer = EnvelopeWriter(plan)
    writer.versions = {envelope["aggregate_id"]: envelope["aggregate_version"] for envelope in envelopes}
    entries = [envelope["payload"] for envelope in envelopes if envelope["type"] == "EntrySubmitted"]
    sid, province = plan.season_id, plan.organizer

    def fed(type_: str, aggregate_id: str, payload: dict[str, Any]) -> None:
        _, envelope = writer.envelope(REVIEWED, aggregate_id, type_, payload, role="feed")
        envelopes.append(envelope | {"channel": "feed"})

    for rank, entry in enumerate(entries[:3], start=1):
        keys = {"season_id": sid, "entry_id": entry["entry_id"], "province": province,
                "credit_code": entry["form"]["credit_code"], "entry": f"XZ-E{rank:03d}"}
        recommendation = keys | {"recommender_id": entry["form"]["recommender_id"], "recommender_name": "拉萨市质量协会",
                                 "rank": rank, "opinion": "同意推荐", "recommended_on": "2026-07-10"}
        fed("ProvincialRecommendationRecorded", aggregate("provincial-recommendation", sid, entry["entry_id"]),
            recommendation)
        if rank == 3:
            fed("ProvincialRecommendationAmended", aggregate("provincial-recommendation", sid, entry["entry_id"]),
                recommendation | {"rank": 1, "opinion": "同意推荐（修改）"})
        if rank <= 2:
            result = keys | {"grade": "excellent", "grade_label": "优秀级", "score": "85.00", "certificate_no": None,
                             "published_on": "2026-09-30"}
            fed("ProvincialResultRecorded", aggregate("provincial-result", sid, entry["entry_id"]), result)
            if rank == 2:
                fed("ProvincialResultAmended", aggregate("provincial-result", sid, entry["entry_id"]),
                    result | {"grade": "benchmark", "grade_label": "标杆级", "score": "92.00", "certificate_no": "XZ-001"})
    refused = {"service": "submission", "province": province, "batch_id": "b1", "line": 4, "record_type": "entry",
               "version": 1, "season_id": sid, "reasons": [{"field": "members", "rule": "entry.qc.leader",
                                                           "message": "QC 小组须有组长"}], "raw": "{}"}
    for index in range(3):
        fed("FeedRecordQuarantined", aggregate("quarantine", sid, index), refused | {"external_id": f"XZ-Q{index}"})
    fed("FeedQuarantineResolved", aggregate("quarantine", sid, 0), {
        "service": "submission", "province": province, "batch_id": "b2", "record_type": "entry",
        "external_id": "XZ-Q0", "accepted_version": 2})
    return envelopes


def test_the_fed_events_are_valid_under_the_contracts() -> None:
    for envelope in fed_season(TIBET):
        parsed = Envelope.model_validate(envelope)
        parse_payload(parsed.type, parsed.schema_version, parsed.payload)


def test_any_interleaving_and_redelivery_of_fed_events_fold_to_the_same_reports() -> None:
    envelopes = events(PLAN) + fed_season(TIBET)
    expected = reports_for(fold_all(envelopes).seasons)
    for seed in range(4):
        shuffled = interleaved(envelopes, seed)
        assert shuffled != envelopes
        assert reports_for(fold_all(shuffled).seasons) == expected
    redelivered = envelopes[: len(envelopes) // 3] + envelopes + envelopes[len(envelopes) // 2:]
    assert reports_for(fold_all(redelivered).seasons) == expected


def test_per_province_totals_count_the_provinces_facts_apart_from_the_platforms_own() -> None:
    overview = reports_for(fold_all(events(PLAN) + fed_season(TIBET)).seasons)["national/2026/overview"]
    shanghai, tibet = overview["provinces"]
    assert (shanghai["organizer"], tibet["organizer"]) == ("310000", "540000")
    assert (tibet["registrations"], tibet["fed_registrations"], tibet["direct_registrations"]) == (4, 4, 0)
    assert (tibet["entries"], tibet["fed_entries"], tibet["direct_entries"]) == (4, 4, 0)
    assert (tibet["recommended"], tibet["platform_recommended"], tibet["provincial_recommended"]) == (3, 0, 3), \
        "before, a fed province showed no recommendation at all"
    assert (tibet["graded"], tibet["provincial_results"], tibet["published"]) == (2, 2, 2)
    assert [(row["label"], row["count"]) for row in tibet["provincial_results_by_grade"]] == [
        ("标杆级（省级评定）", 1), ("优秀级（省级评定）", 1)], "the amendment replaced the earlier grade"
    assert (tibet["quarantined_open"], tibet["quarantined_resolved"]) == (2, 1)
    assert (shanghai["fed_entries"], shanghai["provincial_recommended"], shanghai["quarantined_open"]) == (0, 0, 0)
    assert shanghai["recommended"] == shanghai["platform_recommended"] == 12
    total = overview["total"]
    assert (total["recommended"], total["provincial_recommended"], total["fed_entries"]) == (15, 3, 4)
    assert total["entries"] == total["fed_entries"] + total["direct_entries"] == 16


def test_the_season_overview_shows_the_provinces_grades_labelled_and_its_entries_lines() -> None:
    reports = reports_for(fold_all(fed_season(TIBET)).seasons)
    overview = reports[f"season/{TIBET.season_id}/overview"]
    assert overview["grades"] == [
        {"grade": "benchmark", "label": "标杆级（省级评定）", "count": 1, "by": "province"},
        {"grade": "excellent", "label": "优秀级（省级评定）", "count": 1, "by": "province"},
    ]
    assert overview["feeds"] == {"fed_registrations": 4, "fed_entries": 4, "quarantined_open": 2,
                                 "quarantined_resolved": 1}
    assert overview["provincial"] == {"recommended": 3, "results": 2}
    progress = {row["stage"]: row["count"] for row in overview["review_progress"]}
    assert (progress["recommended"], progress["provincial_recommended"], progress["provincial_graded"]) == (0, 3, 2)
    quotas = {row["recommender_id"]: row for row in overview["recommenders"]}
    assert quotas["r000"]["provincial_recommended"] == 2 and quotas["r000"]["remaining"] == quotas["r000"]["quota"], \
        "a province's recommendation does not use the national platform's quota"
    lines = {entry_id: line for part in (reports[f"season/{TIBET.season_id}/entries/{index}"] for index in range(16))
             for entry_id, line in part["entries"].items()}
    amended = next(line for line in lines.values() if (line["provincial_recommendation"] or {}).get("external_id") == "XZ-E003")
    assert amended["fed"] and amended["provincial_recommendation"]["rank"] == 1 and amended["provincial_result"] is None
    assert "provincial_recommended" in amended["progress"]


def test_the_platforms_grades_keep_their_labels_beside_the_provinces() -> None:
    overview = reports_for(fold_all(events(PLAN)).seasons)[f"season/{PLAN.season_id}/overview"]
    assert {row["by"] for row in overview["grades"]} == {"platform"}
    assert all("省级" not in row["label"] for row in overview["grades"])


def test_the_national_overview_sheets_have_chinese_headers_and_the_provinces_grades() -> None:
    reports = reports_for(fold_all(events(PLAN) + fed_season(TIBET)).seasons)
    workbook = load_workbook(io.BytesIO(to_xlsx(LAYOUTS["national-overview"](reports["national/2026/overview"]))))
    provinces = [[cell.value for cell in row] for row in workbook["各省汇总"].iter_rows()]
    header = next(row for row in provinces if row and row[0] == "组织单位")
    assert {"其中数据接口申报", "其中省级推荐", "其中省级评定", "隔离待更正", "隔离已更正"} <= set(header)
    grades = [[cell.value for cell in row] for row in workbook["省级评定等级分布"].iter_rows()]
    assert ["西藏自治区质量协会", "540000", "qc_group", TIBET.season_id, "标杆级（省级评定）", 1] in grades
    season = load_workbook(io.BytesIO(to_xlsx(LAYOUTS["overview"](reports[f"season/{TIBET.season_id}/overview"]))))
    summary = {row[0].value: row[1].value for row in season["概况"].iter_rows() if row[0].value}
    assert summary["省级推荐成果数（数据接口）"] == 3 and summary["数据接口隔离记录（待更正）"] == 2
