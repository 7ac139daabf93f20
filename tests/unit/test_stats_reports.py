"""Stats' reducer and reports: any interleaving folds to the same reports, redelivery changes nothing,
and the reports count what the season's events say (quotas, progress, grades, 统计表 with re-derived
rates, 推荐表, judge workload, the national roll-up); CSV and XLSX carry the seeds' Chinese headers."""

from __future__ import annotations

import io
import random
from decimal import ROUND_HALF_UP, Decimal

from openpyxl import load_workbook

from benchmarks.stats_events import SeasonPlan, season_events
from contracts import Envelope, parse_payload
from services.stats.adapters.export import to_csv, to_xlsx
from services.stats.domain.records import Header, StatsState
from services.stats.domain.reports import reports_for
from services.stats.domain.tables import LAYOUTS, statistics_sheets

PLAN = SeasonPlan(season_no=1, recommenders=3, units_per_recommender=2, entries_per_unit=2, judges=7)
SHANDONG = SeasonPlan(season_no=2, organizer="370000", recommenders=2, units_per_recommender=1, entries_per_unit=1,
                      judges=5, province_feed=True)


def header(envelope: dict) -> Header:
    return Header.of(envelope)


def fold_all(envelopes: list[dict]) -> StatsState:
    state = StatsState()
    for envelope in envelopes:
        state.apply(header(envelope), envelope["payload"])
    return state


def events(*plans: SeasonPlan) -> list[dict]:
    return [envelope for plan in plans for _, envelope in season_events(plan)]


def interleaved(envelopes: list[dict], seed: int) -> list[dict]:
    """A random interleaving that keeps each aggregate's order, as partitions and topics may deliver them."""
    queues: dict[str, list[dict]] = {}
    for envelope in envelopes:
        queues.setdefault(envelope["aggregate_id"], []).append(envelope)
    rng = random.Random(seed)
    pending = [queue[::-1] for queue in queues.values()]
    out = []
    while pending:
        queue = rng.choice(pending)
        out.append(queue.pop())
        if not queue:
            pending.remove(queue)
    return out


def test_the_benchmark_seasons_are_valid_under_the_contracts() -> None:
    for envelope in events(PLAN, SHANDONG):
        parsed = Envelope.model_validate(envelope)
        parse_payload(parsed.type, parsed.schema_version, parsed.payload)


