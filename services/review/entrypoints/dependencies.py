"""The typed dependencies and loaders review's routes share: its application and read model, and what a command
reads of review's projection (a season, an entry with its unit, the unit's other entries, the season's judges)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from infra.errors import NotFound
from infra.http.dependencies import application_of, read_model_of
from services.review.adapters.documents import entry_from_document, judge_from_document, season_from_document
from services.review.adapters.read_model import ReviewReadModel
from services.review.application import ReviewApplication
from services.review.domain.inbound import EntryView, JudgeView, SeasonView

Application = Annotated[ReviewApplication, Depends(application_of)]
ReadModel = Annotated[ReviewReadModel, Depends(read_model_of)]


async def season_of(read_model: ReviewReadModel, season_id: str) -> SeasonView:
    document = await read_model.season(season_id)
    if document is None:
        raise NotFound(f"season {season_id}")
    return season_from_document(document)


async def entry_of(read_model: ReviewReadModel, season_id: str, entry_id: str) -> EntryView:
    document = await read_model.entry(season_id, entry_id)
    if document is None:
        raise NotFound(f"entry {entry_id} of season {season_id} (submitted entries reach review within seconds)")
    unit = await read_model.unit(season_id, document["credit_code"])
    return entry_from_document(document, unit)


async def unit_entries_of(read_model: ReviewReadModel, entry: EntryView) -> dict[str, EntryView]:
    """The entry's unit's entries of the season (the quota per unit counts them)."""
    unit = await read_model.unit(entry.season_id, entry.credit_code)
    documents = await read_model.entries_of_unit(entry.season_id, entry.credit_code)
    return {item["entry_id"]: entry_from_document(item, unit) for item in documents}


async def judges_of(read_model: ReviewReadModel, season_id: str) -> list[JudgeView]:
    return [judge_from_document(item) for item in await read_model.judges_of(season_id)]
