"""Review's part of provincial feed intake: `recommendation` and `result` records, the province's facts of its entries,
and `national_recommendation` records, the province's recommendations to a national season.

The seasons and the province's entries (as submission's events told review) are read from review's
projection once per batch and handed to the synchronous intake as plain data.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from uuid import UUID

from fastapi import APIRouter, Request

from infra.feeds import FeedIntake, FeedLine, FeedRecord, feed_aggregate_id
from infra.feeds.routes import feed_router
from services.review.adapters.queries import entries_by_id, seasons_by_id
from services.review.adapters.read_model import ReviewReadModel
from services.review.application import ReviewApplication
from services.review.domain.entry_review import entry_review_id
from services.review.domain.national import national_entry_id, province_slate_id
from services.review.domain.provincial import provincial_recommendation_id, provincial_result_id
from services.review.domain.inbound import EntryView, SeasonView

RECORD_TYPES = ("recommendation", "result", "national_recommendation")


async def _intake(request: Request, lines: Sequence[FeedLine]) -> FeedIntake:
    read_model: ReviewReadModel = request.app.state.read_model
    records = [line.record for line in lines if line.record is not None and line.record.record_type in RECORD_TYPES]
    # a national recommendation names the national season it goes to besides the province's own
    wanted = {record.season for record in records} | {
        str(record.data["national_season_id"]) for record in records
        if record.record_type == "national_recommendation" and isinstance(record.data.get("national_season_id"), str)}
    seasons = await seasons_by_id(read_model, wanted)
    entries = await entries_by_id(read_model, {_entry_of(record) for record in records if record.season in seasons})
    return intake_of(request.app.state.application, seasons, entries)


def intake_of(application: ReviewApplication, seasons: Mapping[str, SeasonView],
              entries: Mapping[str, EntryView]) -> FeedIntake:
    """Review's intake of one batch, given the seasons and the province's entries as review's projection knows them."""
    handlers = {
        "recommendation": functools.partial(application.take_feed_recommendation, seasons, entries),
        "result": functools.partial(application.take_feed_result, seasons, entries),
        "national_recommendation": functools.partial(application.take_feed_national_recommendation, seasons, entries),
    }
    return FeedIntake(application, "review", handlers, touches={
        "recommendation": lambda record: [provincial_recommendation_id(record.season, _entry_of(record))],
        # a result reads its entry's recommendation
        "result": lambda record: [provincial_result_id(record.season, _entry_of(record)),
                                  provincial_recommendation_id(record.season, _entry_of(record))],
        "national_recommendation": _national_touches,
    })


def _national_touches(record: FeedRecord) -> list[UUID]:
    """The national entry a national recommendation becomes (first: what the record is about), and what it reads."""
    national_season_id = str(record.data["national_season_id"])
    entry_id = _entry_of(record)
    national_id = national_entry_id(national_season_id, record.season, entry_id)
    return [entry_review_id(national_season_id, national_id), provincial_recommendation_id(record.season, entry_id),
            provincial_result_id(record.season, entry_id), province_slate_id(national_season_id, record.province)]


def _entry_of(record: FeedRecord) -> str:
    return str(feed_aggregate_id("entry", record.province, str(record.data.get("entry"))))


def build_feed_router() -> APIRouter:
    return feed_router("review", _intake)
