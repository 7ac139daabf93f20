"""Judges and scores (评分): the secretariat's assignment by hand, a judge's score by the season's rubric, its revision."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from eventsourcing.domain import Aggregate

from contracts.review_rounds import ReviewRound
from contracts.scored import JudgesAssigned, ScoreRecorded, ScoreRevised, ScoreSheet
from infra.errors import Conflict, RuleViolation
from infra.eventstore import CommandContext, idempotent, recorded, stamp_in_season
from infra.idempotency import IdempotencyKey
from services.review.application.commands import AssignJudges, RecordScore, ReviseScore
from services.review.application.store import ReviewStore, identity
from services.review.assignment.domain import Assignment, assignment_id
from services.review.domain.entry_review import EntryReview, ReviewProgress
from services.review.domain.rounds import check_assignment_period, check_round_open, check_taken, review_round
from services.review.domain.scoring import (
    JudgeRound,
    Score,
    check_assigned,
    check_no_conflict,
    check_sheet,
    judge_round_id,
    rubric_for,
    score_id,
)
from services.review.domain.inbound import EntryView, JudgeView, SeasonView


class Scoring(ReviewStore):
    """The review window's use cases: who scores an entry in a round, and their scores."""

    @idempotent
    def assign_judges(self, command: AssignJudges, context: CommandContext,
                      idempotency: IdempotencyKey | None = None) -> dict[str, Any]:
        """The secretariat assigns (or replaces) an entry's judges for a round by hand."""
        season, entry, judge_ids = command.season, command.entry, command.judge_ids
        now = self.clock()
        stage = str(getattr(command.stage, "value", command.stage))
        item = review_round(season, stage)
        check_assignment_period(season, item, now)
        review = self.entry_review(season.season_id, entry.entry_id)
        review.check_progress((ReviewProgress.IN_REVIEW,), "entry_id", "assignment.entry.not_in_review",
                              "judges are assigned to entries that passed formal review and are not graded yet")
        check_taken(season, item, entry.entry_id, review.advanced_through, review.stopped_at)
        for position, judge_id in enumerate(judge_ids):
            if judge_id in judge_ids[:position]:
                raise RuleViolation(f"judge_ids.{position}", "assignment.judges.duplicate",
                                    f"judge {judge_id} is listed twice")
            judge = command.judges.get(judge_id)
            if judge is None:
                raise RuleViolation(
                    f"judge_ids.{position}", "assignment.judge.unknown",
                    f"{judge_id} is not a judge of season {season.season_id} (registered judges reach review within "
                    "seconds of their registration)",
                )
            check_no_conflict(judge, entry, review.recommender_id, review.recommendation_certificates, "assignment")
        assignment: Assignment = self._get(assignment_id(season.season_id, entry.entry_id, stage)) or Assignment(
            season.season_id, entry.entry_id, stage, entry.credit_code, review.recommender_id)
        if list(assignment.judge_ids or []) == list(judge_ids):
            raise Conflict("judge_ids", "assignment.unchanged",
                           f"these judges are already assigned to entry {entry.entry_id} for {item.label}")
        payload = JudgesAssigned(season_id=season.season_id, entry_id=entry.entry_id, stage=stage,
                                 judge_ids=judge_ids, assigned_by=context.actor.id)
        assignment.assign(**stamp_in_season(payload, context, season, now))
        result = recorded(assignment, "JudgesAssigned", **identity(review)) | {"stage": stage, "judge_ids": judge_ids}
        return self.save_once([assignment], result, idempotency)

    @idempotent
    def record_score(self, command: RecordScore, context: CommandContext,
                     idempotency: IdempotencyKey | None = None) -> dict[str, Any]:
        """One score per judge per round, by the season's rubric."""
        season, entry, judge, sheet = command.season, command.entry, command.judge, command.sheet
        review, item, rubric_code, total, now = self._check_score(season, entry, judge, command.stage, sheet)
        if score_id(season.season_id, entry.entry_id, item.code, judge.judge_id) in self.repository:
            raise Conflict(
                "stage",
                "score.duplicate",
                f"judge {judge.judge_id} already scored entry {entry.entry_id} for {item.label}; one score per judge "
                "per stage: revise it, giving the reason",
            )
        aggregates: list[Aggregate] = []
        if item.one_entry_per_unit:
            judge_round: JudgeRound = self._get(judge_round_id(season.season_id, judge.judge_id, item.code)) or (
                JudgeRound(season.season_id, judge.judge_id, item.code))
            judge_round.score_once_per_unit(entry.entry_id, entry.credit_code, item.label)
            aggregates.append(judge_round)
        payload = ScoreRecorded(
            season_id=season.season_id, entry_id=entry.entry_id, judge_id=judge.judge_id, stage=item.code,
            rubric=rubric_code, total=total, **sheet.model_dump(),
        )
        score = Score(**stamp_in_season(payload, context, season, now))
        result = recorded(score, "ScoreRecorded", **identity(review)) | {
            "judge_id": judge.judge_id, "stage": item.code, "total": str(total),
        }
        return self.save_once([score, *aggregates], result, idempotency)

    @idempotent
    def revise_score(self, command: ReviseScore, context: CommandContext,
                     idempotency: IdempotencyKey | None = None) -> dict[str, Any]:
        """A score revised is an event of its own, with its reason; the earlier score stays in the history."""
        season, entry, judge, sheet = command.season, command.entry, command.judge, command.sheet
        review, item, rubric_code, total, now = self._check_score(season, entry, judge, command.stage, sheet)
        score: Score | None = self._get(score_id(season.season_id, entry.entry_id, item.code, judge.judge_id))
        if score is None:
            raise Conflict(
                "stage", "score.revision.no_score",
                f"judge {judge.judge_id} has not scored entry {entry.entry_id} for {item.label} yet; record the score "
                "first",
            )
        previous = score.total
        payload = ScoreRevised(
            season_id=season.season_id, entry_id=entry.entry_id, judge_id=judge.judge_id, stage=item.code,
            rubric=rubric_code, total=total, previous_total=previous, reason=command.reason, **sheet.model_dump(),
        )
        score.revise(**stamp_in_season(payload, context, season, now))
        result = recorded(score, "ScoreRevised", **identity(review)) | {
            "judge_id": judge.judge_id, "stage": item.code, "total": str(total), "previous_total": str(previous),
        }
        return self.save_once([score], result, idempotency)

    def _check_score(
        self, season: SeasonView, entry: EntryView, judge: JudgeView, stage: str, sheet: ScoreSheet
    ) -> tuple[EntryReview, ReviewRound, str, Decimal, datetime]:
        now = self.clock()
        item = review_round(season, str(getattr(stage, "value", stage)))
        check_round_open(season, item, now)  # a late score in a closed round is refused, naming the round
        review = self.entry_review(season.season_id, entry.entry_id)
        if review.progress in (ReviewProgress.GRADED, ReviewProgress.APPROVED, ReviewProgress.PUBLISHED,
                               ReviewProgress.RESULT_WITHDRAWN):
            raise Conflict(
                "entry_id", "score.entry.graded",
                f"entry {entry.entry_id} is already graded ({review.grade_label or review.grade or '—'}); its scores "
                "are final (an objection during the notice leads to a regrade)",
            )
        review.check_progress((ReviewProgress.IN_REVIEW,), "entry_id", "score.entry.not_in_review",
                              "entries are scored after they pass formal review")
        check_taken(season, item, entry.entry_id, review.advanced_through, review.stopped_at)
        check_assigned(judge.judge_id, self.assigned_judges(season.season_id, entry.entry_id, item.code),
                       entry.entry_id, item)
        check_no_conflict(judge, entry, review.recommender_id, review.recommendation_certificates, "score.judge")
        rubric = rubric_for(season, entry, item)
        total = check_sheet(rubric, sheet)
        return review, item, rubric.code, total, now
