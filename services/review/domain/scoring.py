"""Scores by the season's rubric, one per judge per stage, and the grade they lead to.

- A judge scores an entry only if assigned to it for that stage (JudgesAssigned), never with a
  conflict of interest (the entry's own work unit; the recommending unit's panel or the judges who
  scored it on the 推荐表), only while the review window is open, and never above a criterion's
  maximum points.
- A stage's score is the mean of its judges' totals; with 5 or more judges the highest and the
  lowest total are dropped first (trimmed mean). The combined score weights the rounds the entry took
  part in as the season says (services/review/domain/rounds.py: the rounds' weights; equal weights when
  it says nothing). Rounded half up to 2 places, exact decimals throughout.
- The grade is the highest band (listed from the highest) whose minimum the combined score reaches.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from contracts.codes import QcAchievementType
from contracts.identity import stable_uuid
from contracts.review_rounds import GradeBand, ReviewRound, Rubric
from contracts.scored import ScoreSheet, StageResult
from infra.errors import Conflict, NotPermitted, RuleViolation
from contracts.names import name_key
from services.review.domain.inbound import EntryView, JudgeView, SeasonView

HUNDREDTH = Decimal("0.01")
TRIM_FROM = 5  # judges: with this many or more, the highest and the lowest total are dropped


def score_id(season_id: str, entry_id: str, stage: str, judge_id: str) -> UUID:
    """One per judge, entry and round (a season opened before rounds: its stages' codes, so the ids stay)."""
    return stable_uuid("score", season_id, entry_id, str(getattr(stage, "value", stage)), judge_id)


class Score(Aggregate):
    """One judge's score of one entry in one stage; a revision replaces it, with its reason."""

    @staticmethod
    def create_id(payload: dict[str, Any], meta: dict[str, Any]) -> UUID:  # noqa: ARG004
        return score_id(payload["season_id"], payload["entry_id"], payload["stage"], payload["judge_id"])

    @event("ScoreRecorded")
    def __init__(self, payload: dict[str, Any], meta: dict[str, Any]) -> None:  # noqa: ARG002
        self.season_id: str = payload["season_id"]
        self.entry_id: str = payload["entry_id"]
        self.judge_id: str = payload["judge_id"]
        self.stage: str = payload["stage"]
        self.criteria: dict[str, str] = payload["criteria"]
        self.total = Decimal(payload["total"])
        self.revisions = 0

    def revise(self, payload: dict[str, Any], meta: dict[str, Any]) -> None:
        """A revision changes some criterion's points; the earlier score stays in the history."""
        if _points(payload["criteria"]) == _points(self.criteria):
            raise RuleViolation("criteria", "score.revision.unchanged",
                                "the revision gives the same points for every criterion; nothing to revise")
        self._revise(payload=payload, meta=meta)

    @event("ScoreRevised")
    def _revise(self, payload: dict[str, Any], meta: dict[str, Any]) -> None:  # noqa: ARG002
        self.criteria = payload["criteria"]
        self.total = Decimal(payload["total"])
        self.revisions += 1


def _points(criteria: Mapping[str, Any]) -> dict[str, Decimal]:
    return {code: Decimal(str(points)) for code, points in criteria.items()}


def judge_round_id(season_id: str, judge_id: str, stage: str) -> UUID:
    return stable_uuid("judge-round", season_id, judge_id, stage)


class JudgeRound(Aggregate):
    """The units whose entries one judge scored in one round (bookkeeping, not published): kept for a round that
    lets a judge score one entry per unit (`ReviewRound.one_entry_per_unit`)."""

    @staticmethod
    def create_id(season_id: str, judge_id: str, stage: str) -> UUID:
        return judge_round_id(season_id, judge_id, stage)

    @event("JudgeRoundOpened")
    def __init__(self, season_id: str, judge_id: str, stage: str) -> None:
        self.season_id = season_id
        self.judge_id = judge_id
        self.stage = stage
        self.entry_of_unit: dict[str, str] = {}

    def score_once_per_unit(self, entry_id: str, credit_code: str, round_label: str) -> None:
        """A judge may not score two entries of the same unit in one round."""
        scored = self.entry_of_unit.get(credit_code)
        if scored is not None and scored != entry_id:
            raise Conflict(
                "entry_id", "score.judge.one_entry_per_unit",
                f"judge {self.judge_id} already scored entry {scored} of unit {credit_code} in {round_label}; in this "
                "round a judge scores one entry of a unit",
            )
        self._scored(entry_id=entry_id, credit_code=credit_code)

    @event("EntryScored")
    def _scored(self, entry_id: str, credit_code: str) -> None:
        self.entry_of_unit[credit_code] = entry_id


def rounded(value: Decimal) -> Decimal:
    return value.quantize(HUNDREDTH, rounding=ROUND_HALF_UP)


# ---------------------------------------------------------------- rules of a score sheet


def rubric_for(season: SeasonView, entry: EntryView, stage: ReviewRound) -> Rubric:
    """The round's own scoring form if it names one; else the season's form for the round's review form and the
    entry's 课题类型, one made for the review form beating a general one."""
    form = stage.review_form

    def fits(rubric: Rubric) -> bool:
        types: list[QcAchievementType] = rubric.achievement_types
        if stage.rubric is not None:
            return rubric.code == stage.rubric
        return (form is None or rubric.review_form in (form, None)) and (not types or entry.qc_type in types)

    candidates = sorted((rubric for rubric in season.rubrics if fits(rubric)), key=lambda rubric: rubric.review_form is None)
    if not candidates:
        raise Conflict(
            "stage",
            "score.rubric.missing",
            f"season {season.season_id} has no scoring form (评分表) for {stage.label}"
            + (f" ({form.label})" if form else "")
            + (f" of {entry.qc_type.label} entries" if entry.qc_type else "")
            + "; the organizer adds its rubrics to the season",
        )
    return candidates[0]


def check_sheet(rubric: Rubric, sheet: ScoreSheet) -> Decimal:
    """Every criterion of the rubric scored, none unknown, none above its maximum; the total."""
    maxima = {criterion.code: criterion for criterion in rubric.criteria}
    for code in sheet.criteria:
        if code not in maxima:
            raise RuleViolation(
                f"criteria.{code}",
                "score.criterion.unknown",
                f"the scoring form {rubric.label} has no criterion {code}; its criteria are " + ", ".join(maxima),
            )
    missing = [code for code in maxima if code not in sheet.criteria]
    if missing:
        raise RuleViolation(
            f"criteria.{missing[0]}",
            "score.criteria.incomplete",
            f"every criterion of {rubric.label} is scored; missing: "
            + ", ".join(f"{code} ({maxima[code].label})" for code in missing),
        )
    for code, points in sheet.criteria.items():
        criterion = maxima[code]
        if points > criterion.max_points:
            raise RuleViolation(
                f"criteria.{code}",
                "score.criterion.above_max",
                f"{criterion.label} ({code}) is scored out of {criterion.max_points} points; {points} is above its maximum",
            )
    return sum(sheet.criteria.values(), Decimal(0))


def check_assigned(judge_id: str, assigned: frozenset[str] | None, entry_id: str, stage: ReviewRound) -> None:
    if assigned is None or judge_id not in assigned:
        whom = "no judges are assigned yet" if not assigned else f"its judges are {', '.join(sorted(assigned))}"
        raise NotPermitted(
            "judge_id",
            "score.judge.not_assigned",
            f"judge {judge_id} is not assigned to entry {entry_id} for {stage.label} ({stage.code}); {whom}",
        )


def conflict_of(
    judge: JudgeView, entry: EntryView, recommender_id: str | None, recommendation_certificates: list[str]
) -> tuple[str, str] | None:
    """The conflict of interest that keeps the judge off the entry, as (rule suffix, explanation), or None."""
    if judge.work_unit_credit_code and judge.work_unit_credit_code.upper() == entry.credit_code.upper():
        return "own_work_unit", f"the judge's work unit is the entry's unit ({entry.credit_code})"
    if name_key(judge.work_unit) and name_key(judge.work_unit) in {name_key(name) for name in entry.unit_names}:
        return "own_work_unit", f"the judge works at {judge.work_unit}, the entry's unit"
    if judge.recommender_id and recommender_id and judge.recommender_id == recommender_id:
        return "recommender_panel", f"the judge sits on the panel of {recommender_id}, which recommended the entry"
    if judge.certificate_no and judge.certificate_no in recommendation_certificates:
        return "recommender_panel", "the judge scored the entry for its recommending unit (named on the 推荐表)"
    return None


def check_no_conflict(
    judge: JudgeView, entry: EntryView, recommender_id: str | None, certificates: list[str], prefix: str
) -> None:
    conflict = conflict_of(judge, entry, recommender_id, certificates)
    if conflict:
        suffix, why = conflict
        raise Conflict(
            "judge_id",
            f"{prefix}.conflict.{suffix}",
            f"judge {judge.judge_id} ({judge.name}) has a conflict of interest with entry {entry.entry_id}: {why}; "
            "a judge never scores an entry of his or her own work unit or recommending unit",
        )


# ---------------------------------------------------------------- aggregation and grade


def stage_result(stage: str, totals: Mapping[str, Decimal]) -> StageResult:
    """The stage's score: trimmed mean with 5 or more judges (highest and lowest dropped), plain mean below."""
    ordered = sorted(totals.items(), key=lambda item: (item[1], item[0]))
    dropped: list[str] = []
    counted = ordered
    method = "mean"
    if len(ordered) >= TRIM_FROM:
        dropped = [ordered[0][0], ordered[-1][0]]
        counted = ordered[1:-1]
        method = "trimmed_mean"
    mean = sum((value for _, value in counted), Decimal(0)) / Decimal(len(counted))
    return StageResult(stage=stage, method=method, totals=dict(totals), dropped=dropped, score=rounded(mean))


def combined_score(results: Mapping[str, StageResult], weights: Mapping[str, Decimal]) -> Decimal:
    total_weight = sum(weights.values(), Decimal(0))
    weighted = sum((results[stage].score * weight for stage, weight in weights.items()), Decimal(0))
    return rounded(weighted / total_weight)


def band_for(bands: tuple[GradeBand, ...], score: Decimal) -> GradeBand | None:
    """The highest band whose minimum the score reaches (bands are listed from the highest)."""
    return next((band for band in bands if score >= band.min_score), None)
