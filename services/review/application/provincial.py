"""A province's feed of provincial facts: its recommendation and its published result of an entry, recorded or amended."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from contracts.fed import (
    ProvincialRecommendationAmended,
    ProvincialRecommendationForm,
    ProvincialRecommendationRecorded,
    ProvincialResultAmended,
    ProvincialResultForm,
    ProvincialResultRecorded,
)
from contracts.national import NationalRecommendationRecordForm
from infra.errors import RuleViolation
from infra.eventstore import CommandContext, stamp
from infra.feeds import FeedRecord, Work, feed_aggregate_id
from services.review.application.store import ReviewStore, check_not_future
from services.review.domain.provincial import (
    ProvincialRecommendation,
    ProvincialRecord,
    ProvincialResult,
    check_entry,
    grade_label,
    provincial_recommendation_id,
    provincial_result_id,
)
from services.review.domain.inbound import EntryView, SeasonView

FormT = TypeVar("FormT", ProvincialRecommendationForm, ProvincialResultForm, NationalRecommendationRecordForm)


class ProvincialRecords(ReviewStore):
    """The feed intake's handlers for provincial facts (run by the feed's unit of work, `Work`)."""

    def take_feed_recommendation(
        self, seasons: Mapping[str, SeasonView], entries: Mapping[str, EntryView], record: FeedRecord, work: Work,
        context: CommandContext,
    ) -> ProvincialRecord:
        """The province's recommendation of its entry: recorded once per entry, amended by higher versions."""
        season, form, entry = feed_subject(seasons, entries, record, ProvincialRecommendationForm)
        check_not_future(form.recommended_on, self.clock(), season, "data.recommended_on",
                         "feed.recommendation.date.future")
        fields = form.model_dump() | {"recommender_id": entry.recommender_id}
        return provincial_record(
            work, record, context, season, provincial_recommendation_id(season.season_id, entry.entry_id),
            ProvincialRecommendation, ProvincialRecommendationRecorded(**provincial_keys(record, entry), **fields),
            ProvincialRecommendationAmended(**provincial_keys(record, entry), **fields), "recommendation",
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
        return provincial_record(
            work, record, context, season, provincial_result_id(season.season_id, entry.entry_id),
            ProvincialResult, ProvincialResultRecorded(**provincial_keys(record, entry), **fields),
            ProvincialResultAmended(**provincial_keys(record, entry), **fields), "result",
        )


def provincial_keys(record: FeedRecord, entry: EntryView) -> dict[str, str]:
    return {"season_id": entry.season_id, "entry_id": entry.entry_id, "province": record.province,
            "credit_code": entry.credit_code}


def provincial_record(
    work: Work, record: FeedRecord, context: CommandContext, season: SeasonView, aggregate_id: Any,
    kind: type[ProvincialRecord], recorded_payload: Any, amended_payload: Any, what: str,
) -> ProvincialRecord:
    """Recorded the first time; amended by a later version of the same record."""
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
