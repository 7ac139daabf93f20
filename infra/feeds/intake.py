"""The intake service: one province's batch taken into one service's event store, exactly once per record version.

- each line: a line that is not JSON, not an object, or lacks the record header is quarantined with
  its line number (the rest of the batch is taken: one bad line never hides the others, and none is
  dropped silently); a record of another province is quarantined as `feed.province.mismatch`;
- de-duplication by (province, record type, external id, version) in a ledger aggregate per
  (province, record type, external id) in the service's own event store: a version seen before is a
  duplicate, a version below the latest accepted one is a stale duplicate (not applied), a higher one
  is an amendment of the same domain aggregate;
- the quarantine: one aggregate per refused record version (or unreadable line) with every reason and
  the raw line, published as `FeedRecordQuarantined`; sending the record again (same or higher version)
  and having it accepted publishes `FeedQuarantineResolved`;
- chunks of `CHUNK_SIZE` records, one event-store transaction each; a chunk that collides with a
  concurrent post of the same records is read again and redone, so every record is taken exactly once;
- the report: per record type, in = accepted + duplicates + quarantined (checked before answering),
  recorded once per batch as `FeedBatchReported`. Posting the same batch again stores nothing new and
  answers the same total, now as duplicates (and the same quarantined records, without new entries).
  If a batch stops midway (the store goes away), the answer says how many records were stored, and
  posting it again completes it exactly once.

Each service gives a `RecordHandler` per record type: it validates a record with the same rules as
direct input and returns the domain aggregate it created or amended.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError
from pydantic import ValidationError

from contracts import Actor, Source
from contracts.codes import Channel
from contracts.fed import (
    FeedBatchReported,
    FeedQuarantineResolved,
    FeedRecordQuarantined,
    Reason,
    RecordCounts,
)
from contracts.identity import stable_uuid
from infra.errors import Conflict, RuleViolation
from infra.eventstore import CommandContext, EventStoreApplication, stamp
from infra.feeds.ledger import (
    FeedBatch,
    FeedLedger,
    QuarantinedRecord,
    batch_aggregate_id,
    ledger_id,
)
from infra.feeds.parsing import RAW_KEPT, FeedLine, FeedRecord, reason_of, reasons_of
from infra.feeds.report import Report
from infra.feeds.work import RecordHandler, Work

CHUNK_SIZE = 500
CHUNK_ATTEMPTS = 5
UNREADABLE = "unreadable"
# Which service takes which record type: the one that owns its rules.
RECORD_TYPES = {"registration": "registration", "entry": "submission", "recommendation": "review", "result": "review",
                "national_recommendation": "review"}


@dataclass
class BatchInterrupted(Exception):
    """The batch stopped midway; what was stored is said exactly, and posting it again completes it."""

    stored_records: int
    report: dict[str, Any]
    cause: str

    def __str__(self) -> str:
        return (
            f"the batch stopped after {self.stored_records} records were stored ({self.cause}); nothing else was "
            "stored; post the same batch again to complete it: what was stored is recognised as duplicates"
        )



@dataclass
class FeedIntake:
    """Takes one province's batch into one service's event store, exactly once per record version."""

    application: EventStoreApplication
    service: str
    handlers: Mapping[str, RecordHandler]
    elsewhere: Mapping[str, str] = field(default_factory=lambda: RECORD_TYPES)
    # record type → the ids of the domain aggregates a record may touch, looked up in bulk per chunk
    touches: Mapping[str, Callable[[FeedRecord], Sequence[UUID]]] = field(default_factory=dict)
    chunk_size: int = CHUNK_SIZE

    def receive(
        self, lines: Sequence[FeedLine], *, province: str, batch_id: str, content_sha256: str, actor: Actor,
        trace_id: str, with_keys: bool = False,
    ) -> dict[str, Any]:
        """Take the batch and answer its report; refused (409) if this batch id named other content before.

        `with_keys` adds which records are now stored (accepted here or before), for a caller that waits
        until the next service has learnt of them.
        """
        batch_key = batch_aggregate_id(self.service, province, batch_id)
        earlier = self.application.get_or_none(batch_key)
        if earlier is not None and earlier.content_sha256 != content_sha256:
            raise Conflict(
                "batch_id",
                "feed.batch.reused",
                f"batch {batch_id} of {province} was posted before with other content; a changed batch gets a new "
                "batch id (its records with higher versions)",
            )
        report = Report()
        stored = 0
        for chunk in _chunks(lines, self.chunk_size):
            try:
                report.merge(self._take_chunk(chunk, province, batch_id, actor, trace_id))
            except (RuleViolation, AssertionError):
                raise
            except Exception as error:  # the store went away: say exactly what was stored
                report.check()
                raise BatchInterrupted(stored, report.as_dict(), f"{type(error).__name__}: {error}") from error
            stored += len(chunk)
        report.check()
        answer = {"service": self.service, "province": province, "batch_id": batch_id, "records": len(lines)}
        answer |= report.as_dict()
        if with_keys:
            answer["stored"] = self._stored_keys(lines, province)
        if earlier is None:
            self._record_batch(answer, report, content_sha256, actor, trace_id)
        return answer | {"repeated": earlier is not None}

    def _stored_keys(self, lines: Sequence[FeedLine], province: str) -> list[str]:
        """The batch's records now stored (accepted here or before), as record_type/external_id, read in bulk."""
        ledgers = {
            f"{line.record.record_type}/{line.record.external_id}": ledger_id(
                self.service, province, line.record.record_type, line.record.external_id)
            for line in lines if line.record is not None and line.record.record_type in self.handlers
        }
        work = Work(self.application)
        work.prefetch(list(ledgers.values()))
        return sorted(key for key, aggregate_id in ledgers.items()
                      if (ledger := work.get(aggregate_id)) is not None and ledger.accepted)

    def _take_chunk(
        self, chunk: Sequence[FeedLine], province: str, batch_id: str, actor: Actor, trace_id: str
    ) -> Report:
        """One transaction; a collision with a concurrent post of the same records reads again and redoes it."""
        for attempt in range(CHUNK_ATTEMPTS):
            work = Work(self.application)
            work.prefetch([
                aggregate_id for line in chunk if line.record is not None for aggregate_id in (
                    ledger_id(self.service, province, line.record.record_type, line.record.external_id),
                    *self._touched(line.record),
                )
            ])
            report = Report()
            for line in chunk:
                outcome = self._take_line(line, work, province, batch_id, actor, trace_id)
                report.count(line.record.record_type if line.record else (line.record_type or UNREADABLE), outcome)
            try:
                work.save()
                return report
            except IntegrityError:
                if attempt == CHUNK_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def _touched(self, record: FeedRecord) -> Sequence[UUID]:
        touches = self.touches.get(record.record_type)
        try:
            return touches(record) if touches else ()
        except (ValueError, TypeError, KeyError, AttributeError):
            return ()  # an unreadable record is refused by its handler; the bulk lookup just skips it

    def _take_line(
        self, line: FeedLine, work: Work, province: str, batch_id: str, actor: Actor, trace_id: str
    ) -> str:
        record = line.record
        context = CommandContext(
            actor=actor,
            channel=Channel.FEED,
            source=Source(
                system="feed", province=province, external_id=record.external_id if record else None,
                version=record.version if record else None, batch_id=batch_id,
            ),
            trace_id=trace_id,
            occurred_at=(record.occurred_at if record and record.occurred_at else None),
        )
        if record is None:
            self._quarantine(line, work, province, batch_id, list(line.reasons), context, ledger=None)
            return "quarantined"
        reasons = self._header_problems(record, province)
        if reasons:
            self._quarantine(line, work, province, batch_id, reasons, context, ledger=None)
            return "quarantined"
        ledger: FeedLedger | None = work.get(ledger_id(self.service, province, record.record_type, record.external_id))
        if ledger is not None and record.version in ledger.accepted:
            return "duplicates"
        if ledger is not None and record.version < ledger.latest:
            return "stale"
        amendment = ledger is not None and bool(ledger.accepted)
        subject: Aggregate | None = None
        try:
            if amendment and ledger is not None:
                self._check_same_subject(record, ledger)
            subject = self.handlers[record.record_type](record, work, context)
        except ValidationError as error:
            reasons = reasons_of(error)
        except RuleViolation as violation:
            reasons = [reason_of(violation)]
        if reasons:
            ledger = ledger or FeedLedger(self.service, province, record.record_type, record.external_id, None, batch_id,
                                          None)
            self._quarantine(line, work, province, batch_id, reasons, context, ledger=ledger)
            return "quarantined"
        assert subject is not None, "a handler returns the aggregate a record became"
        if ledger is None:
            ledger = FeedLedger(self.service, province, record.record_type, record.external_id, record.version, batch_id,
                                str(subject.id))
        else:
            self._resolve(ledger, work, record, batch_id, context)
            ledger.accept(record.version, batch_id, str(subject.id))
        work.add(ledger)
        return "amendments" if amendment else "accepted"

    def _check_same_subject(self, record: FeedRecord, ledger: FeedLedger) -> None:
        """A higher version amends what the record became; one that names another unit or entry is refused."""
        touched = self._touched(record)
        if ledger.subject and touched and str(touched[0]) != ledger.subject:
            raise RuleViolation(
                "external_id", "feed.record.identity_changed",
                f"version {record.version} of {record.record_type} {record.external_id} names another "
                f"{'unit' if record.record_type == 'registration' else 'entry'} than its earlier versions; "
                "a record keeps what it is about: send the other one under an external id of its own",
            )

    def _header_problems(self, record: FeedRecord, province: str) -> list[Reason]:
        if record.province != province:
            return [Reason(
                field="province", rule="feed.province.mismatch",
                message=f"the record is of province {record.province}; the feed token speaks for {province}: a "
                "province sends its own records only",
            )]
        if record.season.split("-", 1)[0] != province:
            return [Reason(
                field="season", rule="feed.season.province",
                message=f"season {record.season} is not a season of province {province}",
            )]
        if record.record_type not in self.handlers:
            where = self.elsewhere.get(record.record_type)
            return [Reason(
                field="record_type", rule="feed.record_type.unsupported",
                message=f"{self.service} does not take {record.record_type} records"
                + (f"; send them to {where}'s /feeds/batches" if where else
                   f"; it takes {', '.join(sorted(self.handlers))}"),
            )]
        return []

    def _quarantine(
        self, line: FeedLine, work: Work, province: str, batch_id: str, reasons: list[Reason], context: CommandContext,
        ledger: FeedLedger | None,
    ) -> None:
        record = line.record
        refusal = hashlib.sha256(
            json.dumps([line.raw, [reason.model_dump() for reason in reasons]], ensure_ascii=False).encode()
        ).hexdigest()
        quarantine_id = (
            stable_uuid("feed-quarantine", self.service, province, record.record_type, record.external_id,
                        record.version, refusal)
            if record is not None and ledger is not None
            else stable_uuid("feed-quarantine-line", self.service, province, batch_id, line.number, refusal)
        )
        payload = FeedRecordQuarantined(
            service=self.service, province=province, batch_id=batch_id, line=line.number,
            record_type=record.record_type if record else line.record_type,
            external_id=record.external_id if record else None, version=record.version if record else None,
            season_id=record.season if record else None, reasons=reasons, raw=line.raw[:RAW_KEPT],
        )
        if work.get(quarantine_id) is None:
            stamped = stamp(payload, context, season_id=record.season if record else None, organizer=province)
            work.add(QuarantinedRecord(**stamped, quarantine_id=quarantine_id))
        if ledger is not None and str(quarantine_id) not in ledger.unresolved:
            ledger.hold(str(quarantine_id))
            work.add(ledger)

    def _resolve(self, ledger: FeedLedger, work: Work, record: FeedRecord, batch_id: str, context: CommandContext) -> None:
        for quarantine_id in ledger.unresolved:
            quarantined: QuarantinedRecord | None = work.get(UUID(quarantine_id))
            if quarantined is None or quarantined.resolved:
                continue
            payload = FeedQuarantineResolved(
                service=self.service, province=ledger.province, record_type=record.record_type,
                external_id=record.external_id, batch_id=batch_id, accepted_version=record.version,
            )
            quarantined.resolve(**stamp(payload, context, season_id=record.season, organizer=ledger.province))
            work.add(quarantined)

    def _record_batch(
        self, answer: dict[str, Any], report: Report, content_sha256: str, actor: Actor, trace_id: str
    ) -> None:
        payload = FeedBatchReported(
            service=self.service, province=answer["province"], batch_id=answer["batch_id"],
            content_sha256=content_sha256, records=answer["records"],
            by_type={
                key: RecordCounts(received=line["in"], **{k: v for k, v in line.items() if k != "in"})
                for key, line in report.counts.items()
            },
        )
        context = CommandContext(actor=actor, channel=Channel.FEED, trace_id=trace_id, source=Source(
            system="feed", province=answer["province"], batch_id=answer["batch_id"]))
        try:
            self.application.save(FeedBatch(**stamp(payload, context, season_id=None, organizer=answer["province"])))
        except IntegrityError:
            pass  # a concurrent post of the same batch recorded it first


def _chunks(lines: Sequence[FeedLine], size: int) -> Iterator[Sequence[FeedLine]]:
    for start in range(0, len(lines), size):
        yield lines[start:start + size]
