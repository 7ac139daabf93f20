"""Provincial feed intake, shared by the services that take feeds: one mechanism, each service's own rules.

A province's platform posts a batch (NDJSON, gzip accepted) to `POST /feeds/batches` of the service
that owns the records' rules. This module does what is the same everywhere:

- the body: gzip by `Content-Encoding` or by its magic bytes; a truncated or corrupt gzip, or a batch
  over `MAX_RECORDS` records (or `MAX_BYTES` unpacked), refuses the whole batch before anything is stored;
- the caller: role `feed`, its token's org a province's GB/T 2260 code (`310000`), or 403;
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

import asyncio
import hashlib
import json
import re
import zlib
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError
from eventsourcing.postgres import PostgresAggregateRecorder
from eventsourcing.sqlite import SQLiteAggregateRecorder
from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from psycopg.sql import SQL, Identifier
from pymongo import ASCENDING

from contracts import Actor, Source
from contracts.codes import Channel, Role
from contracts.fed import (
    ExternalId,
    FeedBatchReported,
    FeedQuarantineResolved,
    FeedRecordQuarantined,
    Reason,
    RecordCounts,
)
from contracts.identity import PROVINCES, stable_uuid
from contracts.registered import SEASON_ID_PATTERN
from infra.auth import AuthenticatedActor
from infra.errors import Conflict, Malformed, NotFound, RuleViolation, TooLarge, Unsupported
from infra.eventstore import CommandContext, EventStoreApplication, stamp
from infra.http import Limit, PathId, Skip
from infra.mongo import FieldsOf, payload_fields, public

MAX_RECORDS = 50_000
MAX_BYTES = 512 * 1024 * 1024  # unpacked: 50,000 generous records; a gzip bomb stops here
CHUNK_SIZE = 500
CHUNK_ATTEMPTS = 5
RAW_KEPT = 100_000
UNREADABLE = "unreadable"
# Which service takes which record type: the one that owns its rules.
RECORD_TYPES = {"registration": "registration", "entry": "submission", "recommendation": "review", "result": "review",
                "national_recommendation": "review"}
FEED_QUARANTINE = "feed_quarantine"
FEED_BATCHES = "feed_batches"


# ---------------------------------------------------------------- refusals of a whole batch


class BatchRefused(RuleViolation):
    """The whole batch is refused before anything is stored (bad gzip, too large)."""


class BatchTooLarge(BatchRefused, TooLarge):
    """The batch, packed or unpacked, is larger than a batch may be."""


class BatchUnsupported(BatchRefused, Unsupported):
    """The batch comes in an encoding the intake does not read."""


class BatchUnreadable(BatchRefused, Malformed):
    """The batch's bytes cannot be read (a broken gzip stream, not UTF-8)."""


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


def province_of(actor: Actor) -> str:
    """The province a feed token speaks for, or 403: role `feed`, org a province's GB/T 2260 code."""
    if actor.role is not Role.FEED:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"role {actor.role.value} may not post feeds; a province's platform posts with role feed "
            f"({Role.FEED.label})",
        )
    if not is_province(actor.org):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"{actor.org} is not a province: a feed token's org is a province's GB/T 2260 code "
            "(e.g. 310000 上海市, 370000 山东省, 540000 西藏自治区)",
        )
    return actor.org


def is_province(code: str) -> bool:
    return bool(re.fullmatch(r"[0-9]{2}0000", code)) and code[:2] in PROVINCES


def unpacked(body: bytes, content_encoding: str | None) -> bytes:
    """The NDJSON text of a body, gunzipped when it says so or starts with gzip's magic bytes."""
    if len(body) > MAX_BYTES:
        raise BatchTooLarge("body", "feed.batch.too_large", f"a batch is at most {MAX_BYTES} bytes")
    encoding = (content_encoding or "").strip().lower()
    if encoding not in {"", "identity", "gzip", "x-gzip"}:
        raise BatchUnsupported(
            "Content-Encoding", "feed.encoding.unsupported", f"Content-Encoding {encoding} is not taken; send gzip or none",
        )
    if encoding in {"gzip", "x-gzip"} or body[:2] == b"\x1f\x8b":
        return _gunzip(body)
    return body


