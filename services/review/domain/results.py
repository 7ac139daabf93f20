"""A season's results at the organizer: the public notice (公示) and the certificates issued (发布).

One `SeasonResults` per season, opened by the notice: it lists the entries on notice and counts the
certificates, so certificate numbers are unique and sequential per season (e.g. 2024-QC-0001): two
publication runs at the same moment collide in the event store.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from contracts.identity import stable_uuid


def season_results_id(season_id: str) -> UUID:
    return stable_uuid("season-results", season_id)


def certificate_no(prefix: str, number: int) -> str:
    return f"{prefix}-{number:04d}"


class SeasonResults(Aggregate):
    @staticmethod
    def create_id(payload: dict[str, Any], meta: dict[str, Any]) -> UUID:  # noqa: ARG004
        return season_results_id(payload["season_id"])

    @event("NoticeOpened")
    def __init__(self, payload: dict[str, Any], meta: dict[str, Any]) -> None:  # noqa: ARG002
        self.season_id: str = payload["season_id"]
        self.on_notice: list[str] = list(payload["entry_ids"])
        self.notice_closes_at = datetime.fromisoformat(payload["closes_at"])
        self.certificates_issued = 0

    @event("ResultsPublished")
    def published(self, payload: dict[str, Any], meta: dict[str, Any]) -> None:  # noqa: ARG002
        self.certificates_issued += payload["certificates"]
