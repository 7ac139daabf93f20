"""Stats' audit API: an entry's history across the services, its state as of an instant, and the digest routes
computed from the journal (the same routes the write services answer from their event stores)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import AwareDatetime

from infra.http.audit import DigestSource, build_digest_router, in_scope
from infra.authorization import Grant
from infra.http import PathId
from infra.http.security import Authorized
from services.stats.audit.history import causes_of, history_item, provincial_entry_of, recorded_order
from services.stats.audit.journal import Journal, JournalDigests
from services.stats.audit.state import entry_state

AsOf = Annotated[
    AwareDatetime,
    Query(description="an instant with its offset, e.g. 2026-03-01T10:00:00+08:00 or 2026-03-01T02:00:00Z"),
]


def journal_of(request: Request) -> Journal:
    return Journal(request.app.state.read_model.database)


def journal_digests(request: Request) -> DigestSource:
    return JournalDigests(journal_of(request))


async def _entry_events(request: Request, grant: Grant, entry_id: str) -> list[tuple[Any, dict[str, Any]]]:
    """The entry's events as recorded, with their causes; a province's staff see its own organizer's only, and
    an entry with none of them answers as an unknown one."""
    journal = journal_of(request)
    events = await journal.of_entry(entry_id)
    events += await journal.by_event_ids(causes_of([envelope for envelope, _ in events]))
    # a national entry's history starts at its unit: the provincial entry's events come first (national flow)
    provincial = provincial_entry_of(entry_id, [envelope for envelope, _ in events])
    if provincial is not None:
        seen = {envelope.event_id for envelope, _ in events}
        events += [item for item in await journal.of_entry(provincial) if item[0].event_id not in seen]
    visible = {envelope.event_id for envelope in in_scope(grant, [envelope for envelope, _ in events])}
    events = [item for item in events if item[0].event_id in visible]
    if not events:
        raise HTTPException(404, detail=f"entry {entry_id} is not known to stats")
    return sorted(events, key=lambda item: recorded_order(item[0]))


def _path(entry_id: str, events: list[tuple[Any, dict[str, Any]]]) -> list[dict[str, Any]]:
    """The entries the history runs through, from the unit's to this one, each with its season."""
    provincial = provincial_entry_of(entry_id, [envelope for envelope, _ in events])
    steps = [provincial, entry_id] if provincial else [entry_id]
    seasons = {envelope.payload.get("entry_id"): envelope.season_id for envelope, _ in events}
    return [{"entry_id": step, "season_id": seasons.get(step)} for step in steps]


async def entry_history(entry_id: PathId, request: Request, grant: Authorized) -> dict[str, Any]:
    """Every event of an entry across the services, as recorded."""
    events = await _entry_events(request, grant, entry_id)
    return {
        "entry_id": entry_id,
        "path": _path(entry_id, events),
        "events": [history_item(envelope, delivery) for envelope, delivery in events],
        "total": len(events),
        "aggregates": sorted({str(envelope.aggregate_id) for envelope, _ in events}),
    }


async def entry_state_as_of(entry_id: PathId, as_of: AsOf, request: Request, grant: Authorized) -> dict[str, Any]:
    """The entry as the platform knew it at an instant (as_of)."""
    events = await _entry_events(request, grant, entry_id)
    return entry_state(entry_id, [envelope for envelope, _ in events], as_of)


def register_audit_routes(router: APIRouter) -> None:
    router.include_router(build_digest_router(journal_digests))
    router.add_api_route("/audit/entries/{entry_id}/history", entry_history, methods=["GET"], tags=["audit"],
                         summary="Every event of an entry across the services, as recorded")
    router.add_api_route("/audit/entries/{entry_id}/state", entry_state_as_of, methods=["GET"], tags=["audit"],
                         summary="The entry as the platform knew it at an instant (as_of)")