def _gunzip(body: bytes) -> bytes:
    """Every gzip member of the body; a stream that ends before its trailer refuses the batch."""
    parts: list[bytes] = []
    size = 0
    rest = body
    try:
        while rest:
            decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
            part = decompressor.decompress(rest, MAX_BYTES - size + 1)
            size += len(part)
            if size > MAX_BYTES:
                raise BatchTooLarge(
                    "body", "feed.batch.too_large", f"the batch unpacks to more than {MAX_BYTES} bytes"
                )
            if not decompressor.eof:
                raise BatchUnreadable(
                    "body",
                    "feed.gzip.truncated",
                    f"the gzip stream ends before its end (after {size} unpacked bytes): the upload was cut off; "
                    "nothing of this batch was stored, send it again whole",
                )
            parts.append(part)
            rest = decompressor.unused_data.lstrip(b"\x00")
    except zlib.error as error:
        raise BatchUnreadable(
            "body", "feed.gzip.invalid", f"the body is not a valid gzip stream ({error}); nothing was stored",
        ) from None
    return b"".join(parts)


# ---------------------------------------------------------------- lines and records

RecordType = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z_]{0,39}$")]


class FeedRecord(BaseModel):
    """One record of a feed: the header the platform de-duplicates by, and the form in `data`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    record_type: RecordType
    province: str = Field(pattern=r"^[0-9]{6}$")
    external_id: ExternalId
    version: int = Field(ge=1, le=1_000_000)
    season: str = Field(pattern=SEASON_ID_PATTERN, description="the season's id at the national platform")
    occurred_at: AwareDatetime | None = Field(default=None, description="when the province recorded this version")
    data: dict[str, Any]


@dataclass(frozen=True)
class FeedLine:
    """A non-empty line of the batch: its record, or why it is not one."""

    number: int
    raw: str
    record: FeedRecord | None = None
    reasons: tuple[Reason, ...] = ()
    record_type: str | None = None  # what the line claimed, for the report, even when unreadable


def split_lines(text: bytes) -> list[tuple[int, bytes]]:
    """Numbered non-empty lines; more than MAX_RECORDS refuses the batch (413) before anything is parsed."""
    lines = [(number, line) for number, line in enumerate(text.split(b"\n"), start=1) if line.strip()]
    if len(lines) > MAX_RECORDS:
        raise BatchTooLarge(
            "body",
            "feed.batch.too_many_records",
            f"a batch has at most {MAX_RECORDS} records; this one has {len(lines)}: split it, nothing was stored",
        )
    return lines


def parse_line(number: int, line: bytes) -> FeedLine:
    try:
        raw = line.decode("utf-8").strip()
    except UnicodeDecodeError as error:
        raw = line.decode("utf-8", errors="replace").strip()
        return FeedLine(number, raw, reasons=(Reason(
            field="line", rule="feed.line.encoding", message=f"line {number} is not UTF-8 ({error.reason})"),))
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as error:
        return FeedLine(number, raw, reasons=(Reason(
            field="line", rule="feed.line.json", message=f"line {number} is not JSON: {error.msg} at column {error.colno}"),))
    if not isinstance(value, dict):
        return FeedLine(number, raw, reasons=(Reason(
            field="line", rule="feed.line.not_object", message=f"line {number} is JSON but not an object (a record)"),))
    claimed = value.get("record_type") if isinstance(value.get("record_type"), str) else None
    try:
        return FeedLine(number, raw, FeedRecord.model_validate(value), record_type=claimed)
    except ValidationError as error:
        return FeedLine(number, raw, reasons=tuple(reasons_of(error, prefix="")), record_type=claimed)


def parse_batch(text: bytes) -> list[FeedLine]:
    return [parse_line(number, line) for number, line in split_lines(text)]


def reasons_of(error: ValidationError, prefix: str = "data") -> list[Reason]:
    """Every problem pydantic found, in the words the HTTP refusals use."""
    return [
        Reason(
            field=".".join(str(part) for part in (prefix, *item["loc"]) if part != "") or "record",
            rule=item["type"],
            message=item["msg"],
        )
        for item in error.errors()
    ]


def reason_of(violation: RuleViolation) -> Reason:
    return Reason(field=violation.field, rule=violation.rule, message=violation.message)


# ---------------------------------------------------------------- identities


def feed_aggregate_id(kind: str, province: str, external_id: str) -> UUID:
    """The platform's id for a province's record: deterministic, so a record names another by its external id."""
    return stable_uuid("feed", kind, province, external_id)


def ledger_id(service: str, province: str, record_type: str, external_id: str) -> UUID:
    return stable_uuid("feed-ledger", service, province, record_type, external_id)


def batch_aggregate_id(service: str, province: str, batch_id: str) -> UUID:
    return stable_uuid("feed-batch", service, province, batch_id)


def content_batch_id(text: bytes) -> str:
    """A batch without an id of its own is named after its content, so the same content is the same batch."""
    return "sha256-" + hashlib.sha256(text).hexdigest()[:32]


# ---------------------------------------------------------------- bookkeeping and quarantine aggregates


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


# ---------------------------------------------------------------- one chunk's unit of work


class Work:
    """The aggregates one chunk reads and changes, saved together in one transaction."""

    def __init__(self, application: EventStoreApplication) -> None:
        self.application = application
        self.loaded: dict[UUID, Aggregate | None] = {}
        self.changed: dict[UUID, Aggregate] = {}

    def prefetch(self, aggregate_ids: Sequence[UUID]) -> None:
        """Learn in bulk which of these aggregates are not stored yet, so a new batch costs no lookup per record."""
        wanted = [item for item in dict.fromkeys(aggregate_ids) if item not in self.loaded]
        stored = stored_among(self.application, wanted)
        if stored is not None:
            self.loaded |= {item: None for item in wanted if item not in stored}

    def get(self, aggregate_id: UUID) -> Any:
        """The aggregate as this chunk left it, or None."""
        if aggregate_id not in self.loaded:
            try:
                self.loaded[aggregate_id] = self.application.repository.get(aggregate_id)
            except AggregateNotFoundError:
                self.loaded[aggregate_id] = None
        return self.loaded[aggregate_id]

    def add(self, *aggregates: Aggregate) -> None:
        for aggregate in aggregates:
            self.loaded[aggregate.id] = aggregate
            self.changed[aggregate.id] = aggregate

    def save(self) -> None:
        if self.changed:
            self.application.save(*self.changed.values())


def stored_among(application: EventStoreApplication, aggregate_ids: Sequence[UUID]) -> set[UUID] | None:
    """Which of these aggregates have stored events, in one query per 500 ids; None where the store cannot say."""
    recorder = application.recorder
    found: set[UUID] = set()
    for start in range(0, len(aggregate_ids), 500):
        part = list(aggregate_ids[start:start + 500])
        if isinstance(recorder, PostgresAggregateRecorder):
            statement = SQL("SELECT DISTINCT originator_id FROM {schema}.{table} WHERE originator_id = ANY(%s)").format(
                schema=Identifier(recorder.datastore.schema), table=Identifier(recorder.events_table_name))
            with recorder.datastore.get_connection() as connection, connection.cursor() as cursor:
                cursor.execute(statement, [part])
                found |= {UUID(str(row["originator_id"])) for row in cursor.fetchall()}
        elif isinstance(recorder, SQLiteAggregateRecorder):
            marks = ",".join("?" * len(part))
            with recorder.datastore.transaction(commit=False) as cursor:
                cursor.execute(f"SELECT DISTINCT originator_id FROM {recorder.events_table_name} "  # noqa: S608
                               f"WHERE originator_id IN ({marks})", [item.hex for item in part])
                found |= {UUID(str(row[0])) for row in cursor.fetchall()}
        else:
            return None
    return found


RecordHandler = Callable[[FeedRecord, Work, CommandContext], Aggregate]
"""Validates one record by the service's rules (RuleViolation or ValidationError) and returns the domain
aggregate it created or amended (its further aggregates added to the work)."""


# ---------------------------------------------------------------- the report


@dataclass
class Report:
    """Per record type: in, accepted (amendments among them), duplicates (stale among them), quarantined."""

    counts: dict[str, dict[str, int]] = field(default_factory=dict)

    def count(self, record_type: str, outcome: str) -> None:
        line = self.counts.setdefault(
            record_type,
            {"in": 0, "accepted": 0, "amendments": 0, "duplicates": 0, "stale": 0, "quarantined": 0},
        )
        line["in"] += 1
        line["accepted" if outcome == "amendments" else "duplicates" if outcome == "stale" else outcome] += 1
        if outcome in {"amendments", "stale"}:
            line[outcome] += 1

    def merge(self, other: "Report") -> None:
        for record_type, line in other.counts.items():
            mine = self.counts.setdefault(record_type, dict.fromkeys(line, 0))
            for key, value in line.items():
                mine[key] += value

    @property
    def total(self) -> dict[str, int]:
        keys = ("in", "accepted", "amendments", "duplicates", "stale", "quarantined")
        return {key: sum(line[key] for line in self.counts.values()) for key in keys}

    def check(self) -> None:
        """Records in = accepted + duplicates + quarantined, per type and in total, always."""
        for record_type, line in [*self.counts.items(), ("total", self.total)]:
            if line["in"] != line["accepted"] + line["duplicates"] + line["quarantined"]:
                raise AssertionError(f"feed report does not add up for {record_type}: {line}")

    def as_dict(self) -> dict[str, Any]:
        return {"by_type": {key: dict(value) for key, value in sorted(self.counts.items())}, "total": self.total}


# ---------------------------------------------------------------- the intake


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
        earlier = self._get(batch_key)
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
            answer["stored"] = sorted({
                f"{line.record.record_type}/{line.record.external_id}" for line in lines
                if line.record is not None and line.record.record_type in self.handlers
                and (ledger := self._get(ledger_id(self.service, province, line.record.record_type,
                                                   line.record.external_id))) is not None and ledger.accepted
            })
        if earlier is None:
            self._record_batch(answer, report, content_sha256, actor, trace_id)
        return answer | {"repeated": earlier is not None}

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

    def _get(self, aggregate_id: UUID) -> Any:
        try:
            return self.application.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None


def _chunks(lines: Sequence[FeedLine], size: int) -> Iterator[Sequence[FeedLine]]:
    for start in range(0, len(lines), size):
        yield lines[start:start + size]


# ---------------------------------------------------------------- the read side: quarantine and batch reports


def _quarantined(envelope: Any, data: dict[str, Any]) -> dict[str, Any]:
    return data | {
        "quarantine_id": str(envelope.aggregate_id), "resolved": False, "resolved_by_batch": None,
        "quarantined_at": envelope.recorded_at,
    }


def _resolved(_: Any, data: dict[str, Any]) -> dict[str, Any]:
    return {"resolved": True, "resolved_by_batch": data["batch_id"], "accepted_version": data["accepted_version"]}


FEED_ROUTES: dict[str, tuple[str, FieldsOf]] = {
    "FeedRecordQuarantined": (FEED_QUARANTINE, _quarantined),
    "FeedQuarantineResolved": (FEED_QUARANTINE, _resolved),
    "FeedBatchReported": (FEED_BATCHES, payload_fields),
}
"""What a read model adds to its routes to keep its service's quarantine and batch reports queryable."""


