"""Review's read-model documents read back into the domain's inbound values: a season, an entry with its unit, a
recommending unit, a judge (what registration's and submission's events told review)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from contracts.codes import ActivityKind, QcAchievementType, RecommenderCategory
from contracts.common import Window
from contracts.registered import ProvinceQuota, QuotaRule, default_quota
from contracts.review_rounds import FORMAL_REVIEW, GradeBand, ReviewRound, Rubric
from contracts.submitted import EntryStatus
from infra.season_documents import readable, season_fields
from services.review.domain.inbound import (
    EntryView,
    JudgeView,
    RecommenderView,
    SeasonView,
)


def season_from_document(document: Mapping[str, Any]) -> SeasonView:
    """The season as review's commands check against (a field it cannot read counts as missing)."""
    fields = season_fields(document)
    kind = fields["kind"]
    return SeasonView(
        **fields,
        year=int(document.get("year") or document["season_id"].split("-")[1]),
        quota=readable(QuotaRule, document.get("quota")) or default_quota(kind),
        rubrics=tuple(item for raw in document.get("rubrics") or [] if (item := readable(Rubric, raw))),
        grade_bands=tuple(item for raw in document.get("grade_bands") or [] if (item := readable(GradeBand, raw))),
        stage_weights={stage: Decimal(str(value)) for stage, value in (document.get("stage_weights") or {}).items()},
        **_rounds_of(document),
        filings_before_recommending=bool(document.get("filings_before_recommending")),
        province_quota=readable(ProvinceQuota, document["province_quota"]) if document.get("province_quota") else None,
    )


def _rounds_of(document: Mapping[str, Any]) -> dict[str, Any]:
    """The declared rounds with their changed windows (SeasonWindowChanged.round) applied; none for an older season."""
    changed = {code: window for code, raw in (document.get("round_windows") or {}).items()
               if (window := readable(Window, raw)) is not None}
    rounds = []
    for raw in document.get("rounds") or []:
        item = readable(ReviewRound, raw)
        if item is not None:
            rounds.append(item.model_copy(update={"window": changed[item.code]}) if item.code in changed else item)
    formal_review = changed.get(FORMAL_REVIEW) or readable(Window, document.get("formal_review"))
    return {"rounds": tuple(rounds), "formal_review": formal_review,
            "grade_not_advanced": bool(document.get("grade_not_advanced"))}


def entry_from_document(document: Mapping[str, Any], unit: Mapping[str, Any] | None = None) -> EntryView:
    """The entry as submission's events told review, with its unit's 报名表 where review knows it."""
    unit = unit or {}
    names = tuple(dict.fromkeys(
        item for item in (document.get("unit_name"), *(unit.get(key) for key in ("unit_name", "short_name"))) if item
    ))
    return EntryView(
        season_id=document["season_id"],
        entry_id=document["entry_id"],
        credit_code=document["credit_code"],
        unit_name=document["unit_name"],
        name=document.get("name") or document["entry_id"],
        kind=ActivityKind(document["kind"]),
        version=int(document.get("form_version") or document.get("version") or 1),
        status=EntryStatus(document.get("status") or EntryStatus.SUBMITTED.value),
        recommender_id=document.get("recommender_id") or unit.get("recommender_id") or None,
        qc_type=QcAchievementType(document["qc_type"]) if document.get("qc_type") else None,
        team_type=document.get("team_type") or None,
        team_size=document.get("team_size"),
        unit_names=names,
        unit_member=unit.get("member"),
        unit_nature=unit.get("unit_nature"),
        unit_key_domain=unit.get("key_domain"),
    )


def recommender_from_document(document: Mapping[str, Any], filed: frozenset[str] = frozenset()) -> RecommenderView:
    return RecommenderView(
        recommender_id=document["recommender_id"],
        name=document.get("name") or document["recommender_id"],
        category=RecommenderCategory(document["category"]),
        quota=readable(QuotaRule, document.get("quota")) if document.get("quota") else None,
        cancellation_reason=(document.get("cancellation") or {}).get("reason"),
        filed=filed,
    )


def judge_from_document(document: Mapping[str, Any]) -> JudgeView:
    return JudgeView(
        judge_id=document["judge_id"],
        name=document.get("name") or "",
        work_unit=document.get("work_unit") or "",
        certificate_no=document.get("certificate_no") or "",
        work_unit_credit_code=document.get("work_unit_credit_code"),
        recommender_id=document.get("recommender_id"),
    )
