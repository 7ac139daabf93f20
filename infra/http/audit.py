"""The digest routes every service with events answers: an aggregate's chain, a season's heads.

Write services compute them from their event store, stats from its journal; the routes are the same,
so `qcp audit check` compares like with like. Idempotency records (`CommandRecord`) are bookkeeping,
never published, and are left out of every chain.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from contracts import Envelope
from contracts.codes import Role
from infra.authorization import (
    READ_EVERYWHERE,
    Grant,
    Policy,
    Scope,
)
from infra.digest import chain_report, head_of
from infra.eventstore import EventStoreApplication
from infra.http import Limit, Skip
from infra.http.security import Authorized

SeasonId = Annotated[str, Query(min_length=1, max_length=64)]
INDEX_BATCH = 1_000


class DigestSource(Protocol):
    """Where a service's envelopes come from, as recorded, for the digest routes."""

    service: str

    async def aggregate(self, aggregate_id: uuid.UUID) -> list[Envelope]:
        """Every envelope of the aggregate (any order); empty when it is unknown."""

    async def season(self, season_id: str, skip: int, limit: int,
                     organizer: str | None = None) -> tuple[int, list[list[Envelope]]]:
        """How many aggregates have events in the season, and one page of them (by aggregate id); with an
        organizer, only the aggregates none of whose events belongs to another organizer."""


# Digests: auditors and the national association read every province's; a province's staff its own seasons'.
DIGEST_POLICY: Policy = {
    ("GET", "/audit/aggregates/{aggregate_id}/digests"): {**READ_EVERYWHERE, Role.ORGANIZER: Scope.ORGANIZER},
    ("GET", "/audit/digests"): {**READ_EVERYWHERE, Role.ORGANIZER: Scope.ORGANIZER},
}


def organizer_scope(grant: Grant) -> str | None:
    """The organizer a caller's audit reads are limited to; None for the platform-wide roles."""
    return grant.constraints().get("organizer")


def in_scope(grant: Grant, envelopes: list[Envelope]) -> list[Envelope]:
    """The envelopes the caller may read: a province's staff those of its own organizer (and those that name
    none); the platform-wide roles every one. A page is narrowed, never refused: another province's record
    filed under this province's season does not hide the province's own."""
    organizer = organizer_scope(grant)
    if organizer is None:
        return envelopes
    return [item for item in envelopes if item.organizer in (None, organizer)]




async def aggregate_digests(aggregate_id: uuid.UUID, request: Request, grant: Authorized) -> dict[str, Any]:
    """An aggregate's digest chain; another province's aggregate answers as an unknown one."""
    source: DigestSource = request.state.digest_source
    envelopes = await source.aggregate(aggregate_id)
    if not envelopes or len(in_scope(grant, envelopes)) != len(envelopes):
        raise HTTPException(404, detail=f"aggregate {aggregate_id} is not known to the {source.service} service")
    return {"service": source.service} | chain_report(str(aggregate_id), envelopes)


async def season_digests(
    season_id: SeasonId, request: Request, grant: Authorized, skip: Skip = 0, limit: Limit = 100
) -> dict[str, Any]:
    """The heads of a season's aggregates; a province's staff see its own organizer's aggregates only."""
    source: DigestSource = request.state.digest_source
    total, page = await source.season(season_id, skip, limit, organizer_scope(grant))
    if total == 0:
        raise HTTPException(404, detail=f"season {season_id} has no events in the {source.service} service")
    return {
        "service": source.service,
        "season_id": season_id,
        "total": total,
        "skip": skip,
        "limit": limit,
        "aggregates": [head_of(chain_report(str(envelopes[0].aggregate_id), envelopes)) for envelopes in page],
    }


def build_digest_router(source_of: Callable[[Request], DigestSource]) -> APIRouter:
    """The digest routes over one service's source of envelopes."""

    def with_source(request: Request) -> None:
        request.state.digest_source = source_of(request)

    router = APIRouter(tags=["audit"], dependencies=[Depends(with_source)])
    router.add_api_route("/audit/aggregates/{aggregate_id}/digests", aggregate_digests, methods=["GET"],
                         summary="An aggregate's digest chain, oldest first")
    router.add_api_route("/audit/digests", season_digests, methods=["GET"],
                         summary="The head digest and version of every aggregate of a season, by aggregate id")
    return router


@dataclass
class SeasonIndex:
    """Which aggregates have events in which season, read incrementally from the notification log.

    Only membership is kept (and which organizers an aggregate's events name, to narrow a province's page):
    chains are always computed from the events as stored now, so a change to a stored event shows in the
    next answer.
    """

    position: int = 0
    members: dict[str, set[str]] = field(default_factory=dict)
    organizers: dict[str, set[str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def catch_up(self, application: EventStoreApplication) -> None:
        with self.lock:
            while True:
                notifications = application.recorder.select_notifications(
                    start=self.position, limit=INDEX_BATCH, inclusive_of_start=False
                )
                for notification in notifications:
                    event = application.mapper.to_domain_event(notification)
                    meta = getattr(event, "meta", {})
                    aggregate_id = str(notification.originator_id)
                    if meta.get("season_id"):
                        self.members.setdefault(meta["season_id"], set()).add(aggregate_id)
                    if meta.get("organizer"):
                        self.organizers.setdefault(aggregate_id, set()).add(meta["organizer"])
                if not notifications:
                    return
                self.position = notifications[-1].id

    def of_season(self, season_id: str, organizer: str | None) -> list[str]:
        """The season's aggregates, by id; with an organizer, those whose events name no other organizer."""
        members = self.members.get(season_id, set())
        if organizer is not None:
            members = {item for item in members if self.organizers.get(item, set()) <= {organizer}}
        return sorted(members)


class EventStoreDigests:
    """A write service's envelopes, straight from its event store."""

    def __init__(self, application: EventStoreApplication, service: str) -> None:
        self.application = application
        self.service = service
        self.index = SeasonIndex()

    async def aggregate(self, aggregate_id: uuid.UUID) -> list[Envelope]:
        return await asyncio.to_thread(self.application.history, aggregate_id)

    async def season(self, season_id: str, skip: int, limit: int,
                     organizer: str | None = None) -> tuple[int, list[list[Envelope]]]:
        def read() -> tuple[int, list[list[Envelope]]]:
            self.index.catch_up(self.application)
            with self.index.lock:
                members = self.index.of_season(season_id, organizer)
            page = [self.application.history(uuid.UUID(item)) for item in members[skip : skip + limit]]
            return len(members), page

        return await asyncio.to_thread(read)


def event_store_digests(request: Request) -> DigestSource:
    """The API's digest source, made on first use and kept with the app (its season index grows with the log)."""
    source = getattr(request.app.state, "audit_digests", None)
    if source is None:
        source = EventStoreDigests(request.app.state.application, request.app.state.settings.service)
        request.app.state.audit_digests = source
    return source
