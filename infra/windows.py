"""The one check every stage of a season goes through: is its window open at this instant."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from contracts.codes import Stage
from contracts.common import Window
from infra.errors import Conflict

SEASON_TIME_ZONE = "Asia/Shanghai"


def shown(instant: datetime, time_zone: str = SEASON_TIME_ZONE) -> str:
    """An instant as users read it in the season's time zone: to the minute, with seconds only when they matter."""
    local = instant.astimezone(_zone(time_zone))
    return local.strftime("%Y-%m-%d %H:%M:%S" if local.second else "%Y-%m-%d %H:%M")


def check_window_open(
    windows: Mapping[str, Window],
    stage: Stage,
    now: datetime,
    *,
    season_id: str,
    field: str = "season_id",
    time_zone: str = SEASON_TIME_ZONE,
) -> None:
    """Refuse an action outside the stage's window, naming the window, its instants and now.

    The window is open from its opening instant up to and including its closing instant.
    """
    window = windows.get(stage.value)
    if window is None:
        raise Conflict(
            field,
            f"season.window.{stage.value}.missing",
            f"season {season_id} has no {stage.label} ({stage.value}) window",
        )
    if not window.contains(now):
        state = "has not opened yet" if now < window.opens_at else "is closed"
        raise Conflict(
            field,
            f"season.window.{stage.value}",
            f"the {stage.label} ({stage.value}) window of season {season_id} {state}: it runs from "
            f"{shown(window.opens_at, time_zone)} to {shown(window.closes_at, time_zone)} {time_zone}"
            f" (now {shown(now, time_zone)})",
        )


def check_labelled_window_open(
    window: Window,
    now: datetime,
    *,
    code: str,
    label: str,
    season_id: str,
    field: str = "season_id",
    time_zone: str = SEASON_TIME_ZONE,
) -> None:
    """Refuse an action outside a review round's own window (or 形式审查's), naming the round by its label and code."""
    if not window.contains(now):
        state = "has not opened yet" if now < window.opens_at else "is closed"
        raise Conflict(
            field,
            "season.window.round",
            f"the {label} ({code}) window of season {season_id} {state}: it runs from "
            f"{shown(window.opens_at, time_zone)} to {shown(window.closes_at, time_zone)} {time_zone}"
            f" (now {shown(now, time_zone)})",
        )


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(SEASON_TIME_ZONE)
