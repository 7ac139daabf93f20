"""Review rounds and the grade: a gate round decided once (晋级), and an entry graded from its rounds' scores."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from eventsourcing.persistence import IntegrityError

from contracts.review_rounds import GateRule
from contracts.scored import EntryAdvanced, EntryGraded, EntryNotAdvanced, StageResult
from infra.errors import Conflict
from infra.eventstore import CommandContext, idempotent, recorded, stamp_in_season
from infra.idempotency import IdempotencyKey
from services.review.application.commands import DecideGate, Grade
from services.review.application.store import ReviewStore, identity
from services.review.domain.entry_review import ReviewProgress
from services.review.domain.rounds import (
    RoundGate,
    decide_gate,
    gate_id,
    gate_rule,
    next_round,
    ranked,
    review_round,
    round_weights,
    rounds_taken,
)
from services.review.domain.scoring import band_for, combined_score, stage_result


class Rounds(ReviewStore):
    """Gates between rounds and the grade (成果等级) at the end of them."""

    @idempotent
    def grade(self, command: Grade, context: CommandContext,
              idempotency: IdempotencyKey | None = None) -> dict[str, Any]:
        """The stages' scores (trimmed mean from 5 judges), combined by the season's weights, and the band reached."""
        season, entry_id = command.season, command.entry_id
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
            raise Conflict("entry_id", "grade.scores.missing", f"entry {entry_id} has no judges' scores to grade from")
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

    @idempotent
    def advance(self, command: DecideGate, context: CommandContext,
                idempotency: IdempotencyKey | None = None) -> dict[str, Any]:
        """Decide a gate round once: EntryAdvanced for the entries that go on, EntryNotAdvanced with the reason for
        the others; the entries in review awaiting this gate are decided."""
        season, decision = command.season, command.decision
        now = self.clock()
        item = review_round(season, command.round_code, field="round_code")
        if item.gate is None:
            raise Conflict("round_code", "gate.not_a_gate",
                           f"{item.label} ({item.code}) is not a gate: every entry in it goes on")
        following = next_round(season, item.code)
        assert following is not None  # a gate is never the last round (season.rounds.gate_last)
        decided: RoundGate | None = self._get(gate_id(season.season_id, item.code))
        if decided is not None:
            raise Conflict(
                "round_code", "gate.decided",
                f"{item.label} ({item.code}) was decided already: {len(decided.advanced)} went on, "
                f"{len(decided.not_advanced)} did not",
            )
        rule = gate_rule(item, GateRule(method=decision.method, top_n=decision.top_n, threshold=decision.threshold),
                         decision.entry_ids)
        reviews = [review for entry_id in sorted(set(command.in_review))
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
        gate = RoundGate(season.season_id, item.code, rule.method.value, advanced,
                         [outcome.candidate.entry_id for outcome in outcomes if not outcome.advanced])
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
