"""Stored payloads as the current contract: an aggregate rebuilt from old events sees the current shape."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from contracts import parse_payload


def current(type_: str, payload: dict[str, Any], meta: dict[str, Any]) -> BaseModel:
    """The payload validated and upcast from the schema version it was stored with."""
    return parse_payload(type_, int(meta.get("schema_version", 1)), payload)
