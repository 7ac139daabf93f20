"""A season's reports: pure functions of the season's records, joined across aggregates only here.

Every report is plain JSON (numbers of money and rates as decimal strings), with its lists sorted by
stable keys, so the same records give the same report whatever order the events were folded in.
Sums are exact decimals; rates are re-derived from summed numerators and denominators (never averaged)
with the same formulas and rounding as a single filing's (contracts.rates.derived_rates_of). The national
roll-up of the provinces' seasons is `national_rollup`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from contracts.codes import ActivityKind, KeyDomain, KeyIndustry, QcAchievementType, UnitNature
from contracts.scored import ReviewStage
from contracts.profiles import FormProfile
from services.stats.domain.records import Record
from services.stats.domain.season_records import SeasonRecords
from services.stats.domain.statistics_layout import STATISTICS_FORMS, items_of, rates_of, season_profile_of

Report = dict[str, Any]
STAGES = [stage.value for stage in ReviewStage]
NO_GRADE = "未达等级"

PROGRESS = [
    ("submitted", "已申报"),
    ("confirmed", "单位已确认"),
    ("withdrawn", "已撤回"),
    ("recommended", "已推荐/直接申报"),
    ("recommendation_withdrawn", "推荐无效（推荐单位被取消推荐资格）"),
    ("formal_review_passed", "形式审查通过"),
    ("formal_review_failed", "形式审查未通过"),
    ("material_review_assigned", "文审已分配评委"),
    ("material_review_scored", "文审评分完成"),
    ("presentation_assigned", "发表赛已分配评委"),
    ("presentation_scored", "发表赛评分完成"),
    ("assignment_blocked", "评委分配受阻"),
    ("not_advanced", "未晋级"),
    ("graded", "已评定等级"),
    ("approved", "指导单位已审定"),
    ("on_notice", "已公示"),
    ("objections_open", "异议待处理"),
    ("result_withdrawn", "成果已撤销"),
    ("published", "已发布"),
    ("national", "已推荐全国"),
    ("provincial_recommended", "省级已推荐（数据接口）"),
    ("provincial_graded", "省级已评定（数据接口）"),
]
PROVINCIAL_GRADE = "（省级评定）"


def code_label(enum: Any, code: str | None) -> str | None:
    try:
        return enum(code).label
    except ValueError:
        return code


def type_label(kind: str | None, code: str | None) -> str | None:
    return code_label(QcAchievementType, code) if kind == ActivityKind.QC_GROUP.value else code


# ---------------------------------------------------------------- overview


def _counted(counter: Counter, enum: Any) -> list[dict[str, Any]]:
    return [{"code": code, "label": code_label(enum, code), "count": count} for code, count in sorted(counter.items())]


def entry_progress(season: SeasonRecords, entry_id: str) -> set[str]:
    """The progress stages an entry has reached (worked out once per entry and season)."""
    known = season.progress.get(entry_id)
    if known is None:
        known = season.progress[entry_id] = _progress(season, entry_id)
    return known


def _progress(season: SeasonRecords, entry_id: str) -> set[str]:
    reached: set[str] = set()
    entry = season.entries.get(entry_id)
    if entry is not None:
        reached.add("withdrawn" if entry["status"] == "withdrawn" else "submitted")
        if entry["status"] == "confirmed":
            reached.add("confirmed")
    review = season.reviews.get(entry_id) or {}
    if review.get("recommendation"):
        reached.add("recommended")
    if review.get("withdrawn"):
        reached.add("recommendation_withdrawn")
    if review.get("formal_review") == "passed":
        reached.add("formal_review_passed")
    elif review.get("formal_review") == "failed":
        reached.add("formal_review_failed")
    if any(item.get("outcome") == "not_advanced" for item in (review.get("rounds") or {}).values()):
        reached.add("not_advanced")
    for stage in STAGES:
        assignment = season.assignments.get((entry_id, stage))
        if assignment is None:
            continue
        if assignment.get("blocked") and not assignment["judge_ids"]:
            reached.add("assignment_blocked")
        if assignment["judge_ids"]:
            reached.add(f"{stage}_assigned")
            scored = season.scores.get((entry_id, stage), {})
            if all(judge in scored for judge in assignment["judge_ids"]):
                reached.add(f"{stage}_scored")
    for flag, name in (("grade", "graded"), ("approved", "approved"), ("result_withdrawn", "result_withdrawn"),
                       ("certificate_no", "published"), ("national", "national")):
        if review.get(flag):
            reached.add(name)
    if entry_id in season.noticed:
        reached.add("on_notice")
    if "filed" in (review.get("objections") or {}).values():
        reached.add("objections_open")
    if entry_id in season.provincial_recommendations:
        reached.add("provincial_recommended")
    if entry_id in season.provincial_results:
        reached.add("provincial_graded")
    return reached


def season_rounds(season: SeasonRecords) -> list[tuple[str, str, bool]]:
    """The season's review rounds as (code, label, gate); rounds met only in the events (never declared) after."""
    declared = [(item["code"], item["label"], bool(item.get("gate"))) for item in season.season.get("rounds") or []]
    if not declared:
        declared = [(stage.value, stage.label, False) for stage in ReviewStage]
    known = {code for code, _, _ in declared}
    met = {stage for _, stage in season.assignments} | {stage for _, stage in season.scores}
    return declared + [(code, code, False) for code in sorted(met - known)]


