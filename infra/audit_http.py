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

from fastapi import APIRouter, HTTPException, Query, Request

from contracts import Actor, Envelope
from contracts.codes import Role
from infra.authorization import READ_EVERYWHERE, Policy, Scope
from infra.auth import AuthenticatedActor, require_role
from infra.digest import chain_report, head_of
from infra.eventstore import EventStoreApplication
from infra.http import Limit, Skip

AUDIT_ROLES = (Role.AUDITOR, Role.ORGANIZER, Role.NATIONAL)
SeasonId = Annotated[str, Query(min_length=1, max_length=64)]
INDEX_BATCH = 1_000


class DigestSource(Protocol):
    """Where a service's envelopes come from, as recorded, for the digest routes."""

    service: str

    async def aggregate(self, aggregate_id: uuid.UUID) -> list[Envelope]:
        """Every envelope of the aggregate (any order); empty when it is unknown."""

    async def season(self, season_id: str, skip: int, limit: int) -> tuple[int, list[list[Envelope]]]:
        """How many aggregates have events in the season, and one page of them (by aggregate id)."""


def require_audit_scope(actor: Actor, envelopes: list[Envelope]) -> None:
    """Auditors and the national association see everything; an organizer only its own seasons' events."""
    require_role(actor, *AUDIT_ROLES)
    if actor.role == Role.ORGANIZER and any(item.organizer not in (None, actor.org) for item in envelopes):
        raise HTTPException(403, detail=f"these events belong to another organizer; the token is scoped to {actor.org}")


# Digests: auditors and the national association read every province's; a province's staff its own seasons'.
DIGEST_POLICY: Policy = {
    ("GET", "/audit/aggregates/{aggregate_id}/digests"): {**READ_EVERYWHERE, Role.ORGANIZER: Scope.ORGANIZER},
    ("GET", "/audit/digests"): {**READ_EVERYWHERE, Role.ORGANIZER: Scope.ORGANIZER},
}


def build_digest_router(source_of: Callable[[Request], DigestSource]) -> APIRouter:
    router = APIRouter(tags=["audit"])

    @router.get("/audit/aggregates/{aggregate_id}/digests", summary="An aggregate's digest chain, oldest first")
    async def aggregate_digests(aggregate_id: uuid.UUID, request: Request, actor: AuthenticatedActor) -> dict[str, Any]:
        require_role(actor, *AUDIT_ROLES)
        source = source_of(request)
        envelopes = await source.aggregate(aggregate_id)
        if not envelopes:
            raise HTTPException(404, detail=f"aggregate {aggregate_id} is not known to the {source.service} service")
        require_audit_scope(actor, envelopes)
        return {"service": source.service} | chain_report(str(aggregate_id), envelopes)

    @router.get("/audit/digests", summary="The head digest and version of every aggregate of a season, by aggregate id")
    async def season_digests(
        season_id: SeasonId, request: Request, actor: AuthenticatedActor, skip: Skip = 0, limit: Limit = 100
    ) -> dict[str, Any]:
        require_role(actor, *AUDIT_ROLES)
        source = source_of(request)
        total, page = await source.season(season_id, skip, limit)
        if total == 0:
            raise HTTPException(404, detail=f"season {season_id} has no events in the {source.service} service")
        require_audit_scope(actor, [item for envelopes in page for item in envelopes])
        return {
            "service": source.service,
            "season_id": season_id,
            "total": total,
            "skip": skip,
            "limit": limit,
            "aggregates": [head_of(chain_report(str(envelopes[0].aggregate_id), envelopes)) for envelopes in page],
        }

    return router


@dataclass
class SeasonIndex:
    """Which aggregates have events in which season, read incrementally from the notification log.

    Only membership is kept: chains are always computed from the events as stored now, so a change
    to a stored event shows in the next answer.
    """

    position: int = 0
    members: dict[str, set[str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def catch_up(self, application: EventStoreApplication) -> None:
        with self.lock:
            while True:
                notifications = application.recorder.select_notifications(
                    start=self.position, limit=INDEX_BATCH, inclusive_of_start=False
                )
                for notification in notifications:
                    event = application.mapper.to_domain_event(notification)
                    season_id = getattr(event, "meta", {}).get("season_id")
                    if season_id:
                        self.members.setdefault(season_id, set()).add(str(notification.originator_id))
                if not notifications:
                    return
                self.position = notifications[-1].id


class EventStoreDigests:
    """A write service's envelopes, straight from its event store."""

    def __init__(self, application: EventStoreApplication, service: str) -> None:
        self.application = application
        self.service = service
        self.index = SeasonIndex()

    async def aggregate(self, aggregate_id: uuid.UUID) -> list[Envelope]:
        return await asyncio.to_thread(self.application.history, aggregate_id)

    async def season(self, season_id: str, skip: int, limit: int) -> tuple[int, list[list[Envelope]]]:
        def read() -> tuple[int, list[list[Envelope]]]:
            self.index.catch_up(self.application)
            members = sorted(self.index.members.get(season_id, ()))
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
