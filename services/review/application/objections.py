"""异议: objections filed during the public notice, and their resolution (dismissed, or a regrade or the result withdrawn)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from contracts.codes import Stage
from contracts.published import EntryResultWithdrawn, ObjectionDecision, ObjectionFiled, ObjectionResolved
from contracts.scored import EntryRegraded
from infra.errors import Conflict, RuleViolation
from infra.eventstore import CommandContext, idempotent, recorded, stamp_in_season
from infra.idempotency import IdempotencyKey
from services.review.application.commands import FileObjection, ResolveObjection
from services.review.application.store import ReviewStore, identity
from services.review.domain.entry_review import EntryReview, ReviewProgress
from services.review.domain.scoring import band_for
from services.review.domain.inbound import SeasonView


class Objections(ReviewStore):
    """The notice period's objections; the entry's state rules are `EntryReview`'s."""

    @idempotent
    def file_objection(self, command: FileObjection, context: CommandContext,
                       idempotency: IdempotencyKey | None = None) -> dict[str, Any]:
        """异议: filed during the notice period against an entry on notice."""
        season, entry_id = command.season, command.entry_id
        now = self.clock()
        season.check_window_open(Stage.NOTICE, now)
        results = self._season_results(season.season_id)
        if results is None or entry_id not in results.on_notice:
            raise Conflict("entry_id", "objection.not_on_notice",
                           f"entry {entry_id} is not on the public notice of season {season.season_id}")
        review = self.entry_review(season.season_id, entry_id)
        objection_id = review.next_objection_id()
        payload = ObjectionFiled(season_id=season.season_id, entry_id=entry_id, objection_id=objection_id,
                                 **command.objection.model_dump())
        review.file_objection(**stamp_in_season(payload, context, season, now))
        result = recorded(review, "ObjectionFiled", **identity(review)) | {"objection_id": objection_id}
        return self.save_once([review], result, idempotency)

    @idempotent
    def resolve_objection(self, command: ResolveObjection, context: CommandContext,
                          idempotency: IdempotencyKey | None = None) -> dict[str, Any]:
        """Dismissed, or upheld with a compensating event: EntryRegraded or EntryResultWithdrawn."""
        season, entry_id, objection_id, decision = (command.season, command.entry_id, command.objection_id,
                                                    command.decision)
        now = self.clock()
        review = self.entry_review(season.season_id, entry_id)
        review.check_objection_open(objection_id)
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
            regraded = regrade_of(season, review, objection_id, decision)
        elif decision.remedy == "withdraw" and review.progress is ReviewProgress.RESULT_WITHDRAWN:
            raise Conflict("remedy", "objection.result_withdrawn", f"the result of entry {entry_id} is already withdrawn")
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


def regrade_of(season: SeasonView, review: EntryReview, objection_id: str, decision: ObjectionDecision) -> EntryRegraded:
    """The regrade an upheld objection decides: a grade of the season, or the band its score falls in, changed."""
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
