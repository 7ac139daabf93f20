"""推荐通道 and the direct channel: recommending an entry within its quota, accepting it directly, revoking it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate

from contracts.codes import Channel, Stage
from contracts.recommended import EntryAcceptedDirectly, EntryRecommended, RecommendationForm, RecommendationRevoked
from infra.errors import Conflict, NotPermitted, RuleViolation
from infra.eventstore import CommandContext, idempotent, recorded, stamp_in_season
from infra.idempotency import IdempotencyKey
from services.review.application.commands import AcceptDirectly, Recommend, Revoke
from services.review.application.store import ReviewStore, check_not_future, identity, summary
from services.review.domain.entry_review import EntryReview
from services.review.domain.quota import DIRECT_SLATE, RecommenderSlate, check_quota, check_rank_unique, counted_for_unit
from services.review.domain.source_rules import check_filings, check_not_cancelled, direct_eligibility
from services.review.domain.inbound import EntryView, JudgeView, SeasonView


class Recommendation(ReviewStore):
    """The recommendation window's use cases."""

    @idempotent
    def recommend(self, command: Recommend, context: CommandContext,
                  idempotency: IdempotencyKey | None = None) -> dict[str, Any]:
        """A recommending unit recommends one of its units' entries with the 推荐表, within its quota."""
        season, entry, recommender, form = command.season, command.entry, command.recommender, command.form
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
        check_entry_recommendable(season, entry)
        if entry.recommender_id != recommender.recommender_id:
            raise NotPermitted(
                "entry_id",
                "recommendation.recommender.not_the_units",
                f"entry {entry.entry_id} of unit {entry.credit_code} is recommended by "
                f"{entry.recommender_id or 'no recommending unit (the direct channel)'}, not by {recommender.recommender_id}; "
                "a recommending unit recommends its own units' entries only",
            )
        check_declaration_and_dates(form, now, season)
        certificates = check_recommendation_judges(form, command.judges_by_certificate, season.season_id)
        review = self._review_to_recommend(season.season_id, entry.entry_id)
        check_quota(
            recommender.effective_quota(season), recommender.quota is not None, entry,
            counted_for_unit(slate, entry, command.unit_entries), recommender.name,
        )
        check_rank_unique(slate, entry.entry_id, form.rank)
        payload = EntryRecommended(
            **summary(entry), **form.model_dump(), recommender_id=recommender.recommender_id,
            declaration_text=season.declaration_text,
        )
        review.recommend(**stamp_in_season(payload, context, season, now))
        slate = slate or RecommenderSlate(season.season_id, recommender.recommender_id)
        slate.add(entry.entry_id, entry.credit_code, entry.qc_type.value if entry.qc_type else None, entry.team_type,
                  form.rank)
        result = recorded(review, "EntryRecommended", **identity(review)) | {
            "created": True, "recommender_id": recommender.recommender_id, "judges": certificates,
        }
        return self.save_once([review, slate], result, idempotency)

    @idempotent
    def accept_directly(self, command: AcceptDirectly, context: CommandContext,
                        idempotency: IdempotencyKey | None = None) -> dict[str, Any]:
        """其他-市质协会员与质量推进部: the secretariat accepts an entry that no recommending unit recommends."""
        season, entry, direct = command.season, command.entry, command.direct
        now = self.clock()
        season.check_window_open(Stage.RECOMMENDATION, now)
        season.check_channel(Channel.DIRECT)
        check_entry_recommendable(season, entry)
        direct_id = direct.recommender_id if direct else None
        if entry.recommender_id and entry.recommender_id != direct_id:
            raise Conflict(
                "entry_id",
                "recommendation.direct.has_recommender",
                f"entry {entry.entry_id} of unit {entry.credit_code} has the recommending unit {entry.recommender_id}: "
                "it is recommended through 推荐通道; the secretariat accepts only entries of the direct channel",
            )
        eligibility = direct_eligibility(entry, command.acceptance.eligibility)  # 外商 / “专精特新”类 / 高新技术类民营企业
        review = self._review_to_recommend(season.season_id, entry.entry_id)
        key = direct_id or DIRECT_SLATE
        slate = self._slate(season.season_id, key)
        quota = direct.effective_quota(season) if direct else (season.quota)
        assert quota is not None
        check_quota(quota, bool(direct and direct.quota), entry, counted_for_unit(slate, entry, command.unit_entries),
                    "the direct channel")
        payload = EntryAcceptedDirectly(
            **summary(entry), **(command.acceptance.model_dump() | {"eligibility": eligibility}),
            recommender_id=direct_id,
        )
        review.accept_directly(**stamp_in_season(payload, context, season, now))
        slate = slate or RecommenderSlate(season.season_id, key)
        slate.add(entry.entry_id, entry.credit_code, entry.qc_type.value if entry.qc_type else None, entry.team_type,
                  None)
        result = recorded(review, "EntryAcceptedDirectly", **identity(review)) | {"created": True}
        return self.save_once([review, slate], result, idempotency)

    @idempotent
    def revoke(self, command: Revoke, context: CommandContext,
               idempotency: IdempotencyKey | None = None) -> dict[str, Any]:
        """Revoking a recommendation while the recommendation window is open frees its quota."""
        season, entry_id = command.season, command.entry_id
        now = self.clock()
        season.check_window_open(Stage.RECOMMENDATION, now)
        review = self.entry_review(season.season_id, entry_id)
        review.check_acted_on_by(context.actor.role, context.actor.org)
        payload = RecommendationRevoked(season_id=season.season_id, entry_id=entry_id,
                                        recommender_id=review.recommender_id, reason=command.revocation.reason)
        review.revoke(**stamp_in_season(payload, context, season, now))
        aggregates: list[Aggregate] = [review]
        slate = self._slate(season.season_id, review.slate_key)
        if slate is not None:
            slate.remove(entry_id)
            aggregates.append(slate)
        return self.save_once(aggregates, recorded(review, "RecommendationRevoked", **identity(review)), idempotency)

    def _review_to_recommend(self, season_id: str, entry_id: str) -> EntryReview:
        review = self._find_review(season_id, entry_id)
        if review is None:
            return EntryReview(season_id, entry_id)
        review.check_recommendable_again()
        return review


def check_entry_recommendable(season: SeasonView, entry: EntryView) -> None:
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