async def create_feed_indexes(database: Any) -> None:
    await database[FEED_QUARANTINE].create_index([("service", ASCENDING), ("province", ASCENDING), ("batch_id", ASCENDING)])
    await database[FEED_BATCHES].create_index([("service", ASCENDING), ("province", ASCENDING), ("batch_id", ASCENDING)])


def _reader_scope(actor: Actor, province: str | None) -> str | None:
    """A province reads its own quarantine; an organizer its province's; national and auditors any."""
    if actor.role in {Role.NATIONAL, Role.AUDITOR}:
        return province
    if actor.role in {Role.FEED, Role.ORGANIZER}:
        if province is not None and province != actor.org:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, detail=f"province {province}'s feed is not in the scope of {actor.org}"
            )
        return actor.org
    raise HTTPException(status.HTTP_403_FORBIDDEN, detail=f"role {actor.role.value} may not read feeds")


Prepare = Callable[[Request, Sequence[FeedLine]], Awaitable[FeedIntake]]
"""Builds the service's intake for one batch: reads what its rules need from its projection first."""

FEED_OUTCOMES = ("in", "accepted", "duplicates", "quarantined")


def count_batch(metrics: Any, service: str, province: str, report: dict[str, Any]) -> None:
    """A batch's report as metrics: the batch, and the records of a batch posted for the first time per type by
    outcome (a repeated batch takes nothing new and adds no quarantine entry: only the batch is counted)."""
    if metrics is None:
        return
    repeated = bool(report.get("repeated"))
    metrics.feed_batches.labels(service, province, str(repeated).lower()).inc()
    if repeated:
        return
    for record_type, line in report.get("by_type", {}).items():
        for outcome in FEED_OUTCOMES:
            if line.get(outcome):
                metrics.feed_records.labels(service, province, record_type, outcome).inc(line[outcome])


