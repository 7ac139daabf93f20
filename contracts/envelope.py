"""The one envelope every event travels in on Kafka."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from pydantic import BaseModel, ConfigDict, Field

from contracts.codes import Channel, Role
from contracts.identity import NAMESPACE

ENVELOPE_VERSION = 1


class Actor(BaseModel):
    """Who did it: the authenticated subject, the role it acted in, and its organization."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=200)
    role: Role
    org: str = Field(min_length=1, max_length=64)


class Source(BaseModel):
    """Where the record came from: this platform, or a province's feed with its own ids."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    system: str = "qc-platform"
    province: str | None = None
    external_id: str | None = None
    version: int | None = None
    batch_id: str | None = None


class Envelope(BaseModel):
    """A stored domain event as published: metadata for routing and audit plus the payload."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: UUID
    type: str
    schema_version: int = Field(ge=1)
    aggregate_id: UUID
    aggregate_version: int = Field(ge=1)
    season_id: str | None = None
    organizer: str | None = None
    occurred_at: datetime
    recorded_at: datetime
    actor: Actor
    channel: Channel
    source: Source
    trace_id: str
    payload: dict[str, Any]


def event_id_for(aggregate_id: UUID, aggregate_version: int) -> UUID:
    """The same stored event always gets the same id, so republishing is detectable."""
    return uuid5(NAMESPACE, f"{aggregate_id}:{aggregate_version}")
