"""A season's review process as its SeasonOpened declares it: the review rounds (评审轮次) and their gates, the
scoring forms (评分表) and the grade bands (等级); part of the `registered` family's payloads."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, Field, StringConstraints, WithJsonSchema
from pydantic_core import PydanticCustomError

from contracts.codes import QcAchievementType, ReviewForm
from contracts.common import Payload, Window
from contracts.scored import GateMethod, ReviewStage

# Codes chosen by organizers (rubric criteria, grade bands, recommender ids): plain ASCII,
# never a dot, so they are safe as document keys and in URLs.
Code = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]


def _positive_points(value: int) -> int:
    if value <= 0:
        raise PydanticCustomError(
            "season.rubric.max_points_positive", "a criterion's maximum points must be positive, not {value}",
            {"value": value},
        )
    return value


Points = Annotated[
    int,
    Field(le=1000),
    AfterValidator(_positive_points),
    WithJsonSchema({"type": "integer", "exclusiveMinimum": 0, "maximum": 1000}),
]


class RubricCriterion(Payload):
    """One line of a scoring form: what is scored and its maximum points."""

    code: Code
    label: str = Field(min_length=1, max_length=100)
    max_points: Points
    description: str | None = Field(default=None, max_length=1000)


class Rubric(Payload):
    """A scoring form (评分表), e.g. a T/CAQ10201-2020 成果评审表, for one review form and achievement types."""

    code: Code
    label: str = Field(min_length=2, max_length=100)
    standard: str | None = Field(default=None, max_length=50, description="e.g. T/CAQ10201-2020")
    review_form: ReviewForm | None = None
    achievement_types: list[QcAchievementType] = Field(
        default_factory=list, description="QC seasons: the 课题类型 this form scores; empty for every type"
    )
    criteria: list[RubricCriterion] = Field(min_length=1, max_length=50)

    @property
    def total(self) -> int:
        return sum(item.max_points for item in self.criteria)


class GradeBand(Payload):
    """A grade (等级, e.g. 标杆级) reached from a minimum score; bands are listed from the highest."""

    code: Code
    label: str = Field(min_length=1, max_length=50)
    min_score: Decimal = Field(ge=0, le=1000, decimal_places=2)


FORMAL_REVIEW = "formal_review"  # 形式审查: a window of its own, changed like a round's (SeasonWindowChanged.round)
Weight = Annotated[Decimal, Field(ge=0, le=100, decimal_places=4)]


class GateRule(Payload):
    """How a gate round lets entries go on to the next round: its top N, a score threshold, or the organizer's choice.

    The season may fix the method and its number; the organizer's request to advance gives what the season
    leaves open (e.g. N), and may not contradict what it fixes.
    """

    method: GateMethod | None = Field(default=None, description="left out, the organizer chooses when advancing")
    top_n: int | None = Field(default=None, ge=1, le=10000, description="按名次: how many entries go on")
    threshold: Decimal | None = Field(default=None, ge=0, le=1000, decimal_places=2, description="按分数线: the minimum score")


class ReviewRound(Payload):
    """One review round at the organizer (初审/文审, 发表赛, 现场评审, 典型经验视频 …), in the season's order."""

    code: Code = Field(description="e.g. initial_review, presentation, on_site, video")
    label: str = Field(min_length=1, max_length=50, description="its Chinese label as the notice prints it, e.g. 初审")
    review_form: ReviewForm | None = Field(
        default=None, description="评审形式: picks the scoring form (评分表) of that form; left out, any form's"
    )
    rubric: Code | None = Field(default=None, description="the code of the season's scoring form for this round")
    window: Window | None = Field(default=None, description="left out, the season's 评审 (review) window")
    judges_per_entry: int | None = Field(
        default=None, ge=1, le=15, description="judges per entry in the round; left out, the platform's default (5)"
    )
    weight: Weight | None = Field(
        default=None,
        description="its weight in the grade (成果等级); when no round has one, the rounds scored count equally",
    )
    assign_on_entry: bool = Field(
        default=True,
        description="judges are assigned when an entry enters the round (after formal review or a gate); "
        "otherwise the secretariat assigns them by hand",
    )
    gate: GateRule | None = Field(default=None, description="a gate: only the entries it advances take the next round")
    one_entry_per_unit: bool = Field(
        default=False,
        description="a judge may not score two entries of the same unit in this round; left out, no such limit",
    )


def rounds_of_v2(
    stage_weights: dict[str, Any] | None, judges_per_entry: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """The two rounds every season had before rounds were declared: 文审, then 发表赛, both in the 评审 window.

    Judges were assigned automatically for 文审 and by hand for 发表赛; the weights and judges per entry
    were the season's per stage.
    """
    weights = stage_weights or {}
    judges = judges_per_entry or {}
    return [
        {
            "code": stage.value,
            "label": stage.label,
            "review_form": form,
            "judges_per_entry": judges.get(stage.value),
            "weight": str(weights[stage.value]) if stage.value in weights else None,
            "assign_on_entry": stage is ReviewStage.MATERIAL_REVIEW,
        }
        for stage, form in ((ReviewStage.MATERIAL_REVIEW, ReviewForm.MATERIAL.value),
                            (ReviewStage.PRESENTATION, ReviewForm.PRESENTATION.value))
    ]
