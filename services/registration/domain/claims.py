"""Claims on a natural key (a recommending unit's name, the one direct channel of a season).

A claim is saved in the same transaction as the aggregate that makes it; a second claim of the
same key collides on the claim's id. Claims are bookkeeping, not domain events: they carry no
envelope metadata, so the relay does not publish them.
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate, event

from contracts.identity import stable_uuid


def claim_id(scope: str, value: str) -> UUID:
    return stable_uuid("claim", scope, value)


class Claim(Aggregate):
    @staticmethod
    def create_id(scope: str, value: str, owner: str) -> UUID:  # noqa: ARG004
        return claim_id(scope, value)

    @event("Claimed")
    def __init__(self, scope: str, value: str, owner: str) -> None:
        self.scope = scope
        self.value = value
        self.owner = owner