def test_any_interleaving_and_redelivery_fold_to_the_same_reports() -> None:
    envelopes = events(PLAN, SHANDONG)
    expected = reports_for(fold_all(envelopes).seasons)
    for seed in range(3):
        shuffled = interleaved(envelopes, seed)
        assert shuffled != envelopes
        assert reports_for(fold_all(shuffled).seasons) == expected
    redelivered = envelopes[: len(envelopes) // 2] + envelopes + envelopes[::7]
    assert reports_for(fold_all(redelivered).seasons) == expected


def test_the_overview_counts_registrations_entries_quotas_progress_and_grades() -> None:
    reports = reports_for(fold_all(events(PLAN)).seasons)
    overview = reports[f"season/{PLAN.season_id}/overview"]
    assert overview["registrations"] == 6 and overview["entries"] == 12
    assert {row["code"]: row["count"] for row in overview["registrations_by_unit_nature"]} == {
        "state_owned": 2, "private": 2, "joint_venture": 2}
    assert all(row["label"] and row["label"] != row["code"] for row in overview["registrations_by_unit_nature"])
    assert sum(row["count"] for row in overview["entries_by_kind_and_type"]) == 12
    assert {row["type_label"] for row in overview["entries_by_kind_and_type"]} == {"问题解决型", "创新型"}
    quotas = {row["recommender_id"]: row for row in overview["recommenders"]}
    assert quotas["r000"]["units"] == 2 and quotas["r000"]["name"] == "推荐单位r000"
    assert (quotas["r000"]["quota"], quotas["r000"]["recommended"], quotas["r000"]["remaining"]) == (4, 4, 0)
    progress = {row["stage"]: row["count"] for row in overview["review_progress"]}
    assert progress["confirmed"] == progress["recommended"] == progress["material_review_scored"] == 12
    grades = sum(row["count"] for row in overview["grades"])
    assert grades == 12 and progress["published"] == overview["certificates"]


def test_statistics_tables_sum_exactly_and_rates_are_re_derived_never_averaged() -> None:
    statistics = reports_for(fold_all(events(PLAN)).seasons)[f"season/{PLAN.season_id}/statistics"]
    rows = statistics["recommenders"]
    assert [row["recommender_id"] for row in rows] == ["r000", "r001", "r002"]
    total = statistics["total"]
    participants = sum(row["figures"]["participants"] for row in rows)
    staff = sum(row["figures"]["total_staff"] for row in rows)
    assert total["figures"]["participants"] == participants and total["figures"]["total_staff"] == staff
    expected = (Decimal(participants) * 100 / Decimal(staff)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    assert total["rates"]["participation_rate"]["value"] == str(expected)
    assert total["figures"]["economic_benefit"] == str(sum(Decimal(row["figures"]["economic_benefit"]) for row in rows))
    averaged = sum(Decimal(row["rates"]["achievement_rate"]["value"]) for row in rows) / 3
    assert Decimal(total["rates"]["achievement_rate"]["value"]) != averaged.quantize(Decimal("0.01"))


def test_recommendation_summary_and_judge_workload() -> None:
    reports = reports_for(fold_all(events(PLAN)).seasons)
    summary = reports[f"season/{PLAN.season_id}/recommendation-summary/r001"]
    assert len(summary["entries"]) == 4 and summary["total_size"] == 20
    assert [row["rank"] for row in summary["entries"]] == [1, 1, 2, 2]
    assert summary["judges"][0]["certificate_no"] == "TGQ-2026-9001" and summary["filled_by"] == "李四"
    workload = reports[f"season/{PLAN.season_id}/judge-workload"]
    assert workload["total"] == {"judges": 7, "assigned": 120, "scored": 120, "to_score": 0}


def test_the_national_view_rolls_the_provinces_up() -> None:
    reports = reports_for(fold_all(events(PLAN, SHANDONG)).seasons)
    overview = reports["national/2026/overview"]
    assert [row["organizer"] for row in overview["provinces"]] == ["310000", "370000"]
    assert overview["total"]["entries"] == 12 + 2 and overview["total"]["provinces"] == 2
    table = reports["national/2026/statistics"]["tables"][0]
    shanghai = reports[f"season/{PLAN.season_id}/statistics"]["total"]
    shandong = reports[f"season/{SHANDONG.season_id}/statistics"]["total"]
    participants = shanghai["figures"]["participants"] + shandong["figures"]["participants"]
    assert table["total"]["figures"]["participants"] == participants
    staff = shanghai["figures"]["total_staff"] + shandong["figures"]["total_staff"]
    assert table["total"]["rates"]["participation_rate"]["numerator"] == participants
    assert table["total"]["rates"]["participation_rate"]["denominator"] == staff


def test_csv_has_a_bom_and_xlsx_the_seeds_headers() -> None:
    reports = reports_for(fold_all(events(PLAN)).seasons)
    statistics = reports[f"season/{PLAN.season_id}/statistics"]
    text = to_csv(LAYOUTS["statistics"](statistics))
    assert text.startswith("\ufeff".encode()) and "本年度QC小组普及率" in text.decode("utf-8-sig")
    workbook = load_workbook(io.BytesIO(to_xlsx(statistics_sheets(statistics, "r000"))))
    sheet = workbook["统计表"]
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert rows[2] == ["序号", "统计项目", "单位", "数量"]
    assert rows[3][1:] == ["历年来已登记注册QC小组累计数", "个", 1000]
    for name, layout in LAYOUTS.items():
        key = {"recommendation-summary": f"season/{PLAN.season_id}/recommendation-summary/r000"}.get(name)
        report = reports.get(key or f"season/{PLAN.season_id}/{name}") or reports.get(f"national/2026/{name[9:]}")
        if report is not None:
            load_workbook(io.BytesIO(to_xlsx(layout(report))))


def later(envelope: dict, type_: str, payload: dict, version_step: int = 1) -> dict:
    """The next event of the same aggregate."""
    return envelope | {"type": type_, "schema_version": 1, "aggregate_version": envelope["aggregate_version"] + version_step,
                       "payload": payload}


def test_amendments_withdrawals_quota_raises_and_regrades_change_what_the_reports_say() -> None:
    envelopes = events(PLAN)
    by_type: dict[str, list[dict]] = {}
    for envelope in envelopes:
        by_type.setdefault(envelope["type"], []).append(envelope)
    confirmed = by_type["UnitConfirmed"][0]
    withdrawn = later(confirmed, "EntryWithdrawn", {"season_id": PLAN.season_id, "entry_id": confirmed["payload"]["entry_id"],
                                                    "credit_code": confirmed["payload"]["credit_code"], "reason": "撤回申报"})
    recommender = by_type["RecommenderRegistered"][0]
    raised = later(recommender, "RecommenderQuotaRaised", {
        "season_id": PLAN.season_id, "recommender_id": "r000", "reason": "推荐成果较多",
        "quota": {"per_unit_min": 0, "per_unit_max": 3, "per_type_max": {}, "distinct_team_types": False},
        "previous": {"per_unit_min": 0, "per_unit_max": 2, "per_type_max": {}, "distinct_team_types": False}})
    filed = by_type["StatisticsFiled"][0]
    amended = later(filed, "StatisticsAmended", filed["payload"] | {
        "form": filed["payload"]["form"] | {"participants": 0, "total_staff": 0}})
    published = next(item for item in by_type["EntryPublished"] if item["payload"]["grade"] != "advancing")
    regraded = later(published, "EntryRegraded", {
        "season_id": PLAN.season_id, "entry_id": published["payload"]["entry_id"], "objection_id": "o1",
        "previous_grade": published["payload"]["grade"], "grade": "advancing", "grade_label": "推进级",
        "combined_score": "75.00", "reason": "异议成立，等级调整"})
    changed = envelopes + [withdrawn, raised, amended, regraded]
    for item in (withdrawn, raised, amended, regraded):
        parse_payload(item["type"], item["schema_version"], item["payload"])
    before = reports_for(fold_all(envelopes).seasons)
    after = reports_for(fold_all(changed).seasons)
    overview_before, overview = before[f"season/{PLAN.season_id}/overview"], after[f"season/{PLAN.season_id}/overview"]
    assert overview["entries"] == overview_before["entries"] - 1
    assert {row["stage"]: row["count"] for row in overview["review_progress"]}["withdrawn"] == 1
    quota = next(row for row in overview["recommenders"] if row["recommender_id"] == "r000")
    assert (quota["quota"], quota["quota_raised"], quota["remaining"]) == (6, True, 2)
    grades = {row["grade"]: row["count"] for row in overview["grades"]}
    assert grades.get("advancing", 0) == {row["grade"]: row["count"] for row in overview_before["grades"]}.get("advancing", 0) + 1
    table = next(row for row in after[f"season/{PLAN.season_id}/statistics"]["recommenders"] if row["recommender_id"] == "r000")
    assert table["figures"]["participants"] == 0 and table["rates"]["participation_rate"]["value"] is None, \
        "a zero denominator gives no rate"
