"""The `scored` family: which judges review an entry, their scores per stage, and the resulting grade.

Scores are exact decimals (at most 2 places); aggregates are rounded half up to 2 places, never
through floats. The rules (maximum points, assignments, conflicts of interest, windows) are the
review service's domain.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from contracts.codes import LabelledEnum
from contracts.common import Payload
from contracts.registry import contract

FAMILY = "scored"


class ReviewStage(LabelledEnum):
    """The two scored stages at the organizer: material review by the expert panel, and the presentation contest."""

    MATERIAL_REVIEW = "material_review", "文审"
    PRESENTATION = "presentation", "发表赛"


@contract("JudgesAssigned", family=FAMILY, version=1)
class JudgesAssigned(Payload):
    """The judges who review one entry in one stage; the source of truth for who may score it.

    Recorded by the review service's `Assignment` aggregate (one per entry and stage), automatically
    after `FormalReviewPassed` or by the secretariat by hand. A later assignment of the same entry and
    stage replaces the earlier one.
    """

    season_id: str = Field(min_length=1, max_length=64)
    entry_id: str = Field(min_length=1, max_length=64)
    stage: ReviewStage
    judge_ids: list[str] = Field(min_length=1, max_length=50)
    assigned_by: str = Field(min_length=1, max_length=200, description="who assigned: an actor id, or the assigner")


@contract("AssignmentBlocked", family=FAMILY, version=1)
class AssignmentBlocked(Payload):
    """An entry could not be given its judges for a stage: too few judges without a conflict of interest.

    Recorded instead of `JudgesAssigned`, so the entry is never left without judges silently; the
    secretariat registers more judges (the assignment is retried then) or assigns by hand.
    """

    season_id: str = Field(min_length=1, max_length=64)
    entry_id: str = Field(min_length=1, max_length=64)
    stage: ReviewStage
    reason: str = Field(pattern=r"^[a-z][a-z0-9_.]{0,63}$", description="a rule id, e.g. assignment.not_enough_judges")
    message: str = Field(min_length=2, max_length=1000)
    judges_required: int = Field(ge=1, le=50)
    judges_eligible: int = Field(ge=0)
    judges_conflicted: int = Field(ge=0, description="judges of the entry's own work unit or its recommending unit's panel")


def _points(value: Decimal) -> Decimal:
    if not value.is_finite() or value < 0:
        raise PydanticCustomError("score.criterion.negative", "points are a number from 0 up; {value} is not",
                                  {"value": str(value)})
    if value.as_tuple().exponent < -2:  # type: ignore[operator]
        raise PydanticCustomError("score.precision", "points have at most 2 decimal places; {value} has more",
                                  {"value": str(value)})
    return value


Points = Annotated[Decimal, AfterValidator(_points), Field(json_schema_extra={"minimum": 0})]
CriterionCode = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]


class ScoreSheet(Payload):
    """One judge's scoring form (评分表) for one entry and stage: points per criterion of the season's rubric."""

    criteria: dict[CriterionCode, Points] = Field(min_length=1, max_length=50, title="各评分项得分")
    comment: str | None = Field(default=None, max_length=2000, title="评语")


class ScoreFields(ScoreSheet):
    season_id: str = Field(min_length=1, max_length=64)
    entry_id: str = Field(min_length=1, max_length=64)
    judge_id: str = Field(min_length=1, max_length=64)
    stage: ReviewStage
    rubric: str = Field(min_length=1, max_length=40, description="the rubric's code")
    total: Points = Field(title="总分")


@contract("ScoreRecorded", family=FAMILY, version=1)
class ScoreRecorded(ScoreFields):
    """A judge's score for an entry in a stage: one per judge per stage."""


@contract("ScoreRevised", family=FAMILY, version=1)
class ScoreRevised(ScoreFields):
    """The judge's score replaced, with the reason; the earlier score stays in the history."""

    previous_total: Points
    reason: str = Field(min_length=2, max_length=500, title="修改原因")


class StageResult(Payload):
    """How one stage's score was reached from the judges' totals."""

    stage: ReviewStage
    method: Literal["trimmed_mean", "mean"] = Field(
        description="trimmed_mean: with 5 or more judges the highest and the lowest total are dropped"
    )
    totals: dict[str, Points] = Field(description="every scoring judge's total, the dropped ones included")
    dropped: list[str] = Field(default_factory=list, description="the judges whose totals were dropped")
    score: Points = Field(description="the mean, rounded half up to 2 places")


@contract("EntryGraded", family=FAMILY, version=1)
class EntryGraded(Payload):
    """成果等级: the stages' scores combined by the season's weights, and the grade band reached."""

    season_id: str
    entry_id: str
    stages: list[StageResult] = Field(min_length=1)
    weights: dict[ReviewStage, Decimal]
    combined_score: Points
    grade: str | None = Field(default=None, max_length=40, description="the band's code; none below every band")
    grade_label: str | None = Field(default=None, max_length=50)


@contract("EntryRegraded", family=FAMILY, version=1)
class EntryRegraded(Payload):
    """A compensating grade after an upheld objection during the public notice."""

    season_id: str
    entry_id: str
    objection_id: str = Field(min_length=1, max_length=40)
    previous_grade: str | None = None
    grade: str = Field(min_length=1, max_length=40)
    grade_label: str = Field(min_length=1, max_length=50)
    combined_score: Points
    reason: str = Field(min_length=2, max_length=1000)