def review_rounds(season: SeasonRecords) -> list[dict[str, Any]]:
    """Review progress by round: entries with judges, fully scored, advanced and not advanced (with the reasons)."""
    rows = []
    for code, label, gate in season_rounds(season):
        assigned = scored = advanced = 0
        reasons: Counter = Counter()
        for entry_id in season.entry_ids():
            assignment = season.assignments.get((entry_id, code))
            if assignment and assignment["judge_ids"]:
                assigned += 1
                sheets = season.scores.get((entry_id, code), {})
                scored += all(judge in sheets for judge in assignment["judge_ids"])
            outcome = ((season.reviews.get(entry_id) or {}).get("rounds") or {}).get(code)
            if outcome and outcome["outcome"] == "advanced":
                advanced += 1
            elif outcome:
                reasons[outcome["reason"]] += 1
        rows.append({
            "round": code, "label": label, "gate": gate, "assigned": assigned, "scored": scored,
            "advanced": advanced, "not_advanced": sum(reasons.values()),
            "not_advanced_reasons": [{"reason": reason, "count": count} for reason, count in sorted(reasons.items())],
        })
    return rows


def recommender_quotas(season: SeasonRecords) -> list[dict[str, Any]]:
    """Per recommending unit: its units, its quota (per unit × units, or its raised rule) and what it recommended."""
    units = Counter(item.get("recommender_id") for item in season.registrations if item.get("recommender_id"))
    recommended: Counter = Counter()
    direct: Counter = Counter()
    for review in season.reviews.values():
        recommendation = review.get("recommendation")
        if recommendation and recommendation["channel"] != "national":  # a province's national entry: no unit quota
            (recommended if recommendation["channel"] == "recommended" else direct)[recommendation["recommender_id"]] += 1
    # the province's own recommendations: facts of its feed, outside the national platform's quota
    provincial = Counter(item.get("recommender_id") for item in season.provincial_recommendations.values())
    rows = []
    keys = set(season.recommenders) | set(units) | set(recommended) | set(direct) | set(provincial)
    for recommender_id in sorted(keys - {None}):
        rule = season.quota_raised.get(recommender_id) or season.season.get("quota") or {}
        quota = int(rule.get("per_unit_max") or 0) * units[recommender_id]
        used = recommended[recommender_id] + direct[recommender_id]
        rows.append({
            "recommender_id": recommender_id,
            "name": season.recommender_name(recommender_id),
            "units": units[recommender_id],
            "per_unit_max": rule.get("per_unit_max"),
            "quota_raised": recommender_id in season.quota_raised,
            "quota": quota,
            "recommended": recommended[recommender_id],
            "accepted_directly": direct[recommender_id],
            "remaining": max(0, quota - used),
            "provincial_recommended": provincial[recommender_id],
        })
    return rows


