"""What a service remembers of a province's records: their platform ids, the versions seen, refusals, batch reports.

`FeedLedger` is bookkeeping (not published); `QuarantinedRecord` and `FeedBatch` are published as the feed's
events (`FeedRecordQuarantined`, `FeedQuarantineResolved`, `FeedBatchReported`).
"""

from __future__ import annotations

import functools
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from contracts.identity import stable_uuid


# a chunk derives each record's ids several times (the bulk lookup, the record, its ledger's creation): once each
@functools.lru_cache(maxsize=16_384)
def feed_aggregate_id(kind: str, province: str, external_id: str) -> UUID:
    """The platform's id for a province's record: deterministic, so a record names another by its external id."""
    return stable_uuid("feed", kind, province, external_id)


@functools.lru_cache(maxsize=16_384)
def ledger_id(service: str, province: str, record_type: str, external_id: str) -> UUID:
    return stable_uuid("feed-ledger", service, province, record_type, external_id)


def batch_aggregate_id(service: str, province: str, batch_id: str) -> UUID:
    return stable_uuid("feed-batch", service, province, batch_id)



class FeedLedger(Aggregate):
    """The versions of one province record seen by one service: bookkeeping, not published."""

    @staticmethod
    def create_id(service: str, province: str, record_type: str, external_id: str,  # noqa: PLR0913
                  first_accepted: int | None, batch_id: str, subject: str | None) -> UUID:  # noqa: ARG004
        return ledger_id(service, province, record_type, external_id)

    @event("Opened")
    def __init__(  # noqa: PLR0913
        self, service: str, province: str, record_type: str, external_id: str, first_accepted: int | None,
        batch_id: str, subject: str | None,
    ) -> None:
        """Opened with the first accepted version and the aggregate it became (one event for the common case),
        or empty for a refused one."""
        self.service = service
        self.province = province
        self.record_type = record_type
        self.external_id = external_id
        self.accepted: dict[int, str] = {first_accepted: batch_id} if first_accepted is not None else {}
        self.subject = subject
        self.unresolved: list[str] = []

    @property
    def latest(self) -> int:
        return max(self.accepted, default=0)

    @event("VersionAccepted")
    def accept(self, version: int, batch_id: str, subject: str) -> None:
        self.accepted[version] = batch_id
        self.subject = subject
        self.unresolved = []

    @event("VersionQuarantined")
    def hold(self, quarantine_id: str) -> None:
        if quarantine_id not in self.unresolved:
            self.unresolved.append(quarantine_id)


class QuarantinedRecord(Aggregate):
    """One refusal of a record version (or of an unreadable line) with its reasons; resolved when accepted later.

    Its id is derived from the record's keys and what was refused (the raw line and the reasons), so
    the same refusal posted again is the same aggregate and stores nothing new, while a corrected record
    that is still refused is a refusal of its own.
    """

    @staticmethod
    def create_id(payload: dict[str, Any], meta: dict[str, Any], quarantine_id: UUID) -> UUID:  # noqa: ARG004
        return quarantine_id

    @event("FeedRecordQuarantined")
    def __init__(self, payload: dict[str, Any], meta: dict[str, Any], quarantine_id: UUID) -> None:  # noqa: ARG002
        self.payload = payload
        self.resolved = False

    @event("FeedQuarantineResolved")
    def resolve(self, payload: dict[str, Any], meta: dict[str, Any]) -> None:  # noqa: ARG002
        self.resolved = True


class FeedBatch(Aggregate):
    """A batch's report, recorded once when the batch was complete."""

    @staticmethod
    def create_id(payload: dict[str, Any], meta: dict[str, Any]) -> UUID:  # noqa: ARG004
        return batch_aggregate_id(payload["service"], payload["province"], payload["batch_id"])

    @event("FeedBatchReported")
    def __init__(self, payload: dict[str, Any], meta: dict[str, Any]) -> None:  # noqa: ARG002
        self.content_sha256: str = payload["content_sha256"]
        self.report: dict[str, Any] = payload
