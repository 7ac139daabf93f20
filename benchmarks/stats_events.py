"""Realistic seasons as envelopes, for stats' rebuild benchmark and its tests.

A season is opened, recommending units, units and judges registered; units submit and confirm entries,
recommending units recommend them and file their statistics tables; every entry passes formal review, is
given judges in both stages, scored by each of them, graded, approved and published. Every payload is
valid under the contracts (a test checks it), so the live consumer would take every one of them.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from contracts.envelope import event_id_for
from contracts.identity import credit_code_check_character

REGISTERED, SUBMITTED, REVIEWED = "registration.events", "submission.events", "review.events"
NAMESPACE = uuid.UUID("6f1d3c2e-8a4b-4c1d-9e2f-0a1b2c3d4e5f")
START = datetime(2026, 3, 1, 2, tzinfo=UTC)
SHA = hashlib.sha256(b"sealed form").hexdigest()
BANDS = [("benchmark", "标杆级", "90"), ("excellent", "优秀级", "80"), ("advancing", "推进级", "70")]
PROVINCES = {"310000": "上海市质量协会", "370000": "山东省质量管理协会", "540000": "西藏自治区质量协会"}


def credit_code(season_no: int, unit: int) -> str:
    first_17 = f"9137{season_no:04d}MA{unit:06d}X"[:17].ljust(17, "0")
    return first_17 + credit_code_check_character(first_17)


def aggregate(*parts: object) -> str:
    return str(uuid.uuid5(NAMESPACE, ":".join(str(part) for part in parts)))


@dataclass
class SeasonPlan:
    """How big a season is: recommending units, units per recommending unit, entries per unit, judges."""

    season_no: int
    organizer: str = "310000"
    year: int = 2026
    kind: str = "qc_group"
    recommenders: int = 4
    units_per_recommender: int = 5
    entries_per_unit: int = 2
    judges: int = 10
    judges_per_entry: int = 5
    province_feed: bool = False

    @property
    def season_id(self) -> str:
        return f"{self.organizer}-{self.year}-{self.kind}"


class EnvelopeWriter:
    """Envelopes in the order their aggregates produce them (each aggregate's versions counted)."""

    def __init__(self, plan: SeasonPlan) -> None:
        self.plan = plan
        self.versions: dict[str, int] = {}
        self.clock = START

    def envelope(self, topic: str, aggregate_id: str, type_: str, payload: dict[str, Any], *,
                 schema_version: int = 1, role: str = "organizer") -> tuple[str, dict[str, Any]]:
        version = self.versions.get(aggregate_id, 0) + 1
        self.versions[aggregate_id] = version
        self.clock += timedelta(seconds=1)
        source = {"system": "qc-platform", "province": None, "external_id": None, "version": None, "batch_id": None}
        if self.plan.province_feed:
            # as a province's feed stamps its events (feeds/README.md): stats counts them as fed records
            source |= {"system": "feed", "province": self.plan.organizer, "external_id": aggregate_id, "version": 1,
                       "batch_id": "benchmark"}
        return topic, {
            "event_id": str(event_id_for(uuid.UUID(aggregate_id), version)),
            "type": type_,
            "schema_version": schema_version,
            "aggregate_id": aggregate_id,
            "aggregate_version": version,
            "season_id": self.plan.season_id,
            "organizer": self.plan.organizer,
            "occurred_at": self.clock.isoformat(),
            "recorded_at": self.clock.isoformat(),
            "actor": {"id": "staff-1", "role": role, "org": self.plan.organizer},
            "channel": "organizer",
            "source": source,
            "trace_id": f"t{version}",
            "payload": payload,
        }


def _window(start: int, end: int) -> dict[str, str]:
    return {"opens_at": (START + timedelta(days=start)).isoformat(), "closes_at": (START + timedelta(days=end)).isoformat()}


def season_opened(plan: SeasonPlan) -> dict[str, Any]:
    return {
        "season_id": plan.season_id, "organizer": plan.organizer,
        "organizer_name": PROVINCES.get(plan.organizer, "某质量协会"), "year": plan.year, "kind": plan.kind,
        "title": f"{plan.year}年质量管理小组活动", "time_zone": "Asia/Shanghai",
        "windows": {stage: _window(index * 30, index * 30 + 29) for index, stage in enumerate(
            ("registration", "submission", "recommendation", "review", "notice", "publication"))},
        "channels": ["group", "unit", "recommender", "direct"],
        "quota": {"per_unit_min": 0, "per_unit_max": 2, "per_type_max": {}, "distinct_team_types": False},
        "rubrics": [],
        "grade_bands": [{"code": code, "label": label, "min_score": score} for code, label, score in BANDS],
        "stage_weights": {"material_review": "0.4", "presentation": "0.6"},
        "judges_per_entry": {},
    }


def unit_registered(plan: SeasonPlan, unit: int, recommender_id: str) -> dict[str, Any]:
    natures = ["state_owned", "private", "joint_venture"]
    domains = ["manufacturing", "construction", "market_services"]
    return {
        "season_id": plan.season_id, "credit_code": credit_code(plan.season_no, unit),
        "unit_name": f"某某制造有限公司{unit:05d}", "short_name": None, "member": unit % 2 == 0,
        "unit_nature": natures[unit % 3], "unit_nature_other": None,
        "key_industries": [["integrated_circuits"], ["biomedicine"], []][unit % 3], "key_industry_other": None,
        "key_domain": domains[unit % 3], "address": "上海市浦东新区张江路100号", "postcode": "201203",
        "managing_department": "质量管理部",
        "promoter": {"name": "王伟", "department": None, "title": None, "mobile": "13912345670",
                     "email": "qc@example.com"},
        "intents": ["submitting"], "recommender_id": recommender_id,
    }


def judge_registered(plan: SeasonPlan, judge: int) -> dict[str, Any]:
    return {
        "season_id": plan.season_id, "judge_id": f"j{judge:04d}", "name": f"评委{judge}", "work_unit": "某某检测研究院",
        "work_unit_credit_code": None, "certificate_no": f"TGQ-2026-{judge:04d}", "address": None,
        "mobile": "13812345678", "email": f"judge{judge}@example.com", "recommender_id": None,
    }


def qc_form(plan: SeasonPlan, unit: int, entry: int, recommender_id: str) -> dict[str, Any]:
    return {
        "credit_code": credit_code(plan.season_no, unit), "unit_name": f"某某制造有限公司{unit:05d}",
        "recommender_id": recommender_id, "kind": "qc_group",
        "qc_type": "problem_solving" if entry % 2 == 0 else "innovation",
        "group_name": f"攻关QC小组{entry}", "group_registration_no": None, "topic": f"降低装配不良率{unit}-{entry}",
        "members": [{"name": f"组员{index}", "role": "leader" if index == 0 else "member", "gender": None,
                     "job_title": None} for index in range(5)],
        "contact": None, "attachments": [],
    }


def statistics_form(unit_count: int, recommender: int) -> dict[str, Any]:
    return {
        "period": {"first_month": "2025-07", "last_month": "2026-06"},
        "contact": {"department": "质量管理部", "head": "张三", "name": "李四", "mobile": "13912345670",
                    "email": "stats@example.com", "address": "上海市浦东新区张江路100号", "postcode": "201203"},
        "filled_by": "李四", "filled_on": None, "kind": "qc_group",
        "registered_groups_cumulative": 1000 + recommender, "registered_groups": 40 * unit_count + 10 * recommender,
        "participants": 3 * 40 * unit_count + recommender, "total_staff": 2000 * unit_count,
        "active_groups": 35 * unit_count, "groups_with_results": 17 * unit_count + recommender,
        "economic_benefit_cumulative": "12345.67", "economic_benefit": f"{100 + recommender}.5",
        "funding": "12.25", "rewards": "3.5", "training_sessions": 4, "training_participants": 60,
        "features_and_suggestions": "以问题解决型课题为主，建议加强创新型课题培训。",
    }


def recommendation(plan: SeasonPlan, entry_id: str, unit: int, entry: int, recommender_id: str, rank: int) -> dict[str, Any]:
    form = qc_form(plan, unit, entry, recommender_id)
    return {
        "season_id": plan.season_id, "entry_id": entry_id, "credit_code": form["credit_code"],
        "unit_name": form["unit_name"], "entry_name": f"{form['group_name']}《{form['topic']}》", "kind": "qc_group",
        "qc_type": form["qc_type"], "team_type": None, "team_size": 5,
        "conformance": "符合 T/CAQ10201-2020", "features": "数据翔实", "shortcomings": "效果巩固期偏短",
        "score": "88.5", "rank": rank, "opinion": "同意推荐",
        "judges": [{"name": "评委甲", "work_unit": "某某检测研究院", "certificate_no": "TGQ-2026-9001",
                    "address": None, "email": None, "mobile": None}],
        "declaration": {"accepted": True, "signer": "张三", "signed_on": "2026-05-01"},
        "filled_by": "李四", "phone": "021-12345678", "filled_on": "2026-05-01", "recommender_id": recommender_id,
        "declaration_text": "本单位遵守有关规定。",
    }


def _score_value(entry_no: int, judge: int) -> Decimal:
    return Decimal(60 + (entry_no * 7 + judge * 3) % 40)


def _stage_result(stage: str, judge_ids: list[str], totals: list[Decimal]) -> tuple[dict[str, Any], Decimal]:
    values = sorted(totals)
    counted = values[1:-1] if len(values) >= 5 else values
    score = (sum(counted) / len(counted)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    dropped = []
    if len(values) >= 5:
        dropped = [judge_ids[totals.index(values[0])], judge_ids[len(totals) - 1 - totals[::-1].index(values[-1])]]
    return {
        "stage": stage, "method": "trimmed_mean" if len(values) >= 5 else "mean",
        "totals": {judge: str(total) for judge, total in zip(judge_ids, totals, strict=True)},
        "dropped": dropped, "score": str(score),
    }, score


def season_events(plan: SeasonPlan) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every envelope of one season, each aggregate's in order; topics are the unprefixed names."""
    writer = EnvelopeWriter(plan)
    sid = plan.season_id
    yield writer.envelope(REGISTERED, aggregate("season", sid), "SeasonOpened", season_opened(plan), schema_version=2)
    recommenders = [f"r{index:03d}" for index in range(plan.recommenders)]
    for recommender_id in recommenders:
        yield writer.envelope(REGISTERED, aggregate("recommender", sid, recommender_id), "RecommenderRegistered", {
            "season_id": sid, "recommender_id": recommender_id, "name": f"推荐单位{recommender_id}", "category": "district",
            "region_code": None, "contacts": [], "address": None, "postcode": None}, schema_version=2)
    judge_ids = [f"j{index:04d}" for index in range(plan.judges)]
    for index in range(plan.judges):
        yield writer.envelope(REGISTERED, aggregate("judge", sid, index), "JudgeRegistered",
                              judge_registered(plan, index), schema_version=2)
    entries: list[tuple[str, int, int, str]] = []
    for number, recommender_id in enumerate(recommenders):
        for offset in range(plan.units_per_recommender):
            unit = number * plan.units_per_recommender + offset
            yield writer.envelope(REGISTERED, aggregate("unit", sid, unit), "UnitRegistered",
                                  unit_registered(plan, unit, recommender_id), schema_version=3, role="unit")
            for entry in range(plan.entries_per_unit):
                entry_id = f"e{unit:05d}{entry:02d}"
                entries.append((entry_id, unit, entry, recommender_id))
                entry_aggregate = aggregate("entry", sid, entry_id)
                yield writer.envelope(SUBMITTED, entry_aggregate, "EntrySubmitted", {
                    "season_id": sid, "entry_id": entry_id, "form": qc_form(plan, unit, entry, recommender_id)}, role="unit")
                yield writer.envelope(SUBMITTED, entry_aggregate, "UnitConfirmed", {
                    "season_id": sid, "entry_id": entry_id, "credit_code": credit_code(plan.season_no, unit),
                    "self_evaluation": "达到预期目标", "self_score": None, "opinion": "同意申报", "sealed_on": None,
                    "sealed_form": {"purpose": "sealed_form", "file_name": "申报推荐意见.pdf", "size_bytes": 1000,
                                    "media_type": "application/pdf", "sha256": SHA}}, role="unit")
        yield writer.envelope(SUBMITTED, aggregate("statistics", sid, recommender_id), "StatisticsFiled", {
            "season_id": sid, "recommender_id": recommender_id, "kind": "qc_group",
            "form": statistics_form(plan.units_per_recommender, number), "derived": {}}, role="recommender")
    graded: list[tuple[str, str, Decimal]] = []
    for entry_no, (entry_id, unit, entry, recommender_id) in enumerate(entries):
        review = aggregate("review", sid, entry_id)
        yield writer.envelope(REVIEWED, review, "EntryRecommended",
                              recommendation(plan, entry_id, unit, entry, recommender_id, entry + 1), role="recommender")
        yield writer.envelope(REVIEWED, review, "FormalReviewPassed", {
            "season_id": sid, "entry_id": entry_id, "credit_code": credit_code(plan.season_no, unit),
            "recommender_id": recommender_id, "kind": "qc_group"})
        results, scores = [], []
        for stage_no, stage in enumerate(("material_review", "presentation")):
            chosen = [judge_ids[(entry_no + stage_no + index) % len(judge_ids)] for index in range(plan.judges_per_entry)]
            yield writer.envelope(REVIEWED, aggregate("assignment", sid, entry_id, stage), "JudgesAssigned", {
                "season_id": sid, "entry_id": entry_id, "stage": stage, "judge_ids": chosen, "assigned_by": "assigner"})
            totals = []
            for judge_id in chosen:
                total = _score_value(entry_no + stage_no, int(judge_id[1:]))
                totals.append(total)
                yield writer.envelope(REVIEWED, aggregate("score", sid, entry_id, stage, judge_id), "ScoreRecorded", {
                    "season_id": sid, "entry_id": entry_id, "judge_id": judge_id, "stage": stage, "rubric": "qc",
                    "criteria": {"total": str(total)}, "comment": None, "total": str(total)}, role="judge")
            result, score = _stage_result(stage, chosen, totals)
            results.append(result)
            scores.append(score)
        combined = (scores[0] * Decimal("0.4") + scores[1] * Decimal("0.6")).quantize(Decimal("0.01"), ROUND_HALF_UP)
        band = next(((code, label) for code, label, minimum in BANDS if combined >= Decimal(minimum)), (None, None))
        yield writer.envelope(REVIEWED, review, "EntryGraded", {
            "season_id": sid, "entry_id": entry_id, "stages": results,
            "weights": {"material_review": "0.4", "presentation": "0.6"}, "combined_score": str(combined),
            "grade": band[0], "grade_label": band[1]})
        if band[0] is not None:
            graded.append((entry_id, band[0], combined))
            yield writer.envelope(REVIEWED, review, "GuidingUnitsApproved", {
                "season_id": sid, "entry_id": entry_id, "grade": band[0], "combined_score": str(combined),
                "guiding_units": ["市场监督管理局"], "approved_on": "2026-08-01", "note": None})
    results_aggregate = aggregate("results", sid)
    if graded:
        yield writer.envelope(REVIEWED, results_aggregate, "NoticeOpened", {
            "season_id": sid, "entry_ids": [entry_id for entry_id, _, _ in graded],
            "opens_at": _window(150, 160)["opens_at"], "closes_at": _window(150, 160)["closes_at"]})
        labels = {code: label for code, label, _ in BANDS}
        for number, (entry_id, grade, combined) in enumerate(graded, start=1):
            yield writer.envelope(REVIEWED, aggregate("review", sid, entry_id), "EntryPublished", {
                "season_id": sid, "entry_id": entry_id, "unit_name": "某某制造有限公司", "entry_name": entry_id,
                "grade": grade, "grade_label": labels[grade], "combined_score": str(combined),
                "certificate_no": f"{plan.year}-QC-{number:05d}"})
        yield writer.envelope(REVIEWED, results_aggregate, "ResultsPublished", {
            "season_id": sid, "certificates": len(graded), "first_certificate_no": f"{plan.year}-QC-00001",
            "last_certificate_no": f"{plan.year}-QC-{len(graded):05d}"})


def events_per_entry(plan: SeasonPlan) -> int:
    """About how many envelopes one entry brings (for sizing a benchmark)."""
    return 2 + 2 + 2 * (1 + plan.judges_per_entry) + 3 + 1