def grade_distribution(season: SeasonRecords) -> list[dict[str, Any]]:
    """The grades the national platform gave (`by: platform`), then the provinces' published results of their
    entries (`by: province`, labelled 省级评定): both are grades of the season, given by different bodies."""
    platform = [review["grade"] for _, review in sorted(season.reviews.items())
                if review.get("grade") is not None and not review.get("result_withdrawn") and not review.get("withdrawn")]
    return _graded_rows(season, platform, "platform", "") + provincial_grades(season)


def provincial_grades(season: SeasonRecords) -> list[dict[str, Any]]:
    """The province's results per grade band, in entry order (so a label is never picked by the fold order)."""
    results = [season.provincial_results[entry_id] for entry_id in sorted(season.provincial_results)]
    return _graded_rows(season, results, "province", PROVINCIAL_GRADE)


def _graded_rows(season: SeasonRecords, grades: list[Record], by: str, suffix: str) -> list[dict[str, Any]]:
    bands = season.season.get("grade_bands") or []
    order = {band["code"]: index for index, band in enumerate(bands)}
    labels = {band["code"]: band["label"] for band in bands}
    counts: Counter = Counter()
    for grade in grades:
        counts[grade.get("grade")] += 1
        if grade.get("grade") and grade.get("grade_label"):
            labels.setdefault(grade["grade"], grade["grade_label"])
    return [
        {"grade": code, "label": (labels.get(code, code) if code else NO_GRADE) + suffix, "count": counts[code], "by": by}
        for code in sorted(counts, key=lambda code: (code is None, order.get(code, len(order)), code or ""))
    ]


def season_overview(season: SeasonRecords, season_id: str) -> Report:
    info = season.season
    natures = Counter(item.get("unit_nature") for item in season.registrations)
    domains = Counter(item.get("key_domain") for item in season.registrations)
    industries = Counter(code for item in season.registrations for code in item.get("key_industries") or [])
    live_entries = [entry for entry in season.entries.values() if entry["status"] != "withdrawn"]
    kinds = Counter((entry["kind"], entry.get("type")) for entry in live_entries)
    progress: Counter = Counter()
    for entry_id in season.entry_ids():
        progress.update(entry_progress(season, entry_id))
    return {
        "season_id": season_id,
        "title": info.get("title"),
        "organizer": info.get("organizer"),
        "organizer_name": info.get("organizer_name"),
        "year": info.get("year"),
        "kind": info.get("kind"),
        "kind_label": code_label(ActivityKind, info.get("kind")),
        "registrations": len(season.registrations),
        "registrations_by_unit_nature": _counted(natures, UnitNature),
        "registrations_by_key_domain": _counted(domains, KeyDomain),
        "registrations_by_key_industry": _counted(industries, KeyIndustry),
        "entries": len(live_entries),
        "entries_by_kind_and_type": [
            {"kind": kind, "kind_label": code_label(ActivityKind, kind), "type": type_, "type_label": type_label(kind, type_),
             "count": count}
            for (kind, type_), count in sorted(kinds.items(), key=lambda item: (item[0][0], item[0][1] or ""))
        ],
        "recommenders": recommender_quotas(season),
        "review_progress": [{"stage": code, "label": label, "count": progress[code]} for code, label in PROGRESS],
        "review_rounds": review_rounds(season),
        "grades": grade_distribution(season),
        "certificates": season.certificates,
        "feeds": season.feed_counts(),
        "provincial": {"recommended": len(season.provincial_recommendations),
                       "results": len(season.provincial_results)},
    }


# ---------------------------------------------------------------- statistics tables (统计表)


def _add(total: dict[str, Any], figures: dict[str, Any]) -> None:
    for key, value in figures.items():
        if isinstance(value, int) and not isinstance(value, bool):
            total[key] = total.get(key, 0) + value
        elif value is not None:
            total[key] = str(Decimal(str(total.get(key, "0"))) + Decimal(str(value)))


