"""Review's HTTP API for review rounds: the season's rounds with who takes part, advancing a gate, and per round
who advanced and who did not, and why (each answer narrowed to the caller's grant, `policy.py`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse

from contracts.codes import Channel
from contracts.scored import GateDecision
from infra.authorization import Grant
from infra.http import PathId, execute
from infra.http.security import Authorized
from services.review.application.commands import DecideGate
from services.review.domain.entry_review import ReviewProgress
from services.review.domain.rounds import review_round
from services.review.entrypoints.dependencies import Application, ReadModel, season_of

RoundPath = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,39}$", description="a round's code, e.g. initial_review")]
OUTCOME_KEYS = ("entry_id", "unit_name", "entry_name", "kind", "qc_type", "team_type", "recommender_id")


def scoped(grant: Grant, season_id: str) -> dict[str, Any]:
    """The season's reviews the caller reaches: its unit's or its recommending unit's, or all of them."""
    query = grant.query({"season_id": season_id}, fields=("credit_code", "recommender_id"))
    assert query is not None  # no filter on a scoped field is given
    return query


async def advance(season_id: PathId, round_code: RoundPath, body: GateDecision, request: Request, grant: Authorized,
                  application: Application, read_model: ReadModel) -> JSONResponse:
    season = await season_of(read_model, season_id)
    review_round(season, round_code, field="round_code")
    in_review = await read_model.entry_ids(season_id, ReviewProgress.IN_REVIEW)
    return await execute(request, grant.actor, Channel.ORGANIZER, application.advance,
                         DecideGate(season, round_code, body, in_review), body=body)


async def rounds(season_id: PathId, grant: Authorized, read_model: ReadModel) -> dict[str, Any]:
    season = await season_of(read_model, season_id)
    base = scoped(grant, season_id)
    items = []
    for item in season.review_rounds:
        advanced, stopped = await read_model.round_outcome_counts(base, item.code)
        items.append(item.model_dump(mode="json") | {
            "window_of_season": item.window is None, "advanced": advanced, "not_advanced": stopped,
        })
    formal = season.formal_review.model_dump(mode="json") if season.formal_review else None
    return {"season_id": season_id, "formal_review": formal, "rounds": items}


async def round_outcomes(season_id: PathId, round_code: RoundPath, grant: Authorized,
                         read_model: ReadModel) -> dict[str, Any]:
    season = await season_of(read_model, season_id)
    item = review_round(season, round_code, field="round_code")
    _, decided = await read_model.find_reviews(scoped(grant, season_id) | {f"rounds.{item.code}": {"$exists": True}})
    shown = [{key: review.get(key) for key in OUTCOME_KEYS} | review["rounds"][item.code] for review in decided]
    return {
        "season_id": season_id, "round": item.code, "label": item.label,
        "gate": item.gate.model_dump(mode="json") if item.gate else None,
        "advanced": [entry for entry in shown if entry["outcome"] == "advanced"],
        "not_advanced": [entry for entry in shown if entry["outcome"] == "not_advanced"],
    }


def build_rounds_router() -> APIRouter:
    router = APIRouter(tags=["review rounds"])
    router.post("/seasons/{season_id}/rounds/{round_code}/advance",
                summary="Decide a gate round (晋级): top N, a score threshold or the organizer's choice; the others are "
                "recorded as not advanced, with the reason")(advance)
    router.get("/seasons/{season_id}/rounds",
               summary="The season's review rounds: windows, gates, how many advanced")(rounds)
    router.get("/seasons/{season_id}/rounds/{round_code}",
               summary="One round: the entries that advanced from it and those that did not, with the reason")(
        round_outcomes)
    return router
