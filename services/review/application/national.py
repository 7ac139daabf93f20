"""推荐全国: a province's graded entry becomes an entry of the national season, from the platform or a province's feed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any

from contracts.codes import Stage
from contracts.envelope import Source
from contracts.national import NationalEntryReceived, NationalRecommendationRecordForm
from contracts.published import NationalRecommendationMade
from infra.errors import Conflict, RuleViolation
from infra.eventstore import CommandContext, idempotent, recorded, stamp, stamp_in_season
from infra.feeds import FeedRecord, Work
from infra.idempotency import IdempotencyKey
from infra.windows import shown
from services.review.application.commands import RecommendNationally
from services.review.application.provincial import feed_subject
from services.review.application.store import ReviewStore, check_not_future, identity, summary, zone_of
from services.review.domain.entry_review import EntryReview, entry_review_id
from services.review.domain.national import (
    ProvinceSlate,
    check_national_season,
    check_province_quota,
    national_entry_id,
    province_of,
    province_slate_id,
)
from services.review.domain.provincial import provincial_recommendation_id, provincial_result_id
from services.review.domain.inbound import EntryView, SeasonView


class National(ReviewStore):
    """The national season's entries, each received within its province's quota."""

    @idempotent
    def recommend_nationally(self, command: RecommendNationally, context: CommandContext,
                             idempotency: IdempotencyKey | None = None) -> dict[str, Any]:
        """推荐全国: the organizer sends a graded entry of its choice (好中选优) to the national season, which receives it
        as a national entry in the same transaction (so a refusal stores nothing on either side)."""
        season, entry, recommendation = command.season, command.entry, command.recommendation
        now = self.clock()
        national = check_national_season(command.national_season, recommendation.national_season_id, season,
                                         "national_season_id")
        national.check_window_open(Stage.RECOMMENDATION, now, "national_season_id")
        review = self.entry_review(season.season_id, entry.entry_id)
        review.check_nationally_recommendable()
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
            provincial_certificate_no=review.certificate_no, recommended_on=now.astimezone(zone_of(season)).date(),
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
        if work.get(provincial_recommendation_id(season.season_id, entry.entry_id)) is None:
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
        slate: ProvinceSlate | None = work.get(slate_key) if work is not None else self._get(slate_key)
        check_province_quota(national, slate, province, field)
        if work is None and self._find_review(national.season_id, national_id) is not None:
            raise Conflict(field, "national.duplicate",
                           f"the national season {national.season_id} already has this entry ({national_id})")
        return EntryReview(national.season_id, national_id), slate or ProvinceSlate(national.season_id, province)
