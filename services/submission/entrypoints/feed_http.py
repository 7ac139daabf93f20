"""Submission's part of provincial feed intake: `entry` records become entries (QC achievements or team experiences).

What the rules need of registration (the seasons, the registered units) is read from submission's
projection once per batch, in bulk, and handed to the synchronous intake as plain data.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from fastapi import APIRouter, Request

from infra.feeds import FeedIntake, FeedLine, feed_aggregate_id
from infra.feeds.routes import feed_router
from infra.http.dependencies import application_of, read_model_of
from services.submission.adapters.read_model import SubmissionReadModel
from services.submission.domain.unit_entries import unit_entries_id


async def _intake(request: Request, lines: Sequence[FeedLine]) -> FeedIntake:
    read_model: SubmissionReadModel = await read_model_of(request)
    records = [line.record for line in lines if line.record is not None and line.record.record_type == "entry"]
    season_ids = sorted({record.season for record in records})
    credit_codes = sorted({str(record.data.get("credit_code", "")).strip().upper() for record in records})
    seasons = await read_model.season_views(season_ids)
    units = await read_model.registered_units(list(seasons), credit_codes) if seasons and credit_codes else {}
    application = await application_of(request)
    handler = functools.partial(application.take_feed_entry, seasons, units)
    # an entry is about itself; it reads its unit's counted entries where the season limits them
    return FeedIntake(application, "submission", {"entry": handler}, touches={
        "entry": lambda record: [feed_aggregate_id("entry", record.province, record.external_id),
                                 unit_entries_id(record.season, str(record.data.get("credit_code", "")).strip().upper())]})


def build_feed_router() -> APIRouter:
    return feed_router("submission", _intake)
