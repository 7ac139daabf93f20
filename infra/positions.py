"""Read your own writes: the position of a command's event, what a read model has applied, and reads that wait for it.

A position is an aggregate id and a version, written `<aggregate_id>@<version>`. Events of one aggregate
reach a consumer in order (the topics are keyed by aggregate), so a read model that applied version v of an
aggregate has applied every earlier one: the highest version applied per aggregate says it all. Each
service's projection consumer records it in the service's MongoDB after the handler's write; a GET with
`min_position` waits until the read model has it, up to a bound, or answers 409 naming what was applied (the
request's side is `infra.http.dependencies.read_your_writes`).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, OperationFailure

from contracts import Envelope
from infra.errors import RuleViolation
from infra.mongo import DUPLICATE_KEY

POSITIONS_COLLECTION = "applied_positions"
POSITION_HEADER = "Event-Position"
MIN_POSITION = "min_position"
DEFAULT_WAIT_SECONDS = 5.0
POLL_SECONDS = 0.1
# probes and metrics answer at once, whatever their query says
OPERATIONAL_PATHS = frozenset({"/health", "/ready", "/metrics"})


@dataclass(frozen=True)
class Position:
    """An event's place in its aggregate's history."""

    aggregate_id: str
    version: int

    def __str__(self) -> str:
        return f"{self.aggregate_id}@{self.version}"

    @classmethod
    def parse(cls, text: str) -> Position:
        """The position written as `<aggregate_id>@<version>`; a clear 422 naming the parameter otherwise."""
        aggregate_id, _, version = text.strip().rpartition("@")
        try:
            parsed_id = uuid.UUID(aggregate_id)
            parsed_version = int(version)
        except ValueError:
            parsed_id, parsed_version = None, 0
        if parsed_id is None or parsed_version < 1 or not version.isdigit():
            raise RuleViolation(
                MIN_POSITION,
                "read.min_position.format",
                f"min_position must be written <aggregate_id>@<version> as a command answered it in `position`"
                f" (an aggregate id, '@', a version from 1), not {text[:100]!r}",
            )
        return cls(str(parsed_id), parsed_version)

    @classmethod
    def of_answer(cls, answer: Mapping[str, Any]) -> Position | None:
        """The position of a command's answer, if it names an aggregate and its new version."""
        aggregate_id, version = answer.get("aggregate_id"), answer.get("version")
        if not isinstance(aggregate_id, str) or not isinstance(version, int):
            return None
        return cls(aggregate_id, version)


class AppliedPositions:
    """The highest version of each aggregate a service's read model has applied, in its MongoDB."""

    def __init__(self, database: AsyncDatabase) -> None:
        self.collection = database[POSITIONS_COLLECTION]

    async def record(self, envelope: Envelope) -> None:
        await self.record_many({str(envelope.aggregate_id): envelope.aggregate_version})

    async def record_many(self, versions: Mapping[str, int]) -> None:
        if not versions:
            return
        # an aggregate's first version is inserted (found by primary key when it exists: a version >= 1 is
        # recorded already, so there is nothing to raise); a later one raises the recorded version with $max
        # (the two touch different documents: they go at once)
        later = {key: value for key, value in versions.items() if value != 1}
        await asyncio.gather(self._insert_first_versions([key for key, value in versions.items() if value == 1]),
                             self._raise_versions(later))

    async def _raise_versions(self, later: Mapping[str, int]) -> None:
        if not later:
            return
        updates = [UpdateOne({"_id": key}, {"$max": {"version": value}}, upsert=True) for key, value in later.items()]
        try:
            await self.collection.bulk_write(updates, ordered=False)
        except DuplicateKeyError:
            # two upserts of a new aggregate at once: the document exists now, so the second try updates it
            await self.collection.bulk_write(updates, ordered=False)

    async def _insert_first_versions(self, keys: list[str]) -> None:
        pending = [{"_id": key, "version": 1} for key in keys]
        while pending:
            answer = await self.collection.database.command(
                {"insert": self.collection.name, "documents": pending, "ordered": True})
            failures = sorted(answer.get("writeErrors", []), key=lambda item: item["index"])
            if not failures:
                return
            if failures[0].get("code") != DUPLICATE_KEY:
                raise OperationFailure(failures[0].get("errmsg", "insert failed"), failures[0].get("code"), failures[0])
            pending = pending[failures[0]["index"] + 1 :]  # stopped at a duplicate (recorded before): the rest again

    async def applied_version(self, aggregate_id: str) -> int:
        document = await self.collection.find_one({"_id": aggregate_id})
        return int(document["version"]) if document else 0


class PositionNotReached(Exception):  # noqa: N818 - an answer, not a failure
    """A read asked for a position its read model has not applied within the wait."""

    def __init__(self, position: Position, applied: int, waited: float) -> None:
        super().__init__(f"{position} not applied after {waited:.1f} s (applied: version {applied})")
        self.position = position
        self.applied = applied
        self.waited = waited

    def answer(self) -> dict[str, Any]:
        return {
            "detail": (
                f"this read model has not applied {self.position} yet (it has version {self.applied} of that"
                f" aggregate) after waiting {self.waited:.1f} s; try again shortly"
            ),
            "position": str(self.position),
            "applied_version": self.applied,
            "behind_versions": self.position.version - self.applied,
            "waited_seconds": round(self.waited, 3),
        }


async def wait_until_applied(positions: AppliedPositions, position: Position, wait_seconds: float) -> None:
    """Return once the read model has applied the position; PositionNotReached after `wait_seconds`."""
    started = time.monotonic()
    while True:
        applied = await positions.applied_version(position.aggregate_id)
        if applied >= position.version:
            return
        waited = time.monotonic() - started
        if waited >= wait_seconds:
            raise PositionNotReached(position, applied, waited)
        await asyncio.sleep(min(POLL_SECONDS, wait_seconds - waited))
