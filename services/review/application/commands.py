"""Review's commands: what each use case is asked to do, named, with what review's projection knows handed in."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from contracts.published import Approval, NationalRecommendation, Objection, ObjectionDecision
from contracts.recommended import DirectAcceptance, FormalReviewDecision, RecommendationForm, Resubmission, Revocation
from contracts.scored import GateDecision, ScoreSheet
from services.review.domain.inbound import EntryView, JudgeView, RecommenderView, SeasonView


@dataclass(frozen=True)
class Recommend:
    """推荐通道: a recommending unit recommends one of its units' entries with the 推荐表."""

    season: SeasonView
    entry: EntryView
    recommender: RecommenderView
    unit_entries: Mapping[str, EntryView]  # the unit's entries in the season, for its quota
    judges_by_certificate: Mapping[str, JudgeView]
    form: RecommendationForm


@dataclass(frozen=True)
class AcceptDirectly:
    """The secretariat accepts an entry of the direct channel."""

    season: SeasonView
    entry: EntryView
    direct: RecommenderView | None
    unit_entries: Mapping[str, EntryView]
    acceptance: DirectAcceptance


@dataclass(frozen=True)
class Revoke:
    season: SeasonView
    entry_id: str
    revocation: Revocation


@dataclass(frozen=True)
class DecideFormalReview:
    season: SeasonView
    entry: EntryView
    decision: FormalReviewDecision


@dataclass(frozen=True)
class Resubmit:
    season: SeasonView
    entry: EntryView
    resubmission: Resubmission


@dataclass(frozen=True)
class AssignJudges:
    """The secretariat assigns (or replaces) an entry's judges for a round by hand."""

    season: SeasonView
    entry: EntryView
    stage: str
    judge_ids: list[str]
    judges: Mapping[str, JudgeView]  # the season's judges by id


@dataclass(frozen=True)
class RecordScore:
    season: SeasonView
    entry: EntryView
    judge: JudgeView
    stage: str
    sheet: ScoreSheet


@dataclass(frozen=True)
class ReviseScore:
    season: SeasonView
    entry: EntryView
    judge: JudgeView
    stage: str
    sheet: ScoreSheet
    reason: str


@dataclass(frozen=True)
class Grade:
    season: SeasonView
    entry_id: str


@dataclass(frozen=True)
class DecideGate:
    """A gate round decided once; `in_review` are the season's entries in review as the projection knows them."""

    season: SeasonView
    round_code: str
    decision: GateDecision
    in_review: list[str]


@dataclass(frozen=True)
class Approve:
    """指导单位审定; `graded` are the season's graded entries as the projection knows them."""

    season: SeasonView
    approval: Approval
    graded: list[str]


@dataclass(frozen=True)
class OpenNotice:
    season: SeasonView
    approved: list[str]


@dataclass(frozen=True)
class FileObjection:
    season: SeasonView
    entry_id: str
    objection: Objection


@dataclass(frozen=True)
class ResolveObjection:
    season: SeasonView
    entry_id: str
    objection_id: str
    decision: ObjectionDecision


@dataclass(frozen=True)
class Publish:
    season: SeasonView


@dataclass(frozen=True)
class RecommendNationally:
    season: SeasonView
    entry: EntryView
    recommendation: NationalRecommendation
    national_season: SeasonView | None
