"""What review knows of seasons, entries, recommending units and judges: plain data from its own projection.

Inbound data: the HTTP layer reads them from review's read model (fed by registration.events and
submission.events; `adapters/documents.py` reads the documents into these values) and hands them to the
synchronous commands; review never asks another service.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from contracts.codes import ActivityKind, QcAchievementType, RecommenderCategory, Stage
from contracts.common import Window
from contracts.recommended import RECOMMENDATION_DECLARATION
from contracts.registered import ProvinceQuota, QuotaRule, default_quota
from contracts.review_rounds import FORMAL_REVIEW, GradeBand, ReviewRound, Rubric, rounds_of_v2
from contracts.scored import ReviewStage
from contracts.submitted import EntryStatus
from infra.seasons import KnownSeason
from infra.windows import check_labelled_window_open


@dataclass(frozen=True, kw_only=True)
class SeasonView(KnownSeason):
    """The season as review checks against: besides what every service knows of it, its year, quotas, scoring
    forms, grade bands and review rounds."""

    year: int
    quota: QuotaRule | None = None
    rubrics: tuple[Rubric, ...] = ()
    grade_bands: tuple[GradeBand, ...] = ()
    stage_weights: Mapping[str, Decimal] = field(default_factory=dict)
    # review rounds: a season opened before rounds has none here, and gets 文审 then 发表赛 from its stage weights
    rounds: tuple[ReviewRound, ...] = ()
    formal_review: Window | None = None
    grade_not_advanced: bool = False

    @property
    def review_rounds(self) -> tuple[ReviewRound, ...]:
        """The season's rounds in their order (the two of a season opened before rounds, from its weights)."""
        if self.rounds:
            return self.rounds
        weights = {stage: str(value) for stage, value in self.stage_weights.items()}
        return tuple(ReviewRound.model_validate(item) for item in rounds_of_v2(weights, None))
    filings_before_recommending: bool = False  # 基础性条件: 统计表 and 工作总结 before recommending
    province_quota: ProvinceQuota | None = None  # national seasons: 全国推荐名额 per province

    @property
    def declaration_text(self) -> str:
        """The 推荐声明 of the season's 推荐表 (its form profile; Shanghai's for seasons opened before profiles)."""
        return self.form_profile.declaration_text or RECOMMENDATION_DECLARATION

    def check_formal_review_period(self, now: datetime, field: str = "season_id") -> None:
        """Formal review runs in its own window where the season gives one (形式审查 by 07-20); otherwise from the
        first recommendations to the end of the review stage (评审)."""
        if self.formal_review is not None:
            check_labelled_window_open(self.formal_review, now, code=FORMAL_REVIEW, label="形式审查",
                                       season_id=self.season_id, field=field, time_zone=self.time_zone)
            return
        recommendation = self.windows.get(Stage.RECOMMENDATION.value)
        if recommendation is not None and recommendation.contains(now):
            return
        self.check_window_open(Stage.REVIEW, now, field)

    @property
    def certificate_prefix(self) -> str:
        return f"{self.year}-{'QC' if self.kind is ActivityKind.QC_GROUP else 'TEAM'}"

    def band(self, code: str) -> GradeBand | None:
        return next((band for band in self.grade_bands if band.code == code), None)


@dataclass(frozen=True)
class EntryView:
    """An entry as submission's events told review: the unit, its recommending unit, kind and type, status."""

    season_id: str
    entry_id: str
    credit_code: str
    unit_name: str
    name: str
    kind: ActivityKind
    version: int
    status: EntryStatus = EntryStatus.SUBMITTED
    recommender_id: str | None = None
    qc_type: QcAchievementType | None = None
    team_type: str | None = None
    team_size: int | None = None
    unit_names: tuple[str, ...] = ()
    # the unit's 报名表 as review knows it (direct-channel eligibility); None where not known
    unit_member: bool | None = None
    unit_nature: str | None = None
    unit_key_domain: str | None = None

    @property
    def withdrawn(self) -> bool:
        return self.status is EntryStatus.WITHDRAWN


@dataclass(frozen=True)
class RecommenderView:
    recommender_id: str
    name: str
    category: RecommenderCategory
    quota: QuotaRule | None = None  # raised by the organizer; the season's otherwise
    cancellation_reason: str | None = None  # RecommenderCancelled: 取消推荐资格
    filed: frozenset[str] = frozenset()  # what it filed with submission: statistics, work_summary

    @property
    def direct(self) -> bool:
        return self.category is RecommenderCategory.DIRECT

    def effective_quota(self, season: SeasonView) -> QuotaRule:
        return self.quota or season.quota or default_quota(season.kind)


@dataclass(frozen=True)
class JudgeView:
    judge_id: str
    name: str
    work_unit: str
    certificate_no: str
    work_unit_credit_code: str | None = None
    recommender_id: str | None = None


STAGES = tuple(ReviewStage)

