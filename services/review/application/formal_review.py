"""资料形式审查: the secretariat's decision on a recommended entry, and a failed entry's resubmission once corrected."""

from __future__ import annotations

from typing import Any

from contracts.recommended import FormalReviewFailed, FormalReviewPassed, FormalReviewResubmitted
from infra.errors import RuleViolation
from infra.eventstore import CommandContext, idempotent, recorded, stamp_in_season
from infra.idempotency import IdempotencyKey
from services.review.application.commands import DecideFormalReview, Resubmit
from services.review.application.store import ReviewStore, identity


class FormalReview(ReviewStore):
    """The formal review period's use cases; the entry's state rules are `EntryReview`'s."""

    @idempotent
    def decide_formal_review(self, command: DecideFormalReview, context: CommandContext,
                             idempotency: IdempotencyKey | None = None) -> dict[str, Any]:
        """Passed: FormalReviewPassed (judges are assigned from it). Failed: FormalReviewFailed with its reasons."""
        season, entry, decision = command.season, command.entry, command.decision
        now = self.clock()
        season.check_formal_review_period(now)
        review = self.entry_review(season.season_id, entry.entry_id)
        review.check_up_for_formal_review(entry.withdrawn)  # the entry's state is refused before the decision's input
        if decision.outcome == "passed" and decision.reasons:
            raise RuleViolation("reasons", "formal_review.reasons.without_failure",
                                "reasons are given for a failed formal review only")
        if decision.outcome != "passed" and not decision.reasons:
            raise RuleViolation("reasons", "formal_review.reasons.required",
                                "a failed formal review gives its reasons, so the entry can be corrected")
        if decision.outcome == "passed":
            passed = FormalReviewPassed(
                season_id=season.season_id, entry_id=entry.entry_id, credit_code=entry.credit_code,
                recommender_id=review.recommender_id, kind=entry.kind,
            )
            review.pass_formal_review(**stamp_in_season(passed, context, season, now), entry_withdrawn=entry.withdrawn)
            event = "FormalReviewPassed"
        else:
            failed = FormalReviewFailed(
                season_id=season.season_id, entry_id=entry.entry_id, credit_code=entry.credit_code,
                recommender_id=review.recommender_id, reasons=decision.reasons, entry_version=entry.version,
            )
            review.fail_formal_review(**stamp_in_season(failed, context, season, now), entry_withdrawn=entry.withdrawn)
            event = "FormalReviewFailed"
        return self.save_once([review], recorded(review, event, **identity(review)), idempotency)

    @idempotent
    def resubmit(self, command: Resubmit, context: CommandContext,
                 idempotency: IdempotencyKey | None = None) -> dict[str, Any]:
        """A failed entry, corrected by its unit (EntryAmended), goes back to formal review."""
        season, entry = command.season, command.entry
        now = self.clock()
        season.check_formal_review_period(now)
        review = self.entry_review(season.season_id, entry.entry_id)
        review.check_acted_on_by(context.actor.role, context.actor.org)
        payload = FormalReviewResubmitted(season_id=season.season_id, entry_id=entry.entry_id,
                                          entry_version=entry.version, note=command.resubmission.note)
        review.resubmit(**stamp_in_season(payload, context, season, now), entry_withdrawn=entry.withdrawn)
        return self.save_once([review], recorded(review, "FormalReviewResubmitted", **identity(review)), idempotency)
