"""A season (组织方 × 年度 × 活动类型): its stage windows, channels, quota rule, scoring forms and grades."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, cast
from uuid import UUID
from zoneinfo import ZoneInfo

from eventsourcing.domain import Aggregate, event

from contracts.codes import PARTICIPATION_CHANNELS, ActivityKind, Channel, QcAchievementType, Stage
from contracts.common import Window
from contracts.identity import stable_uuid
from contracts.profiles import FormProfile
from contracts.registered import GradeBand, QuotaRule, Rubric, SeasonOpened
from contracts.season_profile import declared_ref, season_profile
from infra.errors import RuleViolation
from infra.windows import check_window_open, shown
from services.registration.domain.events import current
from services.registration.domain.season_profile import check_declared_profile

SHANGHAI = ZoneInfo("Asia/Shanghai")
STAGE_ORDER = list(Stage)


def season_aggregate_id(season_id: str) -> UUID:
    return stable_uuid("season", season_id)


class Season(Aggregate):
    """Opened once by its organizer; every later change to it is an event too."""

    @staticmethod
    def create_id(payload: dict[str, Any], meta: dict[str, Any]) -> UUID:  # noqa: ARG004
        return season_aggregate_id(payload["season_id"])

    @event("SeasonOpened")
    def __init__(self, payload: dict[str, Any], meta: dict[str, Any]) -> None:
        opened = cast(SeasonOpened, current("SeasonOpened", payload, meta))
        self.season_id: str = opened.season_id
        self.organizer: str = opened.organizer
        self.kind: str = opened.kind.value
        self.year: int = opened.year
        self.windows: dict[str, dict[str, Any]] = {
            stage.value: window.model_dump(mode="json") for stage, window in opened.windows.items()
        }
        self.channels: list[str] = [channel.value for channel in opened.channels]
        self.quota: dict[str, Any] = opened.quota.model_dump(mode="json")
        self.profile: dict[str, Any] = declared_ref(opened.kind, opened.profile).model_dump(mode="json")
        self.adjusted_profile: dict[str, Any] | None = None

    @event("SeasonWindowChanged")
    def change_window(self, payload: dict[str, Any], meta: dict[str, Any]) -> None:  # noqa: ARG002
        self.windows[payload["stage"]] = payload["window"]

    @event("SeasonProfileAdjusted")
    def adjust_profile(self, payload: dict[str, Any], meta: dict[str, Any]) -> None:  # noqa: ARG002
        self.adjusted_profile = payload["profile"]
        self.profile = {"profile_id": payload["profile"]["profile_id"], "version": payload["profile"]["version"]}

    @property
    def form_profile(self) -> FormProfile:
        return season_profile(self.kind, self.profile, self.adjusted_profile)

    def window(self, stage: Stage) -> Window | None:
        raw = self.windows.get(stage.value)
        return Window.model_validate(raw) if raw else None

    def all_windows(self) -> dict[Stage, Window]:
        return {Stage(stage): Window.model_validate(raw) for stage, raw in self.windows.items()}

    @property
    def quota_rule(self) -> QuotaRule:
        return QuotaRule.model_validate(self.quota)

    def has_channel(self, channel: Channel) -> bool:
        return channel.value in self.channels

    def check_window_open(self, stage: Stage, now: datetime, field: str) -> None:
        """Refuse an action outside the stage's window, naming the window and its instants."""
        check_window_open(self.all_windows_by_code(), stage, now, season_id=self.season_id, field=field)

    def all_windows_by_code(self) -> dict[str, Window]:
        return {stage: Window.model_validate(raw) for stage, raw in self.windows.items()}


# --- the rules of a season as the organizer opens it ------------------------------------------


def check_season(opened: SeasonOpened) -> None:
    """Every rule a season must meet when it is opened."""
    check_windows(opened.windows, opened.year)
    check_channels(opened.channels)
    check_quota(opened.quota, opened.kind, field="quota")
    check_rubrics(opened.rubrics, opened.kind)
    check_grade_bands(opened.grade_bands)
    check_stage_weights(opened.stage_weights)
    check_declared_profile(opened.profile, opened.kind)


def check_windows(windows: Mapping[Stage, Window], year: int, *, field: str = "windows") -> None:
    """A registration window; each window near its year; stages follow one another in calendar order."""
    if Stage.REGISTRATION not in windows:
        raise RuleViolation(
            f"{field}.registration",
            "season.windows.registration_required",
            "a season needs a 报名 (registration) window: units register before they submit",
        )
    for stage, window in windows.items():
        for edge, instant in (("opens_at", window.opens_at), ("closes_at", window.closes_at)):
            if not year - 1 <= instant.astimezone(SHANGHAI).year <= year + 1:
                raise RuleViolation(
                    f"{field}.{stage.value}.{edge}",
                    "season.windows.year",
                    f"the {stage.label} window of a {year} season must lie within {year - 1} to {year + 1}; "
                    f"{edge} is {shown(instant)} Asia/Shanghai",
                )
    present = [stage for stage in STAGE_ORDER if stage in windows]
    for position, later in enumerate(present):
        for earlier in reversed(present[:position]):  # the nearest earlier stage is named first
            first, second = windows[earlier], windows[later]
            if second.opens_at < first.opens_at:
                raise RuleViolation(
                    f"{field}.{later.value}.opens_at",
                    "season.windows.order",
                    f"the {later.label} ({later.value}) window may not open ({shown(second.opens_at)}) before the "
                    f"{earlier.label} ({earlier.value}) window opens ({shown(first.opens_at)}), Asia/Shanghai",
                )
            if second.closes_at < first.closes_at:
                raise RuleViolation(
                    f"{field}.{later.value}.closes_at",
                    "season.windows.order",
                    f"the {later.label} ({later.value}) window may not close ({shown(second.closes_at)}) before the "
                    f"{earlier.label} ({earlier.value}) window closes ({shown(first.closes_at)}), Asia/Shanghai",
                )


