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
from contracts.scored import GateMethod
from contracts.common import Window
from contracts.identity import stable_uuid
from contracts.profiles import FormProfile
from contracts.registered import QuotaRule, SeasonOpened
from contracts.review_rounds import FORMAL_REVIEW, GradeBand, ReviewRound, Rubric
from contracts.season_profile import declared_ref, season_profile
from infra.errors import RuleViolation
from infra.windows import check_window_open, shown
from infra.events import current
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
        self.rounds: list[dict[str, Any]] = [item.model_dump(mode="json") for item in opened.rounds]
        self.formal_review: dict[str, Any] | None = (
            opened.formal_review.model_dump(mode="json") if opened.formal_review else None
        )
        self.approved_team_name_suffixes: list[str] = []
        self.profile: dict[str, Any] = declared_ref(opened.kind, opened.profile).model_dump(mode="json")
        self.adjusted_profile: dict[str, Any] | None = None

    @event("SeasonWindowChanged")
    def change_window(self, payload: dict[str, Any], meta: dict[str, Any]) -> None:  # noqa: ARG002
        code = payload.get("round")
        if code is None:
            self.windows[payload["stage"]] = payload["window"]
        elif code == FORMAL_REVIEW:
            self.formal_review = payload["window"]
        else:
            for item in getattr(self, "rounds", []):
                if item["code"] == code:
                    item["window"] = payload["window"]

    def review_rounds(self) -> list[ReviewRound]:
        return [ReviewRound.model_validate(item) for item in getattr(self, "rounds", [])]

    def round_window(self, code: str) -> Window | None:
        """The own window of a review round, or of 形式审查 (formal_review); None when it has none."""
        if code == FORMAL_REVIEW:
            raw = getattr(self, "formal_review", None)
            return Window.model_validate(raw) if raw else None
        item = next((item for item in self.review_rounds() if item.code == code), None)
        return item.window if item else None

    @event("TeamNameSuffixApproved")
    def approve_team_name_suffix(self, payload: dict[str, Any], meta: dict[str, Any]) -> None:  # noqa: ARG002
        self.approved_team_name_suffixes.append(payload["suffix"])

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


NATIONAL_ORGANIZER = "CAQ"

# --- the rules of a season as the organizer opens it ------------------------------------------


def check_season(opened: SeasonOpened) -> None:
    """Every rule a season must meet when it is opened."""
    check_declared_profile(opened.profile, opened.kind)
    profile = season_profile(opened.kind, opened.profile)
    check_windows(opened.windows, opened.year, registration_required=profile.prior_registration_required)
    check_channels(opened.channels)
    check_quota(opened.quota, opened.kind, field="quota")
    check_rubrics(opened.rubrics, opened.kind)
    check_grade_bands(opened.grade_bands)
    check_rounds(opened.rounds, opened.rubrics, opened.year)
    if opened.formal_review is not None:
        check_round_windows({FORMAL_REVIEW: opened.formal_review}, opened.year, field="formal_review")
    check_entries_per_unit(opened)
    check_province_quota(opened)  # national flow (issue 10)


def check_province_quota(opened: SeasonOpened) -> None:
    """全国推荐名额 are the national association's to allot: only a national season (organizer CAQ) carries them."""
    if opened.province_quota is not None and opened.organizer != NATIONAL_ORGANIZER:
        raise RuleViolation(
            "province_quota", "season.province_quota.national_only",
            f"a quota per province belongs to a national season (organizer {NATIONAL_ORGANIZER}); season "
            f"{opened.season_id} is {opened.organizer}'s",
        )


