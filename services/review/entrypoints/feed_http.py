"""Review's part of provincial feed intake: `recommendation` and `result` records, the province's facts of its entries.

The seasons and the province's entries (as submission's events told review) are read from review's
projection once per batch and handed to the synchronous intake as plain data.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from fastapi import APIRouter, Request

from infra.feeds import FeedIntake, FeedLine, FeedRecord, feed_aggregate_id, feed_router
from services.review.adapters.read_model import ReviewReadModel
from services.review.domain.provincial import provincial_recommendation_id, provincial_result_id
from services.review.domain.views import EntryView, SeasonView

RECORD_TYPES = ("recommendation", "result")


async def _intake(request: Request, lines: Sequence[FeedLine]) -> FeedIntake:
    read_model: ReviewReadModel = request.app.state.read_model
    records = [line.record for line in lines if line.record is not None and line.record.record_type in RECORD_TYPES]
    seasons = {}
    for season_id in sorted({record.season for record in records}):
        document = await read_model.season(season_id)
        if document is not None:
            seasons[season_id] = SeasonView.from_document(document)
    entry_ids = sorted({_entry_of(record) for record in records if record.season in seasons})
    entries = {}
    if entry_ids:
        async for document in read_model.entries.find({"entry_id": {"$in": entry_ids}}):
            entries[document["entry_id"]] = EntryView.from_document(document)
    application = request.app.state.application
    handlers = {
        "recommendation": functools.partial(application.take_feed_recommendation, seasons, entries),
        "result": functools.partial(application.take_feed_result, seasons, entries),
    }
    return FeedIntake(application, "review", handlers, touches={
        "recommendation": lambda record: [provincial_recommendation_id(record.season, _entry_of(record))],
        "result": lambda record: [provincial_result_id(record.season, _entry_of(record))],
    })


def _entry_of(record: FeedRecord) -> str:
    return str(feed_aggregate_id("entry", record.province, str(record.data.get("entry"))))


def build_feed_router() -> APIRouter:
    return feed_router("review", _intake)