ProvinceQuery = Annotated[str | None, Query(pattern=r"^[0-9]{6}$")]
TextQuery = Annotated[str | None, Query(min_length=1, max_length=128)]


def feed_router(service: str, prepare: Prepare) -> APIRouter:
    """`POST /feeds/batches`, `GET /feeds/quarantine`, `GET /feeds/batches/{batch_id}` for one service."""
    router = APIRouter(tags=["feeds"])

    @router.post(
        "/feeds/batches",
        summary="A province's batch (NDJSON, gzip accepted, at most 50,000 records); answers the batch report",
        responses={400: {"description": "truncated or corrupt gzip"}, 403: {"description": "not a province's feed"},
                   413: {"description": "over 50,000 records"}},
    )
    async def post_batch(
        request: Request,
        actor: AuthenticatedActor,
        batch_id: Annotated[str | None, Query(min_length=1, max_length=128, pattern=r"^[0-9A-Za-z][0-9A-Za-z_.:-]*$")] = None,
        keys: Annotated[bool, Query(description="list the records now stored, as record_type/external_id")] = False,
    ) -> JSONResponse:
        province = province_of(actor)
        text = unpacked(await request.body(), request.headers.get("content-encoding"))
        lines = await asyncio.to_thread(parse_batch, text)
        given = batch_id or request.headers.get("x-batch-id")
        if given is not None and not re.fullmatch(r"[0-9A-Za-z][0-9A-Za-z_.:-]{0,127}", given):
            raise RuleViolation("X-Batch-Id", "feed.batch_id", "a batch id is 1 to 128 letters, digits, _ . : -")
        digest = hashlib.sha256(text).hexdigest()
        intake = await prepare(request, lines)
        trace = (request.headers.get("x-trace-id") or "")[:64] or digest[:32]
        try:
            report = await asyncio.to_thread(
                intake.receive, lines, province=province, batch_id=given or content_batch_id(text),
                content_sha256=digest, actor=actor, trace_id=trace, with_keys=keys,
            )
        except BatchInterrupted as interrupted:
            return JSONResponse(
                {"detail": str(interrupted), "errors": [{"field": "body", "rule": "feed.batch.interrupted",
                                                         "message": str(interrupted)}],
                 "stored_records": interrupted.stored_records, "report": interrupted.report},
                status_code=503, headers={"Retry-After": "5"},
            )
        count_batch(getattr(request.app.state, "metrics", None), service, province, report)
        return JSONResponse(report)

    @router.get("/feeds/quarantine", summary="Quarantined records with every reason, by province, batch, type, external id")
    async def quarantine(
        request: Request,
        actor: AuthenticatedActor,
        province: ProvinceQuery = None,
        batch_id: TextQuery = None,
        record_type: TextQuery = None,
        external_id: TextQuery = None,
        resolved: bool | None = None,
        skip: Skip = 0,
        limit: Limit = 100,
    ) -> dict[str, Any]:
        query: dict[str, Any] = {"service": service}
        filters = {"province": _reader_scope(actor, province), "batch_id": batch_id, "record_type": record_type,
                   "external_id": external_id, "resolved": resolved}
        query |= {key: value for key, value in filters.items() if value is not None}
        collection = request.app.state.read_model.database[FEED_QUARANTINE]
        total = await collection.count_documents(query)
        cursor = collection.find(query).sort([("batch_id", ASCENDING), ("line", ASCENDING)]).skip(skip).limit(limit)
        items = [public(item) async for item in cursor]
        return {"total": total, "skip": skip, "limit": limit, "items": items}

    @router.get("/feeds/batches/{batch_id}", summary="A batch's report as recorded when it was complete")
    async def batch_report(
        batch_id: PathId, request: Request, actor: AuthenticatedActor, province: ProvinceQuery = None
    ) -> dict[str, Any]:
        scope = _reader_scope(actor, province)
        if scope is None:
            raise RuleViolation("province", "feed.province.required", "say which province's batch: ?province=310000")
        document = await request.app.state.read_model.database[FEED_BATCHES].find_one(
            {"service": service, "province": scope, "batch_id": batch_id}
        )
        if document is None:
            raise NotFound(f"batch {batch_id} of province {scope} at {service}")
        return public(document) or {}

    return router

