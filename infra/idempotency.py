"""Idempotent commands: a retried request with the same Idempotency-Key returns the first result and stores nothing new."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from contracts.identity import stable_uuid

MAX_KEY_LENGTH = 200


@dataclass(frozen=True)
class IdempotencyKey:
    """The caller's key, scoped to the actor, with a fingerprint of what was asked."""

    key: str
    actor_id: str
    request_hash: str

    @classmethod
    def for_request(cls, key: str, actor_id: str, route: str, body: Any) -> "IdempotencyKey":
        canonical = json.dumps({"route": route, "body": body}, sort_keys=True, ensure_ascii=False, default=str)
        return cls(key, actor_id, hashlib.sha256(canonical.encode()).hexdigest())

    @property
    def record_id(self) -> UUID:
        return stable_uuid("idempotency", self.actor_id, self.key)


class CommandRecord(Aggregate):
    """The first result of a keyed command, saved in the same transaction as the command's events.

    It is bookkeeping, not a domain event: the relay does not publish it.
    """


    @staticmethod
    def create_id(key: str, actor_id: str, request_hash: str, result: dict[str, Any]) -> UUID:  # noqa: ARG004
        return stable_uuid("idempotency", actor_id, key)

    @event("CommandRecorded")
    def __init__(self, key: str, actor_id: str, request_hash: str, result: dict[str, Any]) -> None:
        self.key = key
        self.actor_id = actor_id
        self.request_hash = request_hash
        self.result = result
