"""The `scored` family: which judges review an entry, their scores per stage, and the resulting grade."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field

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


@contract("ScoreRecorded", family=FAMILY, version=1)
class ScoreRecorded(Payload):
    season_id: str
    entry_id: str
    judge_id: str
    stage: str = Field(pattern=r"^(material_review|presentation)$")
    criteria: dict[str, Decimal]
    total: Decimal = Field(ge=0)
    reason: str | None = Field(default=None, max_length=500)


@contract("EntryGraded", family=FAMILY, version=1)
class EntryGraded(Payload):
    season_id: str
    entry_id: str
    combined_score: Decimal = Field(ge=0)
    grade: str = Field(min_length=1, max_length=20)
