"""Review's service layer: recommendations, formal review, scores, grades, approval, notice, publication.

Synchronous (the `eventsourcing` application); the HTTP layer runs it off the event loop and hands it
what review's projection knows of the season, the entry, the recommending unit and the judges. What
review itself decided (recommendations, assignments, scores, grades) is read from its event store,
so every rule sees the latest state. Every command checks its rules before anything is stored, and
a retried command with the same Idempotency-Key returns the first result.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from eventsourcing.domain import Aggregate

from contracts.codes import Channel, Role, Stage
from contracts.envelope import Source
from contracts.fed import (
    ProvincialRecommendationAmended,
    ProvincialRecommendationForm,
    ProvincialRecommendationRecorded,
    ProvincialResultAmended,
    ProvincialResultForm,
    ProvincialResultRecorded,
)
from contracts.national import NationalEntryReceived, NationalRecommendationRecordForm
from contracts.published import (
    Approval,
    EntryPublished,
    EntryResultWithdrawn,
    GuidingUnitsApproved,
    NationalRecommendation,
    NationalRecommendationMade,
    NoticeOpened,
    Objection,
    ObjectionDecision,
    ObjectionFiled,
    ObjectionResolved,
    ResultsPublished,
)
from contracts.recommended import (
    DirectAcceptance,
    EntryAcceptedDirectly,
    EntryRecommended,
    FormalReviewDecision,
    FormalReviewFailed,
    FormalReviewPassed,
    FormalReviewResubmitted,
    RecommendationForm,
    RecommendationRevoked,
    Resubmission,
    Revocation,
)
from contracts.registered import GateRule, ReviewRound
from contracts.scored import (
    EntryAdvanced,
    EntryGraded,
    EntryNotAdvanced,
    GateDecision,
    EntryRegraded,
    JudgesAssigned,
    ScoreRecorded,
    ScoreRevised,
    ScoreSheet,
    StageResult,
)
from infra.errors import Conflict, NotFound, NotPermitted, RuleViolation
from infra.eventstore import CommandContext, EventStoreApplication, idempotent, recorded, stamp, stamp_in_season
from infra.feeds import FeedRecord, Work, feed_aggregate_id
from infra.idempotency import IdempotencyKey
from infra.windows import SEASON_TIME_ZONE, shown
from services.review.assignment.domain import Assignment, assignment_id
from services.review.domain.entry_review import (
    AWAITING_FORMAL_REVIEW,
    PAST_FORMAL_REVIEW,
    REVOCABLE,
    EntryReview,
    ReviewProgress,
    entry_review_id,
)
from services.review.domain.national import (
    ProvinceSlate,
    check_national_season,
    check_province_quota,
    national_entry_id,
    province_of,
    province_slate_id,
)
from services.review.domain.provincial import (
    ProvincialRecommendation,
    ProvincialRecord,
    ProvincialResult,
    check_entry,
    grade_label,
    provincial_recommendation_id,
    provincial_result_id,
)
from services.review.domain.quota import (
    DIRECT_SLATE,
    RecommenderSlate,
    check_quota,
    check_rank_unique,
    counted_for_unit,
    slate_id,
)
from services.review.domain.results import SeasonResults, certificate_no, season_results_id
from services.review.domain.rounds import (
    RoundGate,
    check_assignment_period,
    check_round_open,
    check_taken,
    decide_gate,
    gate_id,
    gate_rule,
    next_round,
    ranked,
    review_round,
    round_weights,
    rounds_taken,
)
from services.review.domain.scoring import (
    Score,
    band_for,
    check_assigned,
    check_no_conflict,
    check_sheet,
    combined_score,
    rubric_for,
    score_id,
    stage_result,
)
from services.review.domain.source_rules import check_filings, check_not_cancelled, direct_eligibility
from services.review.domain.views import EntryView, JudgeView, RecommenderView, SeasonView


FormT = TypeVar("FormT", ProvincialRecommendationForm, ProvincialResultForm, NationalRecommendationRecordForm)

# 好中选优: the organizer chooses among the entries its review graded whose result stands (national.not_graded)
NATIONALLY_RECOMMENDABLE = (ReviewProgress.GRADED, ReviewProgress.APPROVED, ReviewProgress.PUBLISHED)


class ReviewApplication(EventStoreApplication):
    """Recommendations, formal review, scores, grades and results, stored as events."""

    # ------------------------------------------------------------ recommendation (推荐通道)

    @idempotent
    def recommend(
        self,
        season: SeasonView,
        entry: EntryView,
        recommender: RecommenderView,
        unit_entries: Mapping[str, EntryView],
        judges_by_certificate: Mapping[str, JudgeView],
        form: RecommendationForm,
        context: CommandContext,
        idempotency: IdempotencyKey | None = None,
    ) -> dict[str, Any]:
        """A recommending unit recommends one of its units' entries with the 推荐表, within its quota."""
        now = self.clock()
        season.check_window_open(Stage.RECOMMENDATION, now)
        season.check_channel(Channel.RECOMMENDER)
        if recommender.direct:
            raise Conflict(
                "recommender_id",
                "recommendation.direct_channel",
                f"{recommender.name} is the direct channel: its entries are accepted by the organizer's secretariat "
                "(经秘书处确认后直接申报), not recommended through 推荐通道",
            )
        slate = self._slate(season.season_id, recommender.recommender_id)
        check_not_cancelled(recommender, slate.closed if slate else None)  # 取消推荐资格
        check_filings(season, recommender)  # 基础性条件, where the season says so
        self._check_entry_recommendable(season, entry)
        if entry.recommender_id != recommender.recommender_id:
            raise NotPermitted(
                "entry_id",
                "recommendation.recommender.not_the_units",
                f"entry {entry.entry_id} of unit {entry.credit_code} is recommended by "
                f"{entry.recommender_id or 'no recommending unit (the direct channel)'}, not by {recommender.recommender_id}; "
                "a recommending unit recommends its own units' entries only",
            )
        check_declaration_and_dates(form, now, season)
        certificates = check_recommendation_judges(form, judges_by_certificate, season.season_id)
        review = self._review_to_recommend(season.season_id, entry.entry_id)
        check_quota(
            recommender.effective_quota(season), recommender.quota is not None, entry,
            counted_for_unit(slate, entry, unit_entries), recommender.name,
        )
        check_rank_unique(slate, entry.entry_id, form.rank)
        payload = EntryRecommended(
            **summary(entry), **form.model_dump(), recommender_id=recommender.recommender_id,
            declaration_text=season.declaration_text,
        )
        review.recommend(**stamp_in_season(payload, context, season, now))
        slate = slate or RecommenderSlate(season.season_id, recommender.recommender_id)
        slate.add(entry.entry_id, entry.credit_code, entry.qc_type.value if entry.qc_type else None, entry.team_type, form.rank)
        result = recorded(review, "EntryRecommended", **identity(review)) | {
            "created": True, "recommender_id": recommender.recommender_id, "judges": certificates,
        }
        return self.save_once([review, slate], result, idempotency)

    @idempotent
    def accept_directly(
        self,
        season: SeasonView,
        entry: EntryView,
        direct: RecommenderView | None,
        unit_entries: Mapping[str, EntryView],
        acceptance: DirectAcceptance,
        context: CommandContext,
        idempotency: IdempotencyKey | None = None,
    ) -> dict[str, Any]:
        """其他-市质协会员与质量推进部: the secretariat accepts an entry that no recommending unit recommends."""
        now = self.clock()
        season.check_window_open(Stage.RECOMMENDATION, now)
        season.check_channel(Channel.DIRECT)
        self._check_entry_recommendable(season, entry)
        direct_id = direct.recommender_id if direct else None
        if entry.recommender_id and entry.recommender_id != direct_id:
            raise Conflict(
                "entry_id",
                "recommendation.direct.has_recommender",
                f"entry {entry.entry_id} of unit {entry.credit_code} has the recommending unit {entry.recommender_id}: "
                "it is recommended through 推荐通道; the secretariat accepts only entries of the direct channel",
            )
        eligibility = direct_eligibility(entry, acceptance.eligibility)  # 外商 / “专精特新”类 / 高新技术类民营企业
        review = self._review_to_recommend(season.season_id, entry.entry_id)
        key = direct_id or DIRECT_SLATE
        slate = self._slate(season.season_id, key)
        quota = direct.effective_quota(season) if direct else (season.quota)
        assert quota is not None
        check_quota(quota, bool(direct and direct.quota), entry, counted_for_unit(slate, entry, unit_entries),
                    "the direct channel")
        payload = EntryAcceptedDirectly(
            **summary(entry), **(acceptance.model_dump() | {"eligibility": eligibility}), recommender_id=direct_id
        )
        review.accept_directly(**stamp_in_season(payload, context, season, now))
        slate = slate or RecommenderSlate(season.season_id, key)
        slate.add(entry.entry_id, entry.credit_code, entry.qc_type.value if entry.qc_type else None, entry.team_type, None)
        result = recorded(review, "EntryAcceptedDirectly", **identity(review)) | {"created": True}
        return self.save_once([review, slate], result, idempotency)

    @idempotent
    def revoke(
        self,
        season: SeasonView,
        entry_id: str,
        revocation: Revocation,
        context: CommandContext,
        idempotency: IdempotencyKey | None = None,
    ) -> dict[str, Any]:
        """Revoking a recommendation while the recommendation window is open frees its quota."""
        now = self.clock()
        season.check_window_open(Stage.RECOMMENDATION, now)
        review = self.entry_review(season.season_id, entry_id)
        self._check_recommendation_owner(review, context)
        if review.progress in PAST_FORMAL_REVIEW:
            raise Conflict(
                "entry_id",
                "recommendation.revoke.reviewed",
                f"entry {entry_id} passed formal review and is with the expert panel ({review.progress.label}); "
                "its recommendation is no longer revoked",
            )
        review.check_progress(REVOCABLE, "entry_id", "recommendation.revoke.not_recommended",
                              f"entry {entry_id} is not recommended at the moment")
        slate = self._slate(season.season_id, review.slate_key)
        payload = RecommendationRevoked(
            season_id=season.season_id, entry_id=entry_id, recommender_id=review.recommender_id, reason=revocation.reason
        )
        review.revoke(**stamp_in_season(payload, context, season, now))
        aggregates: list[Aggregate] = [review]
        if slate is not None:
            slate.remove(entry_id)
            aggregates.append(slate)
        return self.save_once(aggregates, recorded(review, "RecommendationRevoked", **identity(review)), idempotency)

    def _check_entry_recommendable(self, season: SeasonView, entry: EntryView) -> None:
        if entry.kind is not season.kind:
            raise RuleViolation(
                "entry_id", "recommendation.entry.kind",
                f"season {season.season_id} reviews {season.kind.label} entries, not {entry.kind.label}",
            )
        if entry.withdrawn:
            raise Conflict(
                "entry_id",
                "recommendation.entry.withdrawn",
                f"entry {entry.entry_id} was withdrawn by its unit; a withdrawn entry is not recommended",
            )
        if season.offers(Channel.UNIT) and entry.status.value != "confirmed":
            raise Conflict(
                "entry_id",
                "recommendation.entry.unconfirmed",
                f"entry {entry.entry_id} awaits its unit's confirmation through 单位通道 (自我评价 and the sealed "
                "申报推荐意见); season " + season.season_id + " offers 单位通道, so the unit confirms before it is recommended",
            )

    def _review_to_recommend(self, season_id: str, entry_id: str) -> EntryReview:
        review = self._find_review(season_id, entry_id)
        if review is None:
            return EntryReview(season_id, entry_id)
        if review.progress is not ReviewProgress.REVOKED:
            raise Conflict(
                "entry_id",
                "recommendation.duplicate",
                f"entry {entry_id} is already {review.progress.label if review.progress else 'recommended'}"
                + (f" by {review.recommender_id}" if review.recommender_id else "")
                + "; an entry is recommended once (revoke it first to change the recommendation)",
            )
        return review

    def _check_recommendation_owner(self, review: EntryReview, context: CommandContext) -> None:
        """A recommending unit acts on its own recommendations; the secretariat on the ones it accepted directly."""
        actor = context.actor
        own = (
            (actor.role is Role.RECOMMENDER and actor.org == review.recommender_id and not review.accepted_directly)
            or (actor.role is Role.ORGANIZER and review.accepted_directly)
        )
        if not own:
            by = "the secretariat (direct channel)" if review.accepted_directly else review.recommender_id
            raise NotPermitted(
                "entry_id",
                "recommendation.owner",
                f"entry {review.entry_id} was recommended by {by}; the {actor.role.value} {actor.org} does not act on it",
            )

    # ------------------------------------------------------------ formal review (资料形式审查)

    @idempotent
    def decide_formal_review(
        self,
        season: SeasonView,
        entry: EntryView,
        decision: FormalReviewDecision,
        context: CommandContext,
        idempotency: IdempotencyKey | None = None,
    ) -> dict[str, Any]:
        """Passed: FormalReviewPassed (judges are assigned from it). Failed: FormalReviewFailed with its reasons."""
        now = self.clock()
        season.check_formal_review_period(now)
        review = self.entry_review(season.season_id, entry.entry_id)
        if review.progress is ReviewProgress.FORMAL_REVIEW_FAILED:
            raise Conflict(
                "entry_id",
                "formal_review.awaiting_correction",
                f"entry {entry.entry_id} failed formal review; it is reviewed again once corrected and resubmitted",
            )
        if review.progress in PAST_FORMAL_REVIEW:
            raise Conflict(
                "entry_id",
                "formal_review.decided",
                f"entry {entry.entry_id} already passed formal review ({review.progress.label if review.progress else ''})",
            )
        review.check_progress(AWAITING_FORMAL_REVIEW, "entry_id", "formal_review.not_recommended",
                              f"entry {entry.entry_id} is not recommended, so it is not up for formal review")
        if entry.withdrawn:
            raise Conflict(
                "entry_id", "formal_review.entry.withdrawn",
                f"entry {entry.entry_id} was withdrawn by its unit",
            )
        if decision.outcome == "passed":
            if decision.reasons:
                raise RuleViolation("reasons", "formal_review.reasons.without_failure",
                                    "reasons are given for a failed formal review only")
            passed = FormalReviewPassed(
                season_id=season.season_id, entry_id=entry.entry_id, credit_code=entry.credit_code,
                recommender_id=review.recommender_id, kind=entry.kind,
            )
            review.pass_formal_review(**stamp_in_season(passed, context, season, now))
            event = "FormalReviewPassed"
        else:
            if not decision.reasons:
                raise RuleViolation("reasons", "formal_review.reasons.required",
                                    "a failed formal review gives its reasons, so the entry can be corrected")
            failed = FormalReviewFailed(
                season_id=season.season_id, entry_id=entry.entry_id, credit_code=entry.credit_code,
                recommender_id=review.recommender_id, reasons=decision.reasons, entry_version=entry.version,
            )
            review.fail_formal_review(**stamp_in_season(failed, context, season, now))
            event = "FormalReviewFailed"
        return self.save_once([review], recorded(review, event, **identity(review)), idempotency)

    @idempotent
    def resubmit(
        self,
        season: SeasonView,
        entry: EntryView,
        resubmission: Resubmission,
        context: CommandContext,
        idempotency: IdempotencyKey | None = None,
    ) -> dict[str, Any]:
        """A failed entry, corrected by its unit (EntryAmended), goes back to formal review."""
        now = self.clock()
        season.check_formal_review_period(now)
        review = self.entry_review(season.season_id, entry.entry_id)
        self._check_recommendation_owner(review, context)
        review.check_progress((ReviewProgress.FORMAL_REVIEW_FAILED,), "entry_id", "formal_review.resubmit.not_failed",
                              "only an entry that failed formal review is resubmitted")
        if review.failed_version is not None and entry.version <= review.failed_version:
            raise Conflict(
                "entry_id",
                "formal_review.resubmit.not_corrected",
                f"entry {entry.entry_id} has not been corrected since it failed formal review (version "
                f"{review.failed_version}); its unit amends it (EntryAmended) first",
            )
        if entry.withdrawn:
            raise Conflict("entry_id", "formal_review.entry.withdrawn",
                                f"entry {entry.entry_id} was withdrawn by its unit")
        payload = FormalReviewResubmitted(
            season_id=season.season_id, entry_id=entry.entry_id, entry_version=entry.version, note=resubmission.note
        )
        review.resubmit(**stamp_in_season(payload, context, season, now))
        return self.save_once([review], recorded(review, "FormalReviewResubmitted", **identity(review)), idempotency)

    # ------------------------------------------------------------ judges (JudgesAssigned, by hand)

    @idempotent
    def assign_judges(
        self,
        season: SeasonView,
        entry: EntryView,
        stage: str,
        judge_ids: list[str],
        judges: Mapping[str, JudgeView],
        context: CommandContext,
        idempotency: IdempotencyKey | None = None,
    ) -> dict[str, Any]:
        """The secretariat assigns (or replaces) an entry's judges for a round by hand."""
        now = self.clock()
        stage = str(getattr(stage, "value", stage))
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
            judge = judges.get(judge_id)
            if judge is None:
                raise RuleViolation(
                    f"judge_ids.{position}", "assignment.judge.unknown",
                    f"{judge_id} is not a judge of season {season.season_id} (registered judges reach review within "
                    "seconds of their registration)",
                )
            check_no_conflict(judge, entry, review.recommender_id, review.recommendation_certificates, "assignment")
        aggregate_id = assignment_id(season.season_id, entry.entry_id, stage)
        assignment: Assignment
        if aggregate_id in self.repository:
            assignment = self.repository.get(aggregate_id)
            if list(assignment.judge_ids) == list(judge_ids):
                raise Conflict("judge_ids", "assignment.unchanged",
                                    f"these judges are already assigned to entry {entry.entry_id} for {item.label}")
        else:
            assignment = Assignment(season.season_id, entry.entry_id, stage, entry.credit_code,
                                    review.recommender_id)
        payload = JudgesAssigned(season_id=season.season_id, entry_id=entry.entry_id, stage=stage,
                                 judge_ids=judge_ids, assigned_by=context.actor.id)
        assignment.assign(**stamp_in_season(payload, context, season, now))
        result = recorded(assignment, "JudgesAssigned", **identity(review)) | {"stage": stage,
                                                                              "judge_ids": judge_ids}
        return self.save_once([assignment], result, idempotency)

    def assigned_judges(self, season_id: str, entry_id: str, stage: str) -> frozenset[str] | None:
        """Who may score the entry in the round: the latest JudgesAssigned of its Assignment, or None."""
        aggregate_id = assignment_id(season_id, entry_id, str(getattr(stage, "value", stage)))
        try:
            assignment = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        return frozenset(assignment.judge_ids) if assignment.judge_ids else None

    # ------------------------------------------------------------ scores (评分)

    @idempotent
    def record_score(
        self,
        season: SeasonView,
        entry: EntryView,
        judge: JudgeView,
        stage: str,
        sheet: ScoreSheet,
        context: CommandContext,
        idempotency: IdempotencyKey | None = None,
    ) -> dict[str, Any]:
        """One score per judge per round, by the season's rubric."""
        review, item, rubric_code, total, now = self._check_score(season, entry, judge, stage, sheet)
        stage = item.code
        if score_id(season.season_id, entry.entry_id, stage, judge.judge_id) in self.repository:
            raise Conflict(
                "stage",
                "score.duplicate",
                f"judge {judge.judge_id} already scored entry {entry.entry_id} for {item.label}; one score per judge "
                "per stage: revise it, giving the reason",
            )
        payload = ScoreRecorded(
            season_id=season.season_id, entry_id=entry.entry_id, judge_id=judge.judge_id, stage=stage,
            rubric=rubric_code, total=total, **sheet.model_dump(),
        )
        score = Score(**stamp_in_season(payload, context, season, now))
        result = recorded(score, "ScoreRecorded", **identity(review)) | {
            "judge_id": judge.judge_id, "stage": stage, "total": str(total),
        }
        return self.save_once([score], result, idempotency)

    @idempotent
    def revise_score(
        self,
        season: SeasonView,
        entry: EntryView,
        judge: JudgeView,
        stage: str,
        sheet: ScoreSheet,
        reason: str,
        context: CommandContext,
        idempotency: IdempotencyKey | None = None,
    ) -> dict[str, Any]:
        """A score revised is an event of its own, with its reason; the earlier score stays in the history."""
        review, item, rubric_code, total, now = self._check_score(season, entry, judge, stage, sheet)
        stage = item.code
        aggregate_id = score_id(season.season_id, entry.entry_id, stage, judge.judge_id)
        if aggregate_id not in self.repository:
            raise Conflict(
                "stage", "score.revision.no_score",
                f"judge {judge.judge_id} has not scored entry {entry.entry_id} for {item.label} yet; record the score "
                "first",
            )
        score: Score = self.repository.get(aggregate_id)
        previous = score.total
        if sheet.criteria == {code: Decimal(points) for code, points in score.criteria.items()}:
            raise RuleViolation("criteria", "score.revision.unchanged",
                                "the revision gives the same points for every criterion; nothing to revise")
        payload = ScoreRevised(
            season_id=season.season_id, entry_id=entry.entry_id, judge_id=judge.judge_id, stage=stage,
            rubric=rubric_code, total=total, previous_total=previous, reason=reason, **sheet.model_dump(),
        )
        score.revise(**stamp_in_season(payload, context, season, now))
        result = recorded(score, "ScoreRevised", **identity(review)) | {
            "judge_id": judge.judge_id, "stage": stage, "total": str(total), "previous_total": str(previous),
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

    def stage_totals(self, season_id: str, entry_id: str, stage: str, judges: frozenset[str]) -> dict[str, Decimal]:
        totals = {}
        for judge_id in sorted(judges):
            aggregate_id = score_id(season_id, entry_id, stage, judge_id)
            if aggregate_id in self.repository:
                totals[judge_id] = self.repository.get(aggregate_id).total
        return totals

    # ------------------------------------------------------------ grade (成果等级)

    @idempotent
    def grade(
        self,
        season: SeasonView,
        entry_id: str,
        context: CommandContext,
        idempotency: IdempotencyKey | None = None,
    ) -> dict[str, Any]:
        """The stages' scores (trimmed mean from 5 judges), combined by the season's weights, and the band reached."""
        now = self.clock()
        review = self.entry_review(season.season_id, entry_id)
        if review.progress in (ReviewProgress.GRADED, ReviewProgress.APPROVED, ReviewProgress.PUBLISHED):
            raise Conflict("entry_id", "grade.already_graded",
                                f"entry {entry_id} is already graded ({review.grade_label or '—'})")
        if review.progress is ReviewProgress.NOT_ADVANCED and not season.grade_not_advanced:
            raise Conflict(
                "entry_id", "grade.entry.not_advanced",
                f"entry {entry_id} did not advance from {review_round(season, review.stopped_at or '').label}; season "
                f"{season.season_id} grades only the entries that went on (grade_not_advanced is false)",
            )
        if review.progress is not ReviewProgress.NOT_ADVANCED:
            review.check_progress((ReviewProgress.IN_REVIEW,), "entry_id", "grade.entry.not_in_review",
                                  "entries are graded after formal review and scoring")
        taken = rounds_taken(season, review.advanced_through)
        pending = taken[-1]
        if pending.gate is not None and review.stopped_at != pending.code:
            raise Conflict(
                "entry_id", "grade.gate.pending",
                f"{pending.label} ({pending.code}) is a gate not yet decided for entry {entry_id}; it is graded after "
                "the rounds it goes on to",
            )
        if not season.grade_bands:
            raise Conflict("season_id", "grade.bands.missing",
                                f"season {season.season_id} has no grade bands (成果等级); the organizer adds them")
        results: dict[str, StageResult] = {}
        labels = {item.code: item.label for item in season.review_rounds}
        for item in taken:
            stage = item.code
            assigned = self.assigned_judges(season.season_id, entry_id, stage)
            if not assigned:
                continue
            totals = self.stage_totals(season.season_id, entry_id, stage, assigned)
            missing = sorted(assigned - set(totals))
            if missing:
                raise Conflict(
                    "entry_id", "grade.scores.incomplete",
                    f"{item.label} ({stage}) of entry {entry_id} still awaits the scores of "
                    + ", ".join(missing) + f" ({len(totals)} of {len(assigned)} judges scored)",
                )
            results[stage] = stage_result(stage, totals)
        if not results:
            raise Conflict("entry_id", "grade.scores.missing",
                                f"entry {entry_id} has no judges' scores to grade from")
        weights = round_weights(season, taken, list(results))
        unscored = [stage for stage in weights if stage not in results]
        if unscored:
            raise Conflict(
                "entry_id", "grade.stage.unscored",
                f"season {season.season_id} weighs {', '.join(f'{labels[stage]} ({stage})' for stage in unscored)} "
                f"in the combined score, and entry {entry_id} has no scores there",
            )
        combined = combined_score(results, weights)
        band = band_for(season.grade_bands, combined)
        payload = EntryGraded(
            season_id=season.season_id, entry_id=entry_id, stages=[results[stage] for stage in weights],
            weights=weights, combined_score=combined, grade=band.code if band else None,
            grade_label=band.label if band else None,
        )
        review.record_grade(**stamp_in_season(payload, context, season, now))
        result = recorded(review, "EntryGraded", **identity(review)) | {
            "combined_score": str(combined), "grade": payload.grade, "grade_label": payload.grade_label,
        }
        return self.save_once([review], result, idempotency)

    # ------------------------------------------------------------ review rounds: gates (晋级)

    @idempotent
    def advance(
        self,
        season: SeasonView,
        round_code: str,
        decision: GateDecision,
        in_review: list[str],
        context: CommandContext,
        idempotency: IdempotencyKey | None = None,
    ) -> dict[str, Any]:
        """Decide a gate round once: EntryAdvanced for the entries that go on, EntryNotAdvanced with the reason for
        the others. `in_review` are the season's entries in review as the projection knows them; the entries
        awaiting this gate among them are decided."""
        now = self.clock()
        item = review_round(season, round_code, field="round_code")
        if item.gate is None:
            raise Conflict("round_code", "gate.not_a_gate",
                                f"{item.label} ({item.code}) is not a gate: every entry in it goes on")
        following = next_round(season, item.code)
        assert following is not None  # a gate is never the last round (season.rounds.gate_last)
        if gate_id(season.season_id, item.code) in self.repository:
            gate: RoundGate = self.repository.get(gate_id(season.season_id, item.code))
            raise Conflict(
                "round_code", "gate.decided",
                f"{item.label} ({item.code}) was decided already: {len(gate.advanced)} went on, "
                f"{len(gate.not_advanced)} did not",
            )
        rule = gate_rule(item, GateRule(method=decision.method, top_n=decision.top_n, threshold=decision.threshold),
                         decision.entry_ids)
        reviews = [review for entry_id in sorted(set(in_review))
                   if (review := self._find_review(season.season_id, entry_id)) is not None
                   and review.progress is ReviewProgress.IN_REVIEW
                   and rounds_taken(season, review.advanced_through)[-1].code == item.code]
        if not reviews:
            raise Conflict("round_code", "gate.no_entries",
                                f"no entries are in {item.label} ({item.code}) awaiting this gate")
        scores: dict[str, Decimal | None] = {}
        for review in reviews:
            assigned = self.assigned_judges(season.season_id, review.entry_id, item.code) or frozenset()
            totals = self.stage_totals(season.season_id, review.entry_id, item.code, assigned)
            complete = bool(assigned) and set(totals) == set(assigned)
            scores[review.entry_id] = stage_result(item.code, totals).score if complete else None
        outcomes = decide_gate(item, rule, ranked(scores), decision.entry_ids, decision.reason)
        by_id = {review.entry_id: review for review in reviews}
        assert rule.method is not None
        for outcome in outcomes:
            review = by_id[outcome.candidate.entry_id]
            common = {"season_id": season.season_id, "entry_id": review.entry_id, "stage": item.code,
                      "stage_label": item.label, "method": rule.method, "score": outcome.candidate.score,
                      "rank": outcome.candidate.rank}
            if outcome.advanced:
                payload: EntryAdvanced | EntryNotAdvanced = EntryAdvanced(
                    **common, next_stage=following.code, next_stage_label=following.label)
                review.advance(**stamp_in_season(payload, context, season, now))
            else:
                payload = EntryNotAdvanced(**common, reason=outcome.reason, message=outcome.message)
                review.stop(**stamp_in_season(payload, context, season, now))
        advanced = [outcome.candidate.entry_id for outcome in outcomes if outcome.advanced]
        not_advanced = [outcome.candidate.entry_id for outcome in outcomes if not outcome.advanced]
        gate = RoundGate(season.season_id, item.code, rule.method.value, advanced, not_advanced)
        result = {
            "season_id": season.season_id, "round": item.code, "round_label": item.label, "method": rule.method.value,
            "next_round": following.code, "advanced": advanced,
            "not_advanced": [{"entry_id": outcome.candidate.entry_id, "reason": outcome.reason,
                              "message": outcome.message} for outcome in outcomes if not outcome.advanced],
            "aggregate_id": str(gate.id), "event": "EntryAdvanced" if advanced else "EntryNotAdvanced",
        }
        try:
            return self.save_once([gate, *reviews], result, idempotency)
        except IntegrityError:  # decided at the same moment by another request
            raise Conflict("round_code", "gate.decided", f"{item.label} ({item.code}) was decided already") from None

    # ------------------------------------------------------------ approval, notice, objections

    @idempotent
    def approve(
        self,
        season: SeasonView,
        approval: Approval,
        graded: list[str],
        context: CommandContext,
        idempotency: IdempotencyKey | None = None,
    ) -> dict[str, Any]:
        """指导单位审定: the guiding units approve the graded entries (all of them, or those named)."""
        now = self.clock()
        check_not_future(approval.approved_on, now, season, "approved_on", "approval.date.future")
        named = approval.entry_ids is not None
        reviews: list[EntryReview] = []
        for position, entry_id in enumerate(approval.entry_ids if named else graded):
            field = f"entry_ids.{position}" if named else "entry_ids"
            review = self._find_review(season.season_id, entry_id)
            if review is None:
                raise NotFound(f"entry {entry_id} in review of season {season.season_id}")
            if review.progress is not ReviewProgress.GRADED:
                if named:
                    review.check_progress((ReviewProgress.GRADED,), field, "approval.not_graded",
                                          "the guiding units approve graded entries")
                continue
            if review.grade is None:
                if named:
                    raise RuleViolation(field, "approval.no_grade",
                                        f"entry {entry_id} reached no grade band; it is not among the results")
                continue
            if any(item.entry_id == entry_id for item in reviews):
                raise RuleViolation(field, "approval.duplicate", f"entry {entry_id} is listed twice")
            reviews.append(review)
        if not reviews:
            raise Conflict("entry_ids", "approval.nothing_to_approve",
                                f"season {season.season_id} has no graded entry awaiting approval")
        for review in reviews:
            payload = GuidingUnitsApproved(
                season_id=season.season_id, entry_id=review.entry_id, grade=review.grade or "",
                combined_score=Decimal(review.combined_score or "0"), guiding_units=approval.guiding_units,
                approved_on=approval.approved_on, note=approval.note,
            )
            review.approve(**stamp_in_season(payload, context, season, now))
        result = {"season_id": season.season_id, "event": "GuidingUnitsApproved",
                  "entry_ids": [review.entry_id for review in reviews], "approved": len(reviews)}
        return self.save_once(list(reviews), result, idempotency)

    @idempotent
    def open_notice(
        self,
        season: SeasonView,
        approved: list[str],
        context: CommandContext,
        idempotency: IdempotencyKey | None = None,
    ) -> dict[str, Any]:
        """面向社会公示: the approved entries are public for the season's notice window."""
        now = self.clock()
        season.check_window_open(Stage.NOTICE, now)
        if season_results_id(season.season_id) in self.repository:
            raise Conflict("season_id", "notice.already_opened",
                                f"the notice of season {season.season_id} is already open")
        entry_ids = [
            entry_id for entry_id in approved
            if (review := self._find_review(season.season_id, entry_id)) is not None
            and review.progress is ReviewProgress.APPROVED
        ]
        if not entry_ids:
            raise Conflict("season_id", "notice.no_entries",
                                f"season {season.season_id} has no entries approved by the guiding units to put on notice")
        window = season.windows[Stage.NOTICE.value]
        payload = NoticeOpened(season_id=season.season_id, entry_ids=sorted(entry_ids), opens_at=now,
                               closes_at=window.closes_at)
        results = SeasonResults(**stamp_in_season(payload, context, season, now))
        result = recorded(results, "NoticeOpened", season_id=season.season_id) | {
            "entry_ids": payload.entry_ids, "closes_at": window.closes_at.isoformat(),
        }
        return self.save_once([results], result, idempotency)

    @idempotent
    def file_objection(
        self,
        season: SeasonView,
        entry_id: str,
        objection: Objection,
        context: CommandContext,
        idempotency: IdempotencyKey | None = None,
    ) -> dict[str, Any]:
        """异议: filed during the notice period against an entry on notice."""
        now = self.clock()
        season.check_window_open(Stage.NOTICE, now)
        results = self._season_results(season.season_id)
        if results is None or entry_id not in results.on_notice:
            raise Conflict("entry_id", "objection.not_on_notice",
                                f"entry {entry_id} is not on the public notice of season {season.season_id}")
        review = self.entry_review(season.season_id, entry_id)
        review.check_progress((ReviewProgress.APPROVED,), "entry_id", "objection.result_withdrawn",
                              "objections are filed against results on notice")
        objection_id = review.next_objection_id()
        payload = ObjectionFiled(season_id=season.season_id, entry_id=entry_id, objection_id=objection_id,
                                 **objection.model_dump())
        review.file_objection(**stamp_in_season(payload, context, season, now))
        result = recorded(review, "ObjectionFiled", **identity(review)) | {"objection_id": objection_id}
        return self.save_once([review], result, idempotency)

    @idempotent
    def resolve_objection(
        self,
        season: SeasonView,
        entry_id: str,
        objection_id: str,
        decision: ObjectionDecision,
        context: CommandContext,
        idempotency: IdempotencyKey | None = None,
    ) -> dict[str, Any]:
        """Dismissed, or upheld with a compensating event: EntryRegraded or EntryResultWithdrawn."""
        now = self.clock()
        review = self.entry_review(season.season_id, entry_id)
        if objection_id not in review.objections:
            raise NotFound(f"objection {objection_id} of entry {entry_id}")
        if review.objections[objection_id]["status"] != "open":
            raise Conflict("objection_id", "objection.resolved",
                                f"objection {objection_id} is already resolved ({review.objections[objection_id]['status']})")
        review.check_progress((ReviewProgress.APPROVED, ReviewProgress.RESULT_WITHDRAWN), "entry_id",
                              "objection.published", "objections are resolved before the results are published")
        if decision.outcome == "dismissed" and (decision.remedy or decision.grade or decision.combined_score is not None):
            raise RuleViolation("remedy", "objection.remedy.without_upheld",
                                "a dismissed objection changes nothing: give no remedy, grade or score")
        if decision.outcome == "upheld" and decision.remedy is None:
            raise RuleViolation("remedy", "objection.remedy.required",
                                "an upheld objection names its remedy: regrade or withdraw")
        regraded: EntryRegraded | None = None
        if decision.remedy == "regrade":
            if review.progress is not ReviewProgress.APPROVED:
                raise Conflict("remedy", "objection.result_withdrawn",
                                    f"the result of entry {entry_id} is withdrawn; it is not regraded")
            regraded = self._regrade(season, review, objection_id, decision)
        elif decision.remedy == "withdraw" and review.progress is ReviewProgress.RESULT_WITHDRAWN:
            raise Conflict("remedy", "objection.result_withdrawn",
                                f"the result of entry {entry_id} is already withdrawn")
        elif decision.grade or decision.combined_score is not None:
            raise RuleViolation("grade", "objection.grade.without_regrade", "a grade or score is given for a regrade only")
        resolved = ObjectionResolved(season_id=season.season_id, entry_id=entry_id, objection_id=objection_id,
                                     outcome=decision.outcome, finding=decision.finding, remedy=decision.remedy)
        review.resolve_objection(**stamp_in_season(resolved, context, season, now))
        events = ["ObjectionResolved"]
        if regraded is not None:
            review.regrade(**stamp_in_season(regraded, context, season, now))
            events.append("EntryRegraded")
        elif decision.remedy == "withdraw":
            withdrawn = EntryResultWithdrawn(season_id=season.season_id, entry_id=entry_id, objection_id=objection_id,
                                             reason=decision.finding)
            review.withdraw_result(**stamp_in_season(withdrawn, context, season, now))
            events.append("EntryResultWithdrawn")
        result = recorded(review, events[-1], **identity(review)) | {
            "objection_id": objection_id, "events": events, "grade": review.grade,
            "progress": review.progress.value if review.progress else None,
        }
        return self.save_once([review], result, idempotency)

    def _regrade(self, season: SeasonView, review: EntryReview, objection_id: str,
                 decision: ObjectionDecision) -> EntryRegraded:
        score = Decimal(review.combined_score or "0")
        if decision.combined_score is not None:
            score = decision.combined_score.quantize(Decimal("0.01"))
            if score != decision.combined_score:
                raise RuleViolation("combined_score", "score.precision", "a score has at most 2 decimal places")
        band = season.band(decision.grade) if decision.grade else band_for(season.grade_bands, score)
        if decision.grade and band is None:
            raise RuleViolation(
                "grade", "objection.grade.unknown",
                f"{decision.grade} is not a grade of season {season.season_id}; its grades are "
                + ", ".join(f"{item.code} ({item.label})" for item in season.grade_bands),
            )
        if band is None:
            raise RuleViolation("combined_score", "objection.regrade.below_bands",
                                f"{score} reaches no grade band; an upheld objection that leaves no grade withdraws the result")
        if decision.grade and decision.combined_score is not None and band_for(season.grade_bands, score) != band:
            raise RuleViolation(
                "grade", "objection.regrade.band_mismatch",
                f"a combined score of {score} falls in {getattr(band_for(season.grade_bands, score), 'label', 'no band')}, "
                f"not {band.label}; give the grade or the score that decides it",
            )
        if band.code == review.grade and score == Decimal(review.combined_score or "0"):
            raise RuleViolation("grade", "objection.regrade.unchanged",
                                f"entry {review.entry_id} already has {band.label} with {score}; nothing to regrade")
        return EntryRegraded(
            season_id=season.season_id, entry_id=review.entry_id, objection_id=objection_id,
            previous_grade=review.grade, grade=band.code, grade_label=band.label, combined_score=score,
            reason=decision.finding,
        )

    # ------------------------------------------------------------ publication (发布) and the national level

    @idempotent
    def publish(
        self,
        season: SeasonView,
        context: CommandContext,
        idempotency: IdempotencyKey | None = None,
    ) -> dict[str, Any]:
        """After the notice period: the results on notice are published with certificate numbers, sequential per season."""
        now = self.clock()
        results = self._season_results(season.season_id)
        if results is None:
            raise Conflict("season_id", "publication.no_notice",
                                f"season {season.season_id}'s results have not been on public notice (公示) yet")
        window = season.windows.get(Stage.NOTICE.value)
        closes_at = window.closes_at if window else results.notice_closes_at  # a notice window may be extended
        if now <= closes_at:
            raise Conflict(
                "season_id", "publication.notice_open",
                f"the public notice of season {season.season_id} runs until {shown(closes_at, season.time_zone)} "
                f"{season.time_zone}; results are published after it (now {shown(now, season.time_zone)})",
            )
        season.check_window_open(Stage.PUBLICATION, now)
        reviews = [self.entry_review(season.season_id, entry_id) for entry_id in results.on_notice]
        unresolved = [review.entry_id for review in reviews if review.open_objections]
        if unresolved:
            raise Conflict(
                "season_id", "publication.objection_unresolved",
                "objections to " + ", ".join(unresolved) + " are not resolved yet; every objection is resolved before "
                "publication",
            )
        ready = [review for review in reviews if review.progress is ReviewProgress.APPROVED]
        if not ready:
            raise Conflict("season_id", "publication.nothing_to_publish",
                                f"every result on notice of season {season.season_id} is published or withdrawn")
        order = {band.code: position for position, band in enumerate(season.grade_bands)}
        ready.sort(key=lambda review: (order.get(review.grade or "", len(order)),
                                       -Decimal(review.combined_score or "0"), review.entry_id))
        issued = []
        for offset, review in enumerate(ready, start=results.certificates_issued + 1):
            number = certificate_no(season.certificate_prefix, offset)
            payload = EntryPublished(
                season_id=season.season_id, entry_id=review.entry_id, unit_name=review.unit_name,
                entry_name=review.entry_name, grade=review.grade or "", grade_label=review.grade_label or "",
                combined_score=Decimal(review.combined_score or "0"), certificate_no=number,
            )
            review.publish(**stamp_in_season(payload, context, season, now))
            issued.append({"entry_id": review.entry_id, "certificate_no": number, "grade": review.grade})
        summary_payload = ResultsPublished(
            season_id=season.season_id, certificates=len(issued),
            first_certificate_no=issued[0]["certificate_no"], last_certificate_no=issued[-1]["certificate_no"],
        )
        results.published(**stamp_in_season(summary_payload, context, season, now))
        result = {"season_id": season.season_id, "event": "ResultsPublished", "certificates": issued}
        return self.save_once([*ready, results], result, idempotency)

    # ------------------------------------------------------------ national flow (issue 10; services/review/domain/national.py)

    @idempotent
    def recommend_nationally(
        self,
        season: SeasonView,
        entry: EntryView,
        recommendation: NationalRecommendation,
        national_season: SeasonView | None,
        context: CommandContext,
        idempotency: IdempotencyKey | None = None,
    ) -> dict[str, Any]:
        """推荐全国: the organizer sends a graded entry of its choice (好中选优) to the national season, which receives it
        as a national entry in the same transaction (so a refusal stores nothing on either side)."""
        now = self.clock()
        national = check_national_season(national_season, recommendation.national_season_id, season, "national_season_id")
        national.check_window_open(Stage.RECOMMENDATION, now, "national_season_id")
        review = self.entry_review(season.season_id, entry.entry_id)
        if review.national_season_id:
            raise Conflict("entry_id", "national.duplicate",
                                f"entry {entry.entry_id} is already recommended to {review.national_season_id}")
        review.check_progress(NATIONALLY_RECOMMENDABLE, "entry_id", "national.not_graded",
                              "an entry goes to the national level once the province's review graded it")
        if not review.grade:
            raise Conflict(
                "entry_id", "national.not_graded",
                f"entry {entry.entry_id} scored {review.combined_score}, below every grade band of season "
                f"{season.season_id}; the organizer chooses among graded entries (好中选优)",
            )
        province = province_of(season.season_id)
        national_id = national_entry_id(national.season_id, season.season_id, entry.entry_id)
        received, slate = self._national_entry(national, province, national_id, "national_season_id")
        payload = NationalRecommendationMade(
            season_id=season.season_id, entry_id=entry.entry_id, certificate_no=review.certificate_no or "",
            grade=review.grade, national_entry_id=national_id, **recommendation.model_dump(),
        )
        review.recommend_nationally(**stamp_in_season(payload, context, season, now))
        arrival = NationalEntryReceived(
            **(summary(entry) | {"season_id": national.season_id, "entry_id": national_id}),
            province=province, provincial_season_id=season.season_id, provincial_entry_id=entry.entry_id,
            via="platform", provincial_grade=review.grade, provincial_grade_label=review.grade_label,
            provincial_score=Decimal(review.combined_score) if review.combined_score else None,
            provincial_certificate_no=review.certificate_no, recommended_on=now.astimezone(_zone(season)).date(),
            note=recommendation.note,
        )
        provenance = replace(context, source=Source(province=province, external_id=entry.entry_id))
        received.receive_nationally(**stamp_in_season(arrival, provenance, national, now))
        slate.add(national_id)
        result = recorded(review, "NationalRecommendationMade", **identity(review)) | {
            "created": True, "national_season_id": national.season_id, "national_entry_id": national_id,
        }
        return self.save_once([review, received, slate], result, idempotency)

    def take_feed_national_recommendation(
        self, seasons: Mapping[str, SeasonView], entries: Mapping[str, EntryView], record: FeedRecord, work: Work,
        context: CommandContext,
    ) -> EntryReview:
        """A province's feed record `national_recommendation`: its entry becomes a national entry of the national season.

        Checked at the instant the province recorded it (`occurred_at`, else its arrival) against the national
        season's window; the province's own recommendation of the entry is on record (it came by the same feed)."""
        season, form, entry = feed_subject(seasons, entries, record, NationalRecommendationRecordForm)
        national = check_national_season(seasons.get(form.national_season_id), form.national_season_id, season,
                                         "data.national_season_id")
        now = self.clock()
        check_not_future(form.recommended_on, now, season, "data.recommended_on", "feed.national.date.future")
        at = record.occurred_at or now
        if at > now:
            raise RuleViolation("occurred_at", "feed.national.date.future",
                                f"occurred_at {shown(at)} lies after now ({shown(now)}, Asia/Shanghai)")
        national.check_window_open(Stage.RECOMMENDATION, at, "data.national_season_id")
        provincial = work.get(provincial_recommendation_id(season.season_id, entry.entry_id))
        if provincial is None:
            raise RuleViolation(
                "data.entry", "feed.national.not_recommended",
                f"entry {form.entry} has no recommendation from the province on record (yet): send its recommendation "
                "record first, then this record again",
            )
        national_id = national_entry_id(national.season_id, season.season_id, entry.entry_id)
        if work.get(entry_review_id(national.season_id, national_id)) is not None:
            raise Conflict("data.entry", "national.duplicate",
                                f"entry {form.entry} is already a national entry of {national.season_id} ({national_id})")
        received, slate = self._national_entry(national, record.province, national_id, "data.national_season_id", work)
        result = work.get(provincial_result_id(season.season_id, entry.entry_id))
        graded = result.form if result is not None else {}
        arrival = NationalEntryReceived(
            **(summary(entry) | {"season_id": national.season_id, "entry_id": national_id}),
            province=record.province, provincial_season_id=season.season_id, provincial_entry_id=entry.entry_id,
            via="feed", provincial_grade=graded.get("grade"), provincial_grade_label=graded.get("grade_label"),
            provincial_score=graded.get("score"), provincial_certificate_no=graded.get("certificate_no"),
            recommended_on=form.recommended_on, note=form.note,
        )
        received.receive_nationally(**stamp(arrival, context, season_id=national.season_id,
                                            organizer=national.organizer))
        slate.add(national_id)
        work.add(received, slate)
        return received

    def _national_entry(
        self, national: SeasonView, province: str, national_id: str, field: str, work: Work | None = None
    ) -> tuple[EntryReview, ProvinceSlate]:
        """The national entry to open and the province's slate, once the province's quota allows one more."""
        slate_key = province_slate_id(national.season_id, province)
        slate: ProvinceSlate | None
        if work is not None:
            slate = work.get(slate_key)
        else:
            slate = self.repository.get(slate_key) if slate_key in self.repository else None
        check_province_quota(national, slate, province, field)
        if work is None and self._find_review(national.season_id, national_id) is not None:
            raise Conflict(field, "national.duplicate",
                                f"the national season {national.season_id} already has this entry ({national_id})")
        return EntryReview(national.season_id, national_id), slate or ProvinceSlate(national.season_id, province)

    # ------------------------------------------------------------ reading the write model

    # ------------------------------------------------------------ a province's feed (provincial facts)

    def take_feed_recommendation(
        self, seasons: Mapping[str, SeasonView], entries: Mapping[str, EntryView], record: FeedRecord, work: Work,
        context: CommandContext,
    ) -> ProvincialRecord:
        """The province's recommendation of its entry: recorded once per entry, amended by higher versions."""
        season, form, entry = feed_subject(seasons, entries, record, ProvincialRecommendationForm)
        check_not_future(form.recommended_on, self.clock(), season, "data.recommended_on",
                         "feed.recommendation.date.future")
        fields = form.model_dump() | {"recommender_id": entry.recommender_id}
        return self._provincial(
            work, record, context, season, entry, provincial_recommendation_id(season.season_id, entry.entry_id),
            ProvincialRecommendation, ProvincialRecommendationRecorded(**self._provincial_keys(record, entry), **fields),
            ProvincialRecommendationAmended(**self._provincial_keys(record, entry), **fields), "recommendation",
        )

    def take_feed_result(
        self, seasons: Mapping[str, SeasonView], entries: Mapping[str, EntryView], record: FeedRecord, work: Work,
        context: CommandContext,
    ) -> ProvincialRecord:
        """The province's published result of its entry: a band of the season with a score in it, after its recommendation."""
        season, form, entry = feed_subject(seasons, entries, record, ProvincialResultForm)
        label = grade_label(season, form)
        check_not_future(form.published_on, self.clock(), season, "data.published_on", "feed.result.date.future")
        if work.get(provincial_recommendation_id(season.season_id, entry.entry_id)) is None:
            raise RuleViolation(
                "data.entry", "feed.result.not_recommended",
                f"entry {form.entry} has no recommendation from the province (yet): send its recommendation record "
                "first, then this result again",
            )
        fields = form.model_dump() | {"grade_label": label}
        return self._provincial(
            work, record, context, season, entry, provincial_result_id(season.season_id, entry.entry_id),
            ProvincialResult, ProvincialResultRecorded(**self._provincial_keys(record, entry), **fields),
            ProvincialResultAmended(**self._provincial_keys(record, entry), **fields), "result",
        )

    @staticmethod
    def _provincial_keys(record: FeedRecord, entry: EntryView) -> dict[str, str]:
        return {"season_id": entry.season_id, "entry_id": entry.entry_id, "province": record.province,
                "credit_code": entry.credit_code}

    @staticmethod
    def _provincial(
        work: Work, record: FeedRecord, context: CommandContext, season: SeasonView, entry: EntryView,  # noqa: ARG004
        aggregate_id: Any, kind: type[ProvincialRecord], recorded_payload: Any, amended_payload: Any, what: str,
    ) -> ProvincialRecord:
        existing: ProvincialRecord | None = work.get(aggregate_id)
        where = {"season_id": season.season_id, "organizer": season.organizer}
        if existing is None:
            aggregate = kind(**stamp(recorded_payload, context, **where))
        else:
            existing.check_same_record(record.external_id, what)
            existing.amend(**stamp(amended_payload, context, **where))  # type: ignore[attr-defined]
            aggregate = existing
        work.add(aggregate)
        return aggregate

    def entry_review(self, season_id: str, entry_id: str) -> EntryReview:
        review = self._find_review(season_id, entry_id)
        if review is None:
            raise NotFound(f"entry {entry_id} in review of season {season_id} (it has not been recommended)")
        return review

    def _find_review(self, season_id: str, entry_id: str) -> EntryReview | None:
        aggregate_id = entry_review_id(season_id, entry_id)
        if aggregate_id not in self.repository:
            return None
        return self.repository.get(aggregate_id)

    def _slate(self, season_id: str, key: str) -> RecommenderSlate | None:
        aggregate_id = slate_id(season_id, key)
        return self.repository.get(aggregate_id) if aggregate_id in self.repository else None

    def _season_results(self, season_id: str) -> SeasonResults | None:
        aggregate_id = season_results_id(season_id)
        return self.repository.get(aggregate_id) if aggregate_id in self.repository else None


# ---------------------------------------------------------------- rules of the 推荐表


def summary(entry: EntryView) -> dict[str, Any]:
    return {
        "season_id": entry.season_id, "entry_id": entry.entry_id, "credit_code": entry.credit_code,
        "unit_name": entry.unit_name, "entry_name": entry.name, "kind": entry.kind, "qc_type": entry.qc_type,
        "team_type": entry.team_type, "team_size": entry.team_size,
    }


def identity(review: EntryReview) -> dict[str, str]:
    return {"season_id": review.season_id, "entry_id": review.entry_id}


def _zone(season: SeasonView) -> ZoneInfo:
    try:
        return ZoneInfo(season.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(SEASON_TIME_ZONE)


def check_not_future(day: date, now: datetime, season: SeasonView, field: str,
                     rule: str = "recommendation.date.future") -> None:
    today = now.astimezone(_zone(season)).date()
    if day > today:
        raise RuleViolation(field, rule,
                            f"{field} {day.isoformat()} lies after today ({today.isoformat()}, {season.time_zone})")


def check_declaration_and_dates(form: RecommendationForm, now: datetime, season: SeasonView) -> None:
    if not form.declaration.accepted:
        raise RuleViolation(
            "declaration.accepted", "recommendation.declaration.accepted",
            "the 推荐声明 is accepted and signed to recommend: " + season.declaration_text,
        )
    check_not_future(form.declaration.signed_on, now, season, "declaration.signed_on")
    check_not_future(form.filled_on, now, season, "filled_on")


def check_recommendation_judges(
    form: RecommendationForm, judges_by_certificate: Mapping[str, JudgeView], season_id: str
) -> list[str]:
    """评委: each judge on the 推荐表 is a judge of the season, by TGQ certificate number, named once."""
    certificates: list[str] = []
    for position, judge in enumerate(form.judges):
        if judge.certificate_no in certificates:
            raise RuleViolation(f"judges.{position}.certificate_no", "recommendation.judges.duplicate",
                                f"the judge with TGQ certificate {judge.certificate_no} is listed twice")
        if judge.certificate_no not in judges_by_certificate:
            raise RuleViolation(
                f"judges.{position}.certificate_no", "recommendation.judge.registered",
                f"no judge with TGQ 评委证书号 {judge.certificate_no} is registered for season {season_id}; the "
                "recommending unit registers its panel's judges first",
            )
        certificates.append(judge.certificate_no)
    return certificates


def feed_subject(
    seasons: Mapping[str, SeasonView], entries: Mapping[str, EntryView], record: FeedRecord, model: type[FormT]
) -> tuple[SeasonView, FormT, EntryView]:
    """A provincial record's season, form and entry (named by the province's external id), each known to review."""
    season = seasons.get(record.season)
    if season is None:
        raise RuleViolation(
            "season", "feed.season.unknown",
            f"season {record.season} is not known to review; the organizer opens it at the national platform",
        )
    form = model.model_validate(record.data)
    entry_id = str(feed_aggregate_id("entry", record.province, form.entry))
    return season, form, check_entry(entries.get(entry_id), form.entry, season)
