"""Review's HTTP API for review rounds: the season's rounds with who takes part, advancing a gate, and per round
who advanced and who did not, and why."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse

from contracts.codes import Channel
from contracts.scored import GateDecision
from infra.auth import AuthenticatedActor
from infra.http import PathId, execute
from services.review.domain.entry_review import ReviewProgress
from services.review.domain.rounds import review_round
from services.review.entrypoints import http as review_http

RoundPath = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,39}$", description="a round's code, e.g. initial_review")]
OUTCOME_KEYS = ("entry_id", "unit_name", "entry_name", "kind", "qc_type", "team_type", "recommender_id")


def build_rounds_router() -> APIRouter:
    router = APIRouter(tags=["review rounds"])

    @router.post(
        "/seasons/{season_id}/rounds/{round_code}/advance",
        summary="Decide a gate round (晋级): top N, a score threshold or the organizer's choice; the others are "
        "recorded as not advanced, with the reason",
    )
    async def advance(
        season_id: PathId, round_code: RoundPath, body: GateDecision, request: Request, actor: AuthenticatedActor
    ) -> JSONResponse:
        season = await review_http._organizer_scope(request, actor, season_id)
        review_round(season, round_code, field="round_code")
        in_review = await review_http._read_model(request).entry_ids(season_id, ReviewProgress.IN_REVIEW)
        return await execute(request, actor, Channel.ORGANIZER, review_http._application(request).advance, season,
                             round_code, body, in_review, body=body)

    @router.get("/seasons/{season_id}/rounds", summary="The season's review rounds: windows, gates, how many advanced")
    async def rounds(season_id: PathId, request: Request, actor: AuthenticatedActor) -> dict[str, Any]:
        season = await review_http._season(request, season_id)
        scope = await review_http._read_scope(request, actor, season_id)
        read_model = review_http._read_model(request)
        items = []
        for item in season.review_rounds:
            base = {"season_id": season_id} | scope
            advanced = await read_model.reviews.count_documents(base | {f"rounds.{item.code}.outcome": "advanced"})
            stopped = await read_model.reviews.count_documents(base | {f"rounds.{item.code}.outcome": "not_advanced"})
            items.append(item.model_dump(mode="json") | {
                "window_of_season": item.window is None, "advanced": advanced, "not_advanced": stopped,
            })
        formal = season.formal_review.model_dump(mode="json") if season.formal_review else None
        return {"season_id": season_id, "formal_review": formal, "rounds": items}

    @router.get(
        "/seasons/{season_id}/rounds/{round_code}",
        summary="One round: the entries that advanced from it and those that did not, with the reason",
    )
    async def round_outcomes(
        season_id: PathId, round_code: RoundPath, request: Request, actor: AuthenticatedActor
    ) -> dict[str, Any]:
        season = await review_http._season(request, season_id)
        item = review_round(season, round_code, field="round_code")
        scope = await review_http._read_scope(request, actor, season_id)
        read_model = review_http._read_model(request)
        _, decided = await read_model.find_reviews(
            {"season_id": season_id, f"rounds.{item.code}": {"$exists": True}} | scope)
        shown = [{key: review.get(key) for key in OUTCOME_KEYS} | review["rounds"][item.code] for review in decided]
        return {
            "season_id": season_id, "round": item.code, "label": item.label,
            "gate": item.gate.model_dump(mode="json") if item.gate else None,
            "advanced": [entry for entry in shown if entry["outcome"] == "advanced"],
            "not_advanced": [entry for entry in shown if entry["outcome"] == "not_advanced"],
        }

    return router
