"""A judge (评委) of a season, on the organizer's panel or a recommending unit's; one per certificate number."""

from __future__ import annotations

from typing import Any, cast
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from contracts.identity import stable_uuid
from contracts.registered import JudgeRegistered
from infra.events import current


def judge_aggregate_id(season_id: str, certificate_no: str) -> UUID:
    """Keyed by the TGQ certificate number: one judge per certificate and season."""
    return stable_uuid("judge", season_id, certificate_no)


def judge_id_for(season_id: str, certificate_no: str) -> str:
    return "j" + judge_aggregate_id(season_id, certificate_no).hex[:12]


class Judge(Aggregate):
    @staticmethod
    def create_id(payload: dict[str, Any], meta: dict[str, Any]) -> UUID:  # noqa: ARG004
        return judge_aggregate_id(payload["season_id"], payload["certificate_no"])

    @event("JudgeRegistered")
    def __init__(self, payload: dict[str, Any], meta: dict[str, Any]) -> None:
        registered = cast(JudgeRegistered, current("JudgeRegistered", payload, meta))
        self.season_id: str = registered.season_id
        self.judge_id: str = registered.judge_id
        self.certificate_no: str = registered.certificate_no
        self.recommender_id: str | None = registered.recommender_id
