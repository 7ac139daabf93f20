"""Tamper evidence: a canonical form of each envelope as recorded, chained per aggregate with SHA-256.

Every write service computes the chain from its event store and stats from its journal of what it
received; the same events give the same digests on both sides, so a check can name the first event
where two chains part. The payload is taken exactly as recorded, never upcast: an upcaster changed
later must not change the digests of events written earlier.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from contracts import Envelope

# One fixed form for the envelope's instants: UTC, microseconds, a literal Z.
INSTANT_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def canonical_instant(value: datetime) -> str:
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime(INSTANT_FORMAT)


def canonical(envelope: Envelope) -> bytes:
    """The envelope as recorded: every field, sorted keys, no whitespace, UTF-8, instants in one form."""
    fields: dict[str, Any] = envelope.model_dump(mode="json", exclude={"occurred_at", "recorded_at", "payload"})
    fields["occurred_at"] = canonical_instant(envelope.occurred_at)
    fields["recorded_at"] = canonical_instant(envelope.recorded_at)
    fields["payload"] = envelope.payload
    return json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


@dataclass(frozen=True)
class ChainLink:
    """One event's place in its aggregate's chain: the digest covers it and everything before it."""

    version: int
    event_id: str
    type: str
    digest: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def chain(envelopes: Iterable[Envelope]) -> list[ChainLink]:
    """digest_1 = sha256(canonical_1); digest_n = sha256(digest_(n-1) + canonical_n), in the order given."""
    links: list[ChainLink] = []
    previous = b""
    for envelope in envelopes:
        digest = hashlib.sha256(previous + canonical(envelope)).digest()
        links.append(ChainLink(envelope.aggregate_version, str(envelope.event_id), envelope.type, digest.hex()))
        previous = digest
    return links


def chain_report(aggregate_id: str, envelopes: Sequence[Envelope]) -> dict[str, Any]:
    """What a digest endpoint answers for one aggregate: its head and every link, oldest first."""
    links = chain(sorted(envelopes, key=lambda item: item.aggregate_version))
    return {
        "aggregate_id": aggregate_id,
        "version": links[-1].version if links else 0,
        "head": links[-1].digest if links else None,
        "events": [link.as_dict() for link in links],
    }


def head_of(report: dict[str, Any]) -> dict[str, Any]:
    """One aggregate's line in a season listing: its head and version, not every link."""
    return {key: report[key] for key in ("aggregate_id", "version", "head")} | {"events": len(report["events"])}


@dataclass(frozen=True)
class Divergence:
    """Where two chains of one aggregate part: the first version whose digests differ, or that one side lacks."""

    version: int
    event_id: str | None
    type: str | None
    ours: str | None
    theirs: str | None

    @property
    def missing(self) -> str | None:
        if self.ours is None:
            return "ours"
        if self.theirs is None:
            return "theirs"
        return None


def first_divergence(ours: Sequence[ChainLink], theirs: Sequence[ChainLink]) -> Divergence | None:
    """The first link where the chains differ (digest, event or a link missing on one side), or None."""
    for index in range(max(len(ours), len(theirs))):
        mine = ours[index] if index < len(ours) else None
        other = theirs[index] if index < len(theirs) else None
        if mine is not None and other is not None and mine == other:
            continue
        known = mine or other
        assert known is not None
        return Divergence(
            version=known.version,
            event_id=known.event_id,
            type=known.type,
            ours=mine.digest if mine else None,
            theirs=other.digest if other else None,
        )
    return None


def links_of(report: dict[str, Any]) -> list[ChainLink]:
    """The chain of a digest endpoint's answer."""
    return [ChainLink(**item) for item in report["events"]]
