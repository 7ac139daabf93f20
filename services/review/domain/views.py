"""What review knows of seasons, entries, recommending units and judges: plain data from its own projection.

The HTTP layer reads them from review's read model (fed by registration.events and submission.events)
and hands them to the synchronous commands; review never asks another service.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from contracts.codes import ActivityKind, Channel, QcAchievementType, RecommenderCategory, Stage
from contracts.common import Window
from contracts.profiles import FormProfile
from contracts.recommended import RECOMMENDATION_DECLARATION
from contracts.registered import (
    FORMAL_REVIEW,
    GradeBand,
    ProvinceQuota,
    QuotaRule,
    ReviewRound,
    Rubric,
    default_quota,
    rounds_of_v2,
)
from contracts.scored import ReviewStage
from contracts.season_profile import channel_label, profile_of_document, season_profile
from contracts.submitted import EntryStatus
from infra.errors import Conflict
from infra.windows import SEASON_TIME_ZONE, check_labelled_window_open, check_window_open


def _valid(model: Any, raw: Any) -> Any:
    try:
        return model.model_validate(raw)
    except ValidationError:
        return None


def _rounds_of(document: Mapping[str, Any]) -> dict[str, Any]:
    """The declared rounds with their changed windows (SeasonWindowChanged.round) applied; none for an older season."""
    changed = {code: window for code, raw in (document.get("round_windows") or {}).items()
               if (window := _valid(Window, raw)) is not None}
    rounds = []
    for raw in document.get("rounds") or []:
        item = _valid(ReviewRound, raw)
        if item is not None:
            rounds.append(item.model_copy(update={"window": changed[item.code]}) if item.code in changed else item)
    formal_review = changed.get(FORMAL_REVIEW) or _valid(Window, document.get("formal_review"))
    return {"rounds": tuple(rounds), "formal_review": formal_review,
            "grade_not_advanced": bool(document.get("grade_not_advanced"))}


@dataclass(frozen=True)
class SeasonView:
    season_id: str
    organizer: str
    kind: ActivityKind
    year: int
    windows: Mapping[str, Window] = field(default_factory=dict)
    channels: frozenset[str] = frozenset()
    time_zone: str = SEASON_TIME_ZONE
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
    profile: FormProfile | None = None

    @property
    def declaration_text(self) -> str:
        """The 推荐声明 of the season's 推荐表 (its form profile; Shanghai's for seasons opened before profiles)."""
        return (self.profile or season_profile(self.kind, None)).declaration_text or RECOMMENDATION_DECLARATION

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> "SeasonView":
        windows = {
            stage: window
            for stage, raw in (document.get("windows") or {}).items()
            if (window := _valid(Window, raw)) is not None  # an unreadable window counts as missing
        }
        kind = ActivityKind(document["kind"])
        return cls(
            season_id=document["season_id"],
            organizer=document["organizer"],
            kind=kind,
            year=int(document.get("year") or document["season_id"].split("-")[1]),
            windows=windows,
            channels=frozenset(document.get("channels") or []),
            time_zone=document.get("time_zone") or SEASON_TIME_ZONE,
            quota=_valid(QuotaRule, document.get("quota")) or default_quota(kind),
            rubrics=tuple(item for raw in document.get("rubrics") or [] if (item := _valid(Rubric, raw))),
            grade_bands=tuple(item for raw in document.get("grade_bands") or [] if (item := _valid(GradeBand, raw))),
            stage_weights={
                stage: Decimal(str(value)) for stage, value in (document.get("stage_weights") or {}).items()
            },
            **_rounds_of(document),
            filings_before_recommending=bool(document.get("filings_before_recommending")),
            province_quota=_valid(ProvinceQuota, document["province_quota"]) if document.get("province_quota") else None,
            profile=profile_of_document(document),
        )

    def check_window_open(self, stage: Stage, now: datetime, field: str = "season_id") -> None:
        check_window_open(self.windows, stage, now, season_id=self.season_id, field=field, time_zone=self.time_zone)

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

    def check_channel(self, channel: Channel) -> None:
        if self.channels and channel.value not in self.channels:
            profile = self.profile or season_profile(self.kind, None)
            offered = ", ".join(
                channel_label(Channel(item), profile) for item in sorted(self.channels) if item in Channel._value2member_map_
            )
            raise Conflict(
                "channel",
                "season.channel",
                f"season {self.season_id} does not take part through {channel_label(channel, profile)}; "
                f"it offers: {offered}",
            )

    def offers(self, channel: Channel) -> bool:
        return not self.channels or channel.value in self.channels

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

    @classmethod
    def from_document(cls, document: Mapping[str, Any], unit: Mapping[str, Any] | None = None) -> "EntryView":
        names = tuple(
            dict.fromkeys(
                item for item in (document.get("unit_name"), *((unit or {}).get(key) for key in ("unit_name", "short_name")))
                if item
            )
        )
        return cls(
            season_id=document["season_id"],
            entry_id=document["entry_id"],
            credit_code=document["credit_code"],
            unit_name=document["unit_name"],
            name=document.get("name") or document["entry_id"],
            kind=ActivityKind(document["kind"]),
            version=int(document.get("form_version") or document.get("version") or 1),
            status=EntryStatus(document.get("status") or EntryStatus.SUBMITTED.value),
            recommender_id=document.get("recommender_id") or (unit or {}).get("recommender_id") or None,
            qc_type=QcAchievementType(document["qc_type"]) if document.get("qc_type") else None,
            team_type=document.get("team_type") or None,
            team_size=document.get("team_size"),
            unit_names=names,
            unit_member=(unit or {}).get("member"),
            unit_nature=(unit or {}).get("unit_nature"),
            unit_key_domain=(unit or {}).get("key_domain"),
        )

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

    @classmethod
    def from_document(cls, document: Mapping[str, Any], filed: frozenset[str] = frozenset()) -> "RecommenderView":
        return cls(
            recommender_id=document["recommender_id"],
            name=document.get("name") or document["recommender_id"],
            category=RecommenderCategory(document["category"]),
            quota=_valid(QuotaRule, document.get("quota")) if document.get("quota") else None,
            cancellation_reason=(document.get("cancellation") or {}).get("reason"),
            filed=filed,
        )

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

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> "JudgeView":
        return cls(
            judge_id=document["judge_id"],
            name=document.get("name") or "",
            work_unit=document.get("work_unit") or "",
            certificate_no=document.get("certificate_no") or "",
            work_unit_credit_code=document.get("work_unit_credit_code"),
            recommender_id=document.get("recommender_id"),
        )


STAGES = tuple(ReviewStage)
