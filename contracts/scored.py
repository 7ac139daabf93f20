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
from contracts.common import Payload, decimal_schema
from contracts.registry import contract

FAMILY = "scored"


class ReviewStage(LabelledEnum):
    """The two scored stages of a season opened before review rounds: they are its two rounds' codes.

    A season declares its own rounds (contracts.registered.ReviewRound); these are the codes and labels
    of the rounds an older season gets from its upcaster, 文审 then 发表赛.
    """

    MATERIAL_REVIEW = "material_review", "文审"
    PRESENTATION = "presentation", "发表赛"


# A review round's code, as its season declares it (初审 `initial_review`, 发表赛 `presentation` …). The
# scored events name their round in the field `stage`, as they did when there were two fixed stages:
# every older event's stage is a valid round code.
RoundCode = Annotated[
    str,
    Field(pattern=r"^[a-z][a-z0-9_]{0,39}$", description="the review round's code, as the season declares it"),
]


@contract("JudgesAssigned", family=FAMILY, version=1)
class JudgesAssigned(Payload):
    """The judges who review one entry in one stage; the source of truth for who may score it.

    Recorded by the review service's `Assignment` aggregate (one per entry and stage), automatically
    after `FormalReviewPassed` or by the secretariat by hand. A later assignment of the same entry and
    stage replaces the earlier one.
    """

    season_id: str = Field(min_length=1, max_length=64)
    entry_id: str = Field(min_length=1, max_length=64)
    stage: RoundCode
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
    stage: RoundCode
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


Points = Annotated[Decimal, AfterValidator(_points), decimal_schema({"minimum": 0}, r"^[0-9]+(\.[0-9]{0,2})?$")]
CriterionCode = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]


class ScoreSheet(Payload):
    """One judge's scoring form (评分表) for one entry and stage: points per criterion of the season's rubric."""

    criteria: dict[CriterionCode, Points] = Field(min_length=1, max_length=50, title="各评分项得分")
    comment: str | None = Field(default=None, max_length=2000, title="评语")


class ScoreFields(ScoreSheet):
    season_id: str = Field(min_length=1, max_length=64)
    entry_id: str = Field(min_length=1, max_length=64)
    judge_id: str = Field(min_length=1, max_length=64)
    stage: RoundCode
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

    stage: RoundCode
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
    weights: dict[RoundCode, Decimal]
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


# --- review rounds as gates (晋级) ------------------------------------------------------------


class GateMethod(LabelledEnum):
    """How a gate round decides who goes on to the next round."""

    TOP_N = "top_n", "按名次"
    THRESHOLD = "threshold", "按分数线"
    ORGANIZER_CHOICE = "organizer_choice", "由组织方选定"


class GateOutcome(Payload):
    """What a gate decided for one entry: its round score and rank, and why it did or did not go on."""

    season_id: str = Field(min_length=1, max_length=64)
    entry_id: str = Field(min_length=1, max_length=64)
    stage: RoundCode = Field(description="the gate round")
    stage_label: str = Field(min_length=1, max_length=50, description="the gate round's Chinese label, e.g. 初审")
    method: GateMethod
    score: Points | None = Field(default=None, description="the entry's score in the gate round, if scored")
    rank: int | None = Field(default=None, ge=1, description="its rank among the round's entries, by score")


@contract("EntryAdvanced", family=FAMILY, version=1)
class EntryAdvanced(GateOutcome):
    """The entry goes on from a gate round to the next round (e.g. 通过初审, 参加发表赛)."""

    next_stage: RoundCode
    next_stage_label: str = Field(min_length=1, max_length=50)


@contract("EntryNotAdvanced", family=FAMILY, version=1)
class EntryNotAdvanced(GateOutcome):
    """The entry does not go on from a gate round; the reason is recorded (a rule id and its words)."""

    reason: str = Field(pattern=r"^[a-z][a-z0-9_.]{0,63}$", description="a rule id, e.g. gate.top_n.below")
    message: str = Field(min_length=2, max_length=1000)


class GateDecision(Payload):
    """The organizer's request to decide a gate round: by top N, by a threshold, or the entries chosen.

    What the season fixed for the gate (ReviewRound.gate) applies; the request completes it.
    """

    method: GateMethod | None = None
    top_n: int | None = Field(default=None, ge=1, le=10000, title="晋级名额")
    threshold: Decimal | None = Field(default=None, ge=0, le=1000, decimal_places=2, title="分数线")
    entry_ids: list[Annotated[str, Field(min_length=1, max_length=64)]] | None = Field(
        default=None, max_length=10000, description="organizer_choice: the entries that go on"
    )
    reason: str | None = Field(default=None, min_length=2, max_length=500, title="未晋级原因",
                               description="added to the reason recorded for each entry that does not go on")
