"""A projected season document read back into typed values: the fields every service's season projection shares.

Registration's SeasonOpened (and its window and profile changes) reach submission's and review's read models in
the same shape; each service's adapters read their own season value from it with `season_fields` and add what only
they project. A field that no longer validates counts as missing (a window: refused as closed, with that message).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from contracts.codes import ActivityKind
from contracts.common import Window
from contracts.season_profile import profile_of_document
from infra.windows import SEASON_TIME_ZONE

Model = TypeVar("Model", bound=BaseModel)


def readable(model: type[Model], raw: Any) -> Model | None:
    """The stored value as the model, or None when it no longer validates."""
    try:
        return model.model_validate(raw)
    except ValidationError:
        return None


def season_fields(document: Mapping[str, Any]) -> dict[str, Any]:
    """The season's id, organizer, kind, stage windows, channels, time zone and form profile."""
    return {
        "season_id": document["season_id"],
        "organizer": document["organizer"],
        "kind": ActivityKind(document["kind"]),
        "windows": {stage: window for stage, raw in (document.get("windows") or {}).items()
                    if (window := readable(Window, raw)) is not None},
        "channels": frozenset(document.get("channels") or []),
        "time_zone": document.get("time_zone") or SEASON_TIME_ZONE,
        "profile": profile_of_document(document),
    }
