"""Stored payloads as the current contract: an aggregate rebuilt from old events sees the current shape."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from contracts import latest_version, parse_payload


class StampedPayload(dict[str, Any]):
    """A payload as a command stamps it (the JSON form that is stored), with the contract model it was dumped from.

    The model was validated when the command built it, so the event method that applies the new event right
    away takes the model as it is instead of validating the dumped form a second time; what is stored and
    what a replay validates are unchanged.
    """

    __slots__ = ("model", "schema_version")

    def __init__(self, model: BaseModel) -> None:
        super().__init__(model.model_dump(mode="json"))
        self.model = model
        self.schema_version = latest_version(type(model).__name__)


def current(type_: str, payload: dict[str, Any], meta: dict[str, Any]) -> BaseModel:
    """The payload validated and upcast from the schema version it was stored with."""
    version = int(meta.get("schema_version", 1))
    if isinstance(payload, StampedPayload) and type(payload.model).__name__ == type_ \
            and payload.schema_version == version:
        return payload.model
    return parse_payload(type_, version, payload)
