"""Results: the guiding units' approval (指导单位审定), the public notice (公示), publication with certificates (发布)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from contracts.codes import Stage
from contracts.published import EntryPublished, GuidingUnitsApproved, NoticeOpened, ResultsPublished
from infra.errors import Conflict, NotFound, RuleViolation
from infra.eventstore import CommandContext, idempotent, recorded, stamp_in_season
from infra.idempotency import IdempotencyKey
from infra.windows import shown
from services.review.application.commands import Approve, OpenNotice, Publish
from services.review.application.store import ReviewStore, check_not_future
from services.review.domain.entry_review import EntryReview, ReviewProgress
from services.review.domain.results import SeasonResults, certificate_no, season_results_id


class Results(ReviewStore):
    """From the graded entries to the published results."""

    @idempotent
    def approve(self, command: Approve, context: CommandContext,
                idempotency: IdempotencyKey | None = None) -> dict[str, Any]:
        """指导单位审定: the guiding units approve the graded entries (all of them, or those named)."""
        season, approval = command.season, command.approval
        now = self.clock()
        check_not_future(approval.approved_on, now, season, "approved_on", "approval.date.future")
        named = approval.entry_ids is not None
        reviews: list[EntryReview] = []
        for position, entry_id in enumerate(approval.entry_ids if named else command.graded):
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
    def open_notice(self, command: OpenNotice, context: CommandContext,
                    idempotency: IdempotencyKey | None = None) -> dict[str, Any]:
        """面向社会公示: the approved entries are public for the season's notice window."""
        season = command.season
        now = self.clock()
        season.check_window_open(Stage.NOTICE, now)
        if season_results_id(season.season_id) in self.repository:
            raise Conflict("season_id", "notice.already_opened",
                           f"the notice of season {season.season_id} is already open")
        entry_ids = [
            entry_id for entry_id in command.approved
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
    def publish(self, command: Publish, context: CommandContext,
                idempotency: IdempotencyKey | None = None) -> dict[str, Any]:
        """After the notice period: the results on notice are published with certificate numbers, sequential per season."""
        season = command.season
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