def check_channels(channels: list[Channel]) -> None:
    for position, channel in enumerate(channels):
        if channel not in PARTICIPATION_CHANNELS:
            allowed = "、".join(f"{item.value} ({item.label})" for item in Channel if item in PARTICIPATION_CHANNELS)
            raise RuleViolation(
                f"channels.{position}",
                "season.channels.participation",
                f"{channel.value} is not a channel units take part through; choose from {allowed}",
            )
        if channel in channels[:position]:
            raise RuleViolation(
                f"channels.{position}", "season.channels.duplicate", f"the channel {channel.label} is listed twice"
            )


def check_quota(quota: QuotaRule, kind: ActivityKind | str, *, field: str) -> None:
    kind = ActivityKind(kind)
    if quota.per_unit_min > quota.per_unit_max:
        raise RuleViolation(
            f"{field}.per_unit_min",
            "season.quota.min_above_max",
            f"the quota's minimum per unit ({quota.per_unit_min}) is above its maximum ({quota.per_unit_max})",
        )
    if quota.per_type_max and kind is not ActivityKind.QC_GROUP:
        raise RuleViolation(
            f"{field}.per_type_max",
            "season.quota.per_type_for_qc_only",
            "limits per 课题类型 (问题解决型/创新型) apply to QC group seasons only",
        )
    for achievement_type, limit in quota.per_type_max.items():
        if limit > quota.per_unit_max:
            raise RuleViolation(
                f"{field}.per_type_max.{achievement_type.value}",
                "season.quota.type_above_unit",
                f"at most {limit} {achievement_type.label} per unit is more than the {quota.per_unit_max} "
                "allowed per unit in all",
            )
    if quota.distinct_team_types and kind is not ActivityKind.TEAM:
        raise RuleViolation(
            f"{field}.distinct_team_types",
            "season.quota.distinct_types_for_teams_only",
            "班组类型有所差异 (different team types) applies to team seasons only",
        )


def check_rubrics(rubrics: list[Rubric], kind: ActivityKind | str) -> None:
    kind = ActivityKind(kind)
    covered: dict[tuple[str | None, str | None], str] = {}
    for position, rubric in enumerate(rubrics):
        field = f"rubrics.{position}"
        if any(other.code == rubric.code for other in rubrics[:position]):
            raise RuleViolation(f"{field}.code", "season.rubric.code_unique", f"two scoring forms have the code {rubric.code}")
        codes = [criterion.code for criterion in rubric.criteria]
        for index, code in enumerate(codes):
            if code in codes[:index]:
                raise RuleViolation(
                    f"{field}.criteria.{index}.code",
                    "season.rubric.criterion_code_unique",
                    f"the scoring form {rubric.label} lists the criterion {code} twice",
                )
        if rubric.achievement_types and kind is not ActivityKind.QC_GROUP:
            raise RuleViolation(
                f"{field}.achievement_types",
                "season.rubric.achievement_types_for_qc_only",
                "课题类型 (问题解决型/创新型) apply to QC group seasons only",
            )
        review_form = rubric.review_form.value if rubric.review_form else None
        types = [item.value for item in rubric.achievement_types] or (
            [item.value for item in QcAchievementType] if kind is ActivityKind.QC_GROUP else [None]
        )
        for achievement_type in types:
            clash = covered.get((review_form, achievement_type))
            if clash:
                raise RuleViolation(
                    field,
                    "season.rubric.overlap",
                    f"the scoring forms {clash} and {rubric.code} both score the same entries in the same review form",
                )
            covered[(review_form, achievement_type)] = rubric.code


def check_stage_weights(weights: Mapping[str, Decimal]) -> None:
    """Weights given must leave some stage counting: all zero would make every combined score zero."""
    if weights and not any(weight > 0 for weight in weights.values()):
        raise RuleViolation(
            "stage_weights",
            "season.stage_weights.all_zero",
            "at least one review stage needs a weight above zero in the combined score (成果等级)",
        )


def check_grade_bands(bands: list[GradeBand]) -> None:
    for position, band in enumerate(bands):
        if any(other.code == band.code for other in bands[:position]):
            raise RuleViolation(
                f"grade_bands.{position}.code", "season.grade_bands.code_unique", f"two grades have the code {band.code}"
            )
        if position and band.min_score >= bands[position - 1].min_score:
            above = bands[position - 1]
            raise RuleViolation(
                f"grade_bands.{position}.min_score",
                "season.grade_bands.order",
                f"grades are listed from the highest: {band.label} (from {band.min_score}) must need a lower score "
                f"than {above.label} (from {above.min_score})",
            )
