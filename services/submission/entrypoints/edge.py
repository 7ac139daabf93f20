"""What submission's routes share: typed dependencies, the season a command runs in, the channel an actor uses,
and a page of documents as the caller may see them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any

from fastapi import Depends

from contracts.codes import Channel, Role
from infra.authorization import Grant
from infra.errors import NotFound
from infra.http.dependencies import application_of, read_model_of
from infra.masking import for_caller
from infra.pages import page
from services.submission.adapters.read_model import SubmissionReadModel
from services.submission.application import SubmissionApplication
from services.submission.domain.season import SeasonView

Application = Annotated[SubmissionApplication, Depends(application_of)]
ReadModel = Annotated[SubmissionReadModel, Depends(read_model_of)]

# The fields of an entry (and of a filing) the caller's scope is checked against.
ENTRY_SCOPE = ("organizer", "credit_code", "recommender_id")


async def season_of(read_model: SubmissionReadModel, season_id: str) -> SeasonView:
    """The season a command runs in, or 404."""
    season = await read_model.season_view(season_id)
    if season is None:
        raise NotFound(f"season {season_id}")
    return season


def channel_of(grant: Grant, own: Channel) -> Channel:
    """The organizer acts for the direct channel; everyone else through its own."""
    return Channel.DIRECT if grant.actor.role is Role.ORGANIZER else own


def shown(grant: Grant, documents: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The documents with their personal data as the caller may see it (infra.masking)."""
    return [for_caller(grant.caller, document) for document in documents]


async def entry_page(read_model: SubmissionReadModel, grant: Grant, query: dict[str, Any] | None,
                     skip: int, limit: int) -> dict[str, Any]:
    """A page of entries; a query that asked outside the caller's scope (None) finds none."""
    total, items = await read_model.find_entries(query, skip=skip, limit=limit) if query is not None else (0, [])
    return page(total, skip, limit, shown(grant, items))
