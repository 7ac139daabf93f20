"""A season (组织方 × 年度 × 活动类型): its stage windows and channels."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from eventsourcing.domain import Aggregate, event

from contracts.codes import Stage
from contracts.common import Window
from contracts.identity import stable_uuid
from infra.errors import RuleViolation

SHANGHAI = ZoneInfo("Asia/Shanghai")


def season_aggregate_id(season_id: str) -> UUID:
    return stable_uuid("season", season_id)


class Season(Aggregate):
    """Opened once by its organizer; every later change to it is an event too."""

    @staticmethod
    def create_id(payload: dict[str, Any], meta: dict[str, Any]) -> UUID:  # noqa: ARG004
        return season_aggregate_id(payload["season_id"])

    @event("SeasonOpened")
    def __init__(self, payload: dict[str, Any], meta: dict[str, Any]) -> None:  # noqa: ARG002
        self.season_id: str = payload["season_id"]
        self.organizer: str = payload["organizer"]
        self.kind: str = payload["kind"]
        self.year: int = payload["year"]
        self.windows: dict[str, dict[str, str]] = dict(payload["windows"])

    @event("SeasonWindowChanged")
    def change_window(self, payload: dict[str, Any], meta: dict[str, Any]) -> None:  # noqa: ARG002
        self.windows[payload["stage"]] = payload["window"]

    def window(self, stage: Stage) -> Window | None:
        raw = self.windows.get(stage.value)
        return Window.model_validate(raw) if raw else None

    def check_window_open(self, stage: Stage, now: datetime, field: str) -> None:
        """Refuse an action outside the stage's window, naming the window and its instants."""
        window = self.window(stage)
        if window is None:
            raise RuleViolation(
                field, f"season.window.{stage.value}.missing", f"{self.season_id} has no {stage.label} window"
            )
        if not window.contains(now):
            opens = window.opens_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
            closes = window.closes_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
            state = "has not opened yet" if now < window.opens_at else "is closed"
            raise RuleViolation(
                field,
                f"season.window.{stage.value}",
                f"the {stage.label} window of season {self.season_id} {state}: "
                f"it runs from {opens} to {closes} Asia/Shanghai",
                status_code=409,
            )