def table_of(figures: dict[str, Any], kind: str | None, profile: FormProfile | None = None,
             typed: dict[str, Any] | None = None) -> dict[str, Any]:
    """A statistics table: its figures with its rates (QC tables), derived or as typed by the season's form."""
    return {"figures": dict(sorted(figures.items())), "rates": rates_of(figures, typed or {}, kind, profile)}


def filing_figures(filing: Record) -> dict[str, Any]:
    figures = dict(filing["figures"])
    meeting = filing.get("meeting")
    if filing["kind"] == ActivityKind.TEAM.value:
        figures["meetings"] = 1 if meeting else 0
        for name in ("registered_teams", "presented_teams", "attendees"):
            figures[f"meeting_{name}"] = int((meeting or {}).get(name) or 0)
    return figures


def summed(tables: Iterable[dict[str, Any]]) -> dict[str, Any]:
    total: dict[str, Any] = {}
    for table in tables:
        _add(total, table["figures"])
    return total


def season_statistics(season: SeasonRecords, season_id: str) -> Report:
    """统计表 per recommending unit (its latest period) and the organizer's, summed, rates re-derived."""
    kind = season.kind
    profile = season_profile_of(season.season)
    rows = []
    for recommender_id, filing in sorted(season.latest_statistics().items()):
        rows.append({
            "recommender_id": recommender_id,
            "name": season.recommender_name(recommender_id),
            "period": filing["period"],
            "review_forms": filing.get("review_forms") or [],
            "exchange": filing.get("exchange"),
            "texts": filing.get("texts") or {},
            "presentation_meeting": filing.get("meeting"),
        } | table_of(filing_figures(filing), filing["kind"], profile, filing.get("typed_rates")))
    # a typed rate is the filer's own: the season's total shows it only where one recommending unit filed
    typed_total = rows[0]["rates"] if len(rows) == 1 else {}
    typed_total = {name: item["value"] for name, item in typed_total.items() if item.get("typed")}
    by_period = sorted(season.work_summaries, key=lambda item: (item["period"]["last_month"], item["period"]["first_month"]))
    summaries = {item["recommender_id"]: item for item in by_period}
    return {
        "season_id": season_id,
        "organizer": season.season.get("organizer"),
        "organizer_name": season.season.get("organizer_name"),
        "kind": kind,
        "profile": profile.ref.model_dump(mode="json") if profile else None,
        "form_title": _statistics_title(profile, kind),
        "items": items_of(kind, profile),
        "recommenders": rows,
        "total": {"recommenders": len(rows)} | table_of(summed(rows), kind, profile, typed_total),
        "work_summaries": [
            {"recommender_id": key, "name": season.recommender_name(key), "period": item["period"],
             "characters": item.get("characters"), "activities": item.get("activities")}
            for key, item in sorted(summaries.items())
        ],
    }


# ---------------------------------------------------------------- recommendation summary (推荐表 / 评审汇总表)