def check_windows(
    windows: Mapping[Stage, Window], year: int, *, field: str = "windows", registration_required: bool = True
) -> None:
    """A registration window where the season's forms ask for a prior 报名 (报名 is optional: Shandong's units
    submit directly); each window near its year; stages follow one another in calendar order."""
    if registration_required and Stage.REGISTRATION not in windows:
        raise RuleViolation(
            f"{field}.registration",
            "season.windows.registration_required",
            "a season whose forms ask for a prior 报名 needs a 报名 (registration) window: units register before "
            "they submit",
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


# --- review rounds (评审轮次) -----------------------------------------------------------------


def check_rounds(rounds: list[ReviewRound], rubrics: list[Rubric], year: int, *, rubrics_checked: bool = True) -> None:
    """Rounds with codes of their own, known scoring forms, windows near the year, in order; a gate leads somewhere.

    Windows may overlap (Shanghai teams 2024: 评价 7–8月 and 发布 8月; Shanghai 2020: 文审 to 08-10 and the
    发表赛 in August); a later round only never opens before an earlier one.
    """
    rubric_codes = {rubric.code for rubric in rubrics}
    for position, item in enumerate(rounds):
        field = f"rounds.{position}"
        if item.code == FORMAL_REVIEW:
            raise RuleViolation(
                f"{field}.code", "season.rounds.code_reserved",
                f"{FORMAL_REVIEW} is 形式审查, which has a window of its own (formal_review), not a round",
            )
        if any(other.code == item.code for other in rounds[:position]):
            raise RuleViolation(f"{field}.code", "season.rounds.code_unique", f"two review rounds have the code {item.code}")
        if rubrics_checked and item.rubric is not None and item.rubric not in rubric_codes:
            raise RuleViolation(
                f"{field}.rubric", "season.rounds.rubric_unknown",
                f"the round {item.label} ({item.code}) names the scoring form {item.rubric}, which the season does not "
                "list in its rubrics",
            )
        if item.gate is not None:
            check_gate(item, field, last=position == len(rounds) - 1)
        if item.window is not None:
            check_round_windows({item.code: item.window}, year, field=f"{field}.window")
            earlier = next((other for other in reversed(rounds[:position]) if other.window is not None), None)
            if earlier is not None and earlier.window is not None and item.window.opens_at < earlier.window.opens_at:
                raise RuleViolation(
                    f"{field}.window.opens_at", "season.rounds.order",
                    f"the round {item.label} ({item.code}) may not open ({shown(item.window.opens_at)}) before the "
                    f"earlier round {earlier.label} ({earlier.code}) opens ({shown(earlier.window.opens_at)}), "
                    "Asia/Shanghai",
                )
    weights = {item.code: item.weight for item in rounds if item.weight is not None}
    if weights and not any(weight > 0 for weight in weights.values()):
        raise RuleViolation(
            "rounds", "season.stage_weights.all_zero",
            "at least one review round needs a weight above zero in the combined score (成果等级)",
        )


def check_gate(item: ReviewRound, field: str, *, last: bool) -> None:
    gate = item.gate
    assert gate is not None
    if last:
        raise RuleViolation(
            f"{field}.gate", "season.rounds.gate_last",
            f"the round {item.label} ({item.code}) is a gate, and no round follows it for the entries it advances",
        )
    if gate.top_n is not None and gate.method not in (None, GateMethod.TOP_N):
        raise RuleViolation(f"{field}.gate.top_n", "season.rounds.gate_inconsistent",
                            "a number of entries (top_n) goes with the method top_n (按名次) only")
    if gate.threshold is not None and gate.method not in (None, GateMethod.THRESHOLD):
        raise RuleViolation(f"{field}.gate.threshold", "season.rounds.gate_inconsistent",
                            "a score threshold goes with the method threshold (按分数线) only")
    if gate.top_n is not None and gate.threshold is not None:
        raise RuleViolation(f"{field}.gate", "season.rounds.gate_inconsistent",
                            "a gate advances by top_n or by a threshold, not both")


def check_round_windows(windows: Mapping[str, Window], year: int, *, field: str) -> None:
    for code, window in windows.items():
        for edge, instant in (("opens_at", window.opens_at), ("closes_at", window.closes_at)):
            if not year - 1 <= instant.astimezone(SHANGHAI).year <= year + 1:
                raise RuleViolation(
                    f"{field}.{edge}", "season.windows.year",
                    f"the {code} window of a {year} season must lie within {year - 1} to {year + 1}; "
                    f"{edge} is {shown(instant)} Asia/Shanghai",
                )
def check_entries_per_unit(opened: SeasonOpened) -> None:
    """A 申报 limit per unit below the recommendation minimum per unit would make the minimum unreachable."""
    limit = opened.entries_per_unit_max
    if limit is not None and limit < opened.quota.per_unit_min:
        raise RuleViolation(
            "entries_per_unit_max",
            "season.entries_per_unit.below_quota_min",
            f"a unit may submit at most {limit} entries, fewer than the {opened.quota.per_unit_min} per unit the "
            "quota asks recommending units to recommend",
        )
