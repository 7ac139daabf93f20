"""The bodies of registration's commands that are not event payloads: what an organizer fills in."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import Field

from contracts.codes import ActivityKind, Channel, QcAchievementType, Stage
from contracts.common import Payload, Window
from contracts.identity import RegionCode
from contracts.profiles import ProfileRef
from contracts.registered import ProvinceQuota, QuotaRule
from contracts.review_rounds import GradeBand, ReviewRound, Rubric
from contracts.scored import ReviewStage
from infra.errors import RuleViolation
from services.registration.domain.season import check_stage_weights


class OpenSeasonRequest(Payload):
    """What an organizer fills in to open a season; the season id follows from organizer, year and kind."""

    organizer: RegionCode
    organizer_name: str = Field(min_length=2, max_length=100)
    year: int = Field(ge=2000, le=2100)
    kind: ActivityKind
    title: str = Field(min_length=2, max_length=200)
    windows: dict[Stage, Window]
    channels: list[Channel] = Field(min_length=1, max_length=10)
    quota: QuotaRule | None = Field(default=None, description="the kind's quota from the notices when left out")
    rubrics: list[Rubric] = Field(default_factory=list, max_length=20)
    grade_bands: list[GradeBand] = Field(default_factory=list, max_length=10)
    stage_weights: dict[ReviewStage, Annotated[Decimal, Field(ge=0, le=100, decimal_places=4)]] = Field(
        default_factory=dict, description="weights of 文审 and 发表赛 in the combined score, e.g. 0.4 and 0.6"
    )
    judges_per_entry: dict[ReviewStage, Annotated[int, Field(ge=1, le=15)]] = Field(
        default_factory=dict, description="judges per entry and stage; the platform's default (5) where left out"
    )
    # --- review rounds ---
    formal_review: Window | None = Field(default=None, description="形式审查: its own window (e.g. by 07-20)")
    rounds: list[ReviewRound] | None = Field(
        default=None, min_length=1, max_length=10,
        description="the review rounds in their order (初审, 发表赛 …); left out, 文审 then 发表赛 with the stage "
        "weights and judges per entry above",
    )
    grade_not_advanced: bool = Field(
        default=False, description="entries a gate did not advance are graded from the rounds they took part in"
    )

    def season_fields(self) -> dict[str, Any]:
        """The SeasonOpened fields: rounds as given, or the two rounds of the stage weights and judges per entry."""
        if self.rounds is not None and (self.stage_weights or self.judges_per_entry):
            field = "stage_weights" if self.stage_weights else "judges_per_entry"
            raise RuleViolation(
                field, "season.rounds.with_stage_fields",
                f"{field} is given per round when the season declares its rounds (rounds.N.weight, "
                "rounds.N.judges_per_entry)",
            )
        check_stage_weights(self.stage_weights)
        exclude = {"rounds"} if self.rounds is None else {"stage_weights", "judges_per_entry"}
        return self.model_dump(mode="json", exclude=exclude)  # SeasonOpened makes rounds of the stage fields
    # --- end of review rounds ---
    filings_before_recommending: bool = Field(
        default=False, description="基础性条件: 统计表 and 工作总结 filed before a recommending unit recommends"
    )
    entries_per_unit_max: int | None = Field(
        default=None, ge=1, le=50, description="申报 limit per participating unit (teams 2024: 2-3); none when left out"
    )
    province_quota: ProvinceQuota | None = Field(
        default=None, description="national seasons: how many entries each province may recommend (全国推荐名额)"
    )
    profile: ProfileRef | None = Field(
        default=None, description="a built-in form profile (GET /profiles); Shanghai's of the kind when left out"
    )


class WindowChangeRequest(Window):
    """A stage's new window, and why it changes (e.g. 申报截止时间延长)."""

    reason: str = Field(min_length=2, max_length=500)


class CancellationRequest(Payload):
    """取消推荐资格: why the recommending unit loses its right to recommend (e.g. it charged fees)."""

    reason: str = Field(min_length=2, max_length=500)


class TeamNameSuffixRequest(Payload):
    """A further ending of team names for a team season (车间, 站, 队 …), and why."""

    suffix: str = Field(min_length=1, max_length=4, pattern=r"^[\u4e00-\u9fff]{1,4}$", title="班组名称结尾")
    reason: str = Field(min_length=2, max_length=500)


class QuotaRaiseRequest(Payload):
    """A larger quota for one recommending unit; what is left out stays as it is."""

    per_unit_max: int | None = Field(default=None, ge=1, le=50)
    per_type_max: dict[QcAchievementType, Annotated[int, Field(ge=0, le=50)]] | None = None
    reason: str = Field(min_length=2, max_length=500)