def recommendation_summary(season: SeasonRecords, season_id: str, recommender_id: str) -> Report:
    rows, judges = [], {}
    filler: dict[str, Any] = {}
    # in entry order, so that which of two equal judges or fillers is shown never depends on the fold order
    for review in season.recommended_by().get(recommender_id, []):
        item = review["recommendation"]
        for judge in item.get("judges") or []:
            judges[judge["certificate_no"]] = judge
        if item.get("filled_on") and item["filled_on"] >= filler.get("filled_on", ""):
            filler = {key: item.get(key) for key in ("filled_by", "phone", "filled_on")} | {
                "declaration": item.get("declaration"), "declaration_text": item.get("declaration_text")}
        rows.append({
            "entry_id": item["entry_id"],
            "channel": item["channel"],
            "unit_name": item.get("unit_name"),
            "credit_code": item.get("credit_code"),
            "entry_name": item.get("entry_name"),
            "kind": item.get("kind"),
            "type": item.get("qc_type") or item.get("team_type"),
            "type_label": type_label(item.get("kind"), item.get("qc_type") or item.get("team_type")),
            "size": item.get("team_size"),
            "conformance": item.get("conformance"),
            "features": item.get("features"),
            "shortcomings": item.get("shortcomings"),
            "score": item.get("score"),
            "rank": item.get("rank"),
            "judges": [judge["name"] for judge in item.get("judges") or []],
            "opinion": item.get("opinion"),
            "grade": (review.get("grade") or {}).get("grade_label"),
        })
    rows.sort(key=lambda row: (row["rank"] is None, row["rank"] or 0, row["entry_id"]))
    return {
        "season_id": season_id,
        "recommender_id": recommender_id,
        "recommender_name": season.recommender_name(recommender_id),
        "kind": season.kind,
        "entries": rows,
        "total_size": sum(row["size"] or 0 for row in rows),
        "judges": [judges[key] for key in sorted(judges)],
        "filled_by": filler.get("filled_by"),
        "phone": filler.get("phone"),
        "filled_on": filler.get("filled_on"),
        "declaration": filler.get("declaration"),
        "declaration_text": filler.get("declaration_text") or _declaration_of(season),
    }


def _declaration_of(season: SeasonRecords) -> str | None:
    """The 推荐声明 of the season's 推荐表 (its form profile), for a summary without a recommendation yet."""
    profile = season_profile_of(season.season)
    return profile.declaration_text if profile else None


def recommenders_with_summaries(season: SeasonRecords) -> list[str]:
    """Every recommending unit of the season (registered, or named by a recommendation)."""
    named = {
        review["recommendation"]["recommender_id"]
        for review in season.reviews.values()
        if review.get("recommendation") and review["recommendation"].get("recommender_id")
    }
    return sorted(set(season.recommenders) | named)


# ---------------------------------------------------------------- judge workload


def judge_workload(season: SeasonRecords, season_id: str) -> Report:
    work: dict[str, dict[str, Any]] = {}
    rounds = [code for code, _, _ in season_rounds(season)]

    def judge_row(judge_id: str) -> dict[str, Any]:
        if judge_id not in work:
            judge = season.judges.get(judge_id) or {}
            work[judge_id] = {
                "judge_id": judge_id,
                "name": judge.get("name"),
                "work_unit": judge.get("work_unit"),
                "certificate_no": judge.get("certificate_no"),
                "recommender_id": judge.get("recommender_id"),
                "stages": {stage: {"assigned": 0, "scored": 0} for stage in rounds},
                "to_score": 0,
                "revisions": 0,
            }
        return work[judge_id]

    for judge_id in season.judges:
        judge_row(judge_id)
    for (entry_id, stage), assignment in season.assignments.items():
        scored = season.scores.get((entry_id, stage), {})
        for judge_id in assignment["judge_ids"]:
            row = judge_row(judge_id)
            row["stages"][stage]["assigned"] += 1
            if judge_id not in scored:
                row["to_score"] += 1
    for sheets in season.scores.values():
        for judge_id, score in sheets.items():
            row = judge_row(judge_id)
            row["stages"][score["stage"]]["scored"] += 1
            row["revisions"] += score.get("revisions", 0)
    rows = [work[key] for key in sorted(work)]
    return {
        "season_id": season_id,
        "rounds": [{"code": code, "label": label} for code, label, _ in season_rounds(season)],
        "judges": rows,
        "total": {
            "judges": len(rows),
            "assigned": sum(row["stages"][stage]["assigned"] for row in rows for stage in rounds),
            "scored": sum(row["stages"][stage]["scored"] for row in rows for stage in rounds),
            "to_score": sum(row["to_score"] for row in rows),
        },
    }


def _statistics_title(profile: FormProfile | None, kind: str | None) -> str | None:
    form = STATISTICS_FORMS.get(kind or "")
    spec = profile.form(form) if profile and form else None
    return spec.title if spec else None
