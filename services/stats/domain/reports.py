"""Stats' reports: pure functions of the records, joined across aggregates only here.

Every report is plain JSON (numbers of money and rates as decimal strings), with its lists sorted by
stable keys, so the same records give the same report whatever order the events were folded in.
Sums are exact decimals; rates are re-derived from summed numerators and denominators (never averaged)
with the same formulas and rounding as a single filing's (contracts.submitted.derived_rates_of).
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from contracts.codes import ActivityKind, KeyDomain, KeyIndustry, QcAchievementType, UnitNature
from contracts.scored import ReviewStage
from contracts.profiles import FormProfile
from contracts.submitted import RATE_FIGURES, RATE_FORMULAS, rate
from services.stats.domain.national_intake import is_national, national_intake, with_national_counts
from services.stats.domain.records import Record, is_province
from services.stats.domain.statistics_layout import (
    ITEMS,
    STATISTICS_FORMS,
    in_pieces,
    items_of,
    rates_of,
    season_profile_of,
)

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


def _label(enum: Any, code: str | None) -> str | None:
    try:
        return enum(code).label
    except ValueError:
        return code


def type_label(kind: str | None, code: str | None) -> str | None:
    return _label(QcAchievementType, code) if kind == ActivityKind.QC_GROUP.value else code


@dataclass
class SeasonRecords:
    """A season's records sorted out by what they hold; the joins the reports need."""

    season: Record = field(default_factory=dict)
    registrations: list[Record] = field(default_factory=list)
    recommenders: dict[str, Record] = field(default_factory=dict)
    quota_raised: dict[str, Record] = field(default_factory=dict)
    judges: dict[str, Record] = field(default_factory=dict)
    entries: dict[str, Record] = field(default_factory=dict)
    reviews: dict[str, Record] = field(default_factory=dict)
    assignments: dict[tuple[str, str], Record] = field(default_factory=dict)
    scores: dict[tuple[str, str], dict[str, Record]] = field(default_factory=dict)
    statistics: list[Record] = field(default_factory=list)
    work_summaries: list[Record] = field(default_factory=list)
    noticed: set[str] = field(default_factory=set)
    certificates: int = 0
    organizer: str | None = None
    # a province's facts from its feed, by entry id; its quarantined records; which records came through a feed
    provincial_recommendations: dict[str, Record] = field(default_factory=dict)
    provincial_results: dict[str, Record] = field(default_factory=dict)
    quarantines: list[Record] = field(default_factory=list)
    fed_registrations: int = 0
    fed_entries: set[str] = field(default_factory=set)
    _recommended_by: dict[str, list[Record]] | None = None
    progress: dict[str, set[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, records: Iterable[Record]) -> SeasonRecords:
        season = cls()
        for record in records:
            season.organizer = season.organizer or record.get("organizer")
            if "season" in record:
                season.season = record["season"]
            if "registration" in record:
                season.registrations.append(record["registration"])
            if "recommender" in record:
                season.recommenders[record["recommender"]["recommender_id"]] = record["recommender"]
            season.quota_raised.update(record.get("quota_raised") or {})
            if "judge" in record:
                season.judges[record["judge"]["judge_id"]] = record["judge"]
            if "entry" in record:
                season.entries[record["entry"]["entry_id"]] = record["entry"] | {"status": record["entry_status"]}
            if "review" in record:
                season.reviews[record["review"]["entry_id"]] = record["review"]
            if "assignment" in record:
                assignment = record["assignment"]
                season.assignments[(assignment["entry_id"], assignment["stage"])] = assignment
            if "score" in record:
                score = record["score"]
                season.scores.setdefault((score["entry_id"], score["stage"]), {})[score["judge_id"]] = score
            if "statistics" in record:
                season.statistics.append(record["statistics"])
            if "work_summary" in record:
                season.work_summaries.append(record["work_summary"])
            season.noticed.update(record.get("noticed") or [])
            season.certificates += record.get("certificates", 0)
            season._add_fed(record)
        season.registrations.sort(key=lambda item: (item.get("credit_code") or "", item.get("unit_name") or ""))
        return season

    def _add_fed(self, record: Record) -> None:
        if "provincial_recommendation" in record:
            self.provincial_recommendations[record["provincial_recommendation"]["entry_id"]] = record["provincial_recommendation"]
        if "provincial_result" in record:
            self.provincial_results[record["provincial_result"]["entry_id"]] = record["provincial_result"]
        if "quarantine" in record:
            self.quarantines.append(record["quarantine"])
        if record.get("fed"):
            self.fed_registrations += "registration" in record
            if "entry" in record:
                self.fed_entries.add(record["entry"]["entry_id"])

    def entry_ids(self) -> list[str]:
        """Every entry the season's records name: submitted, reviewed, or recommended or graded by the province."""
        return sorted(set(self.entries) | set(self.reviews) | set(self.provincial_recommendations)
                      | set(self.provincial_results))

    def feed_counts(self) -> dict[str, int]:
        """What came through the province's feed: registrations and (not withdrawn) entries, and its quarantine."""
        live_fed = sum(self.entries[entry_id]["status"] != "withdrawn" for entry_id in self.fed_entries)
        still_open = sum(not item.get("resolved") for item in self.quarantines)
        return {"fed_registrations": self.fed_registrations, "fed_entries": live_fed,
                "quarantined_open": still_open, "quarantined_resolved": len(self.quarantines) - still_open}

    @property
    def known(self) -> bool:
        return bool(self.season)

    @property
    def kind(self) -> str | None:
        return self.season.get("kind")

    def recommender_name(self, recommender_id: str | None) -> str | None:
        return (self.recommenders.get(recommender_id or "") or {}).get("name")

    def recommended_by(self) -> dict[str, list[Record]]:
        """The reviews with a recommendation, per recommending unit, in entry order (computed once)."""
        if self._recommended_by is None:
            grouped: dict[str, list[Record]] = {}
            for entry_id in sorted(self.reviews):
                review = self.reviews[entry_id]
                if review.get("recommendation"):
                    grouped.setdefault(review["recommendation"].get("recommender_id"), []).append(review)
            self._recommended_by = grouped
        return self._recommended_by

    def latest_statistics(self) -> dict[str, Record]:
        """Per recommending unit, its filing of the latest period (earlier periods are history)."""
        latest: dict[str, Record] = {}
        for filing in sorted(self.statistics, key=lambda item: (item["period"]["last_month"], item["period"]["first_month"])):
            latest[filing["recommender_id"]] = filing
        return latest


# ---------------------------------------------------------------- overview


def _counted(counter: Counter, enum: Any) -> list[dict[str, Any]]:
    return [{"code": code, "label": _label(enum, code), "count": count} for code, count in sorted(counter.items())]


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
        "kind_label": _label(ActivityKind, info.get("kind")),
        "registrations": len(season.registrations),
        "registrations_by_unit_nature": _counted(natures, UnitNature),
        "registrations_by_key_domain": _counted(domains, KeyDomain),
        "registrations_by_key_industry": _counted(industries, KeyIndustry),
        "entries": len(live_entries),
        "entries_by_kind_and_type": [
            {"kind": kind, "kind_label": _label(ActivityKind, kind), "type": type_, "type_label": type_label(kind, type_),
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


# ---------------------------------------------------------------- national view


def province_totals(season: SeasonRecords, season_id: str) -> dict[str, Any]:
    """One province's season: what its units registered and entered (through its feed or directly), what was
    recommended and graded (the national platform's own steps and the province's facts from its feed, each
    entry counted once in `recommended` / `graded` / `published`), and its feed's quarantine."""
    platform_recommended = {key for key, review in season.reviews.items() if review.get("recommendation")}
    platform_graded = {key for key, review in season.reviews.items() if review.get("grade")}
    platform_published = {key for key, review in season.reviews.items() if review.get("certificate_no")}
    provincial_recommended = set(season.provincial_recommendations)
    provincial_results = set(season.provincial_results)
    feeds = season.feed_counts()
    registrations = len(season.registrations)
    entries = sum(entry["status"] != "withdrawn" for entry in season.entries.values())
    return {
        "organizer": season.season.get("organizer") or season.organizer,
        "organizer_name": season.season.get("organizer_name"),
        "season_id": season_id,
        "kind": season.kind,
        "registrations": registrations,
        "fed_registrations": feeds["fed_registrations"],
        "direct_registrations": registrations - feeds["fed_registrations"],
        "entries": entries,
        "fed_entries": feeds["fed_entries"],
        "direct_entries": entries - feeds["fed_entries"],
        "recommended": len(platform_recommended | provincial_recommended),
        "platform_recommended": len(platform_recommended),
        "provincial_recommended": len(provincial_recommended),
        "graded": len(platform_graded | provincial_results),
        "provincial_results": len(provincial_results),
        "published": len(platform_published | provincial_results),
        "quarantined_open": feeds["quarantined_open"],
        "quarantined_resolved": feeds["quarantined_resolved"],
        "provincial_results_by_grade": provincial_grades(season),
    }


COUNTED = (
    "registrations", "fed_registrations", "direct_registrations", "entries", "fed_entries", "direct_entries",
    "recommended", "platform_recommended", "provincial_recommended", "graded", "provincial_results", "published",
    "quarantined_open", "quarantined_resolved",
)


def national_key(season: SeasonRecords) -> str | None:
    """The national view a season rolls up into (its year), if it is a province's season or a national one."""
    info = season.season
    if info and (is_province(info.get("organizer")) or is_national(season)) and info.get("year"):
        return str(info["year"])
    return None


def national_overview(year: str, seasons: dict[str, SeasonRecords]) -> Report:
    """Per province and kind: registrations and entries (of them through a feed), recommended and graded (of them
    the provinces' facts), published, the feeds' quarantine; totals per kind and in all."""
    rows = sorted(
        (province_totals(season, season_id) for season_id, season in seasons.items()),
        key=lambda row: (row["organizer"] or "", row["kind"] or "", row["season_id"]),
    )
    by_kind = []
    for kind in sorted({row["kind"] for row in rows if row["kind"]}):
        of_kind = [row for row in rows if row["kind"] == kind]
        by_kind.append({"kind": kind, "kind_label": _label(ActivityKind, kind), "provinces": len(of_kind)}
                       | {name: sum(row[name] for row in of_kind) for name in COUNTED})
    return {
        "year": int(year),
        "provinces": rows,
        "by_kind": by_kind,
        "total": {"provinces": len({row["organizer"] for row in rows})}
        | {name: sum(row[name] for row in rows) for name in COUNTED},
    }


def national_statistics(year: str, seasons: dict[str, SeasonRecords]) -> Report:
    """The national 统计表 per kind: each province's (summed from its recommending units) and the nation's,
    the rates re-derived from the summed figures."""
    tables = []
    for kind in sorted({season.kind for season in seasons.values() if season.kind}):
        provinces = []
        for season_id, season in sorted(seasons.items(), key=lambda item: (item[1].season.get("organizer"), item[0])):
            if season.kind != kind:
                continue
            statistics = season_statistics(season, season_id)
            profile = season_profile_of(season.season)
            provinces.append({
                "organizer": season.season.get("organizer"),
                "organizer_name": season.season.get("organizer_name"),
                "season_id": season_id,
                "recommenders": statistics["total"]["recommenders"],
                "rates": statistics["total"]["rates"],
                "figures": dict(sorted(in_pieces(statistics["total"]["figures"], profile, kind).items())),
            })
        tables.append({
            "kind": kind,
            "kind_label": _label(ActivityKind, kind),
            "items": [{"key": key, "label": label, "unit": unit} for key, label, unit in ITEMS[kind]],
            "provinces": provinces,
            "total": {"provinces": len(provinces), "figures": dict(sorted(summed(provinces).items())),
                      "rates": national_rates(provinces, kind)},
        })
    return {"year": int(year), "tables": tables}


def national_rates(provinces: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    """The nation's rates re-derived from the provinces' figures; a province whose form types a rate in (and so
    files no figures behind it) counts in neither its numerator nor its denominator."""
    if kind != ActivityKind.QC_GROUP.value:
        return {}
    rates = {}
    for name, (numerator, denominator) in RATE_FIGURES.items():
        counted = [row["figures"] for row in provinces
                   if row["figures"].get(numerator) is not None and not row["rates"].get(name, {}).get("typed")]
        rates[name] = rate(sum(int(Decimal(str(item.get(numerator) or 0))) for item in counted),
                           sum(int(Decimal(str(item.get(denominator) or 0))) for item in counted),
                           RATE_FORMULAS[name]).model_dump(mode="json")
    return rates


def _statistics_title(profile: FormProfile | None, kind: str | None) -> str | None:
    form = STATISTICS_FORMS.get(kind or "")
    spec = profile.form(form) if profile and form else None
    return spec.title if spec else None


# ---------------------------------------------------------------- entries


ENTRY_BUCKETS = 16


def entry_bucket(entry_id: str) -> int:
    """Which of a season's entry documents holds an entry: a stable hash, so a request reads one small document."""
    return zlib.crc32(entry_id.encode()) % ENTRY_BUCKETS


def entry_lines(season: SeasonRecords, season_id: str) -> dict[int, Report]:
    """Each entry's line in the reports (who, which recommending unit, how far, its scores and grade), in
    ENTRY_BUCKETS documents; every bucket is written, empty or not."""
    buckets: dict[int, Report] = {index: {"season_id": season_id, "entries": {}} for index in range(ENTRY_BUCKETS)}
    rounds = [code for code, _, _ in season_rounds(season)]
    for entry_id in season.entry_ids():
        entry = season.entries.get(entry_id) or {}
        review = season.reviews.get(entry_id) or {}
        recommendation = review.get("recommendation") or {}
        reached = entry_progress(season, entry_id)
        stages = {}
        for stage in rounds:
            assignment = season.assignments.get((entry_id, stage))
            scored = season.scores.get((entry_id, stage), {})
            stages[stage] = {"judges": len(assignment["judge_ids"]) if assignment else 0, "scored": len(scored),
                             "blocked": (assignment or {}).get("blocked")}
        buckets[entry_bucket(entry_id)]["entries"][entry_id] = {
            "entry_id": entry_id,
            "kind": entry.get("kind") or recommendation.get("kind"),
            "type": entry.get("type") or recommendation.get("qc_type") or recommendation.get("team_type"),
            "unit_name": entry.get("unit_name") or recommendation.get("unit_name"),
            "credit_code": entry.get("credit_code") or recommendation.get("credit_code"),
            "name": entry.get("name") or recommendation.get("entry_name"),
            "recommender_id": recommendation.get("recommender_id") or entry.get("recommender_id"),
            "channel": recommendation.get("channel"),
            "status": entry.get("status"),
            "progress": [code for code, _ in PROGRESS if code in reached],
            "formal_review": review.get("formal_review"),
            "stages": stages,
            **({"rounds": review["rounds"]} if review.get("rounds") else {}),
            "grade": review.get("grade"),
            "objections": review.get("objections") or {},
            "certificate_no": review.get("certificate_no"),
            "national": review.get("national"),
            "fed": entry_id in season.fed_entries,
            "provincial_recommendation": season.provincial_recommendations.get(entry_id),
            "provincial_result": season.provincial_results.get(entry_id),
        }
    return buckets


# ---------------------------------------------------------------- all of them


def season_reports(season: SeasonRecords, season_id: str) -> dict[str, Report]:
    """Every report of one season, by document key (per recommending unit for the recommendation summary)."""
    reports = {
        "overview": season_overview(season, season_id),
        "statistics": season_statistics(season, season_id),
        "judge-workload": judge_workload(season, season_id),
    }
    for bucket, lines in entry_lines(season, season_id).items():
        reports[f"entries/{bucket}"] = lines
    for recommender_id in recommenders_with_summaries(season):
        reports[f"recommendation-summary/{recommender_id}"] = recommendation_summary(season, season_id, recommender_id)
    if is_national(season):  # national flow (issue 10): per province, what was sent, accepted and graded
        reports["provinces"] = national_intake(season, season_id)
    return reports


def national_reports(year: str, seasons: dict[str, SeasonRecords]) -> dict[str, Report]:
    # national flow (issue 10): the provinces' rows, with what each sent to the national seasons of the year
    provinces = {key: season for key, season in seasons.items() if is_province(season.season.get("organizer"))}
    nationals = {key: season for key, season in seasons.items() if key not in provinces}
    overview = with_national_counts(national_overview(year, provinces), nationals)
    return {"overview": overview, "statistics": national_statistics(year, provinces)}


def season_ids_by_year(seasons: dict[str, SeasonRecords]) -> dict[str, dict[str, SeasonRecords]]:
    years: dict[str, dict[str, SeasonRecords]] = {}
    for season_id, season in seasons.items():
        year = national_key(season)
        if year is not None:
            years.setdefault(year, {})[season_id] = season
    return years


def reports_for(records_by_season: dict[str, dict[str, Record]], changed: Iterable[str] | None = None) -> dict[str, Report]:
    """The report documents, by id, of the seasons given (every season when None) and of the national years
    they roll up into; a rebuild compares every one of them."""
    if changed is None:
        reports: dict[str, Report] = {}
        for part in reports_in_parts(records_by_season):
            reports.update(part)
        return reports
    wanted = set(changed) & set(records_by_season)
    seasons = {season_id: SeasonRecords.of(records_by_season[season_id].values()) for season_id in sorted(wanted)}
    reports = {}
    for season_id, season in seasons.items():
        reports.update(_season_documents(season, season_id))
    years = {national_key(season) for season in seasons.values()} - {None}
    if years:
        everyone = {
            season_id: seasons.get(season_id) or SeasonRecords.of(records.values())
            for season_id, records in records_by_season.items()
        }
        reports.update(_national_documents(everyone, years))
    return reports


def reports_in_parts(records_by_season: dict[str, dict[str, Record]]) -> Iterator[dict[str, Report]]:
    """Every report document, a season's at a time and the national ones last, so that a rebuild can
    write one part while it computes the next."""
    seasons: dict[str, SeasonRecords] = {}
    for season_id in sorted(records_by_season):
        seasons[season_id] = SeasonRecords.of(records_by_season[season_id].values())
        yield _season_documents(seasons[season_id], season_id)
    yield _national_documents(seasons, None)


def _season_documents(season: SeasonRecords, season_id: str) -> dict[str, Report]:
    if not season.known:
        return {}
    return {f"season/{season_id}/{name}": report for name, report in season_reports(season, season_id).items()}


def _national_documents(seasons: dict[str, SeasonRecords], years: set[str] | None) -> dict[str, Report]:
    reports: dict[str, Report] = {}
    for year, of_year in season_ids_by_year(seasons).items():
        if years is None or year in years:
            reports.update({f"national/{year}/{name}": report for name, report in national_reports(year, of_year).items()})
    return reports
