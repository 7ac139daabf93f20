"""A feed body read into its lines: gzip unpacked and NDJSON split in bounded steps, each line parsed into a record.

Everything here is synchronous and bounded, so the HTTP edge runs it in a thread: the unpacked size, the
record count, a line's length and its nesting are checked while reading, and reading stops at the first
byte or record past a limit. A limit of the whole batch refuses the batch (`BatchRefused`, nothing stored);
a line too long or nested too deeply is one bad line, quarantined with its reason like any other.
"""

from __future__ import annotations

import hashlib
import json
import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from typing import Annotated, Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)

from contracts.fed import ExternalId, Reason
from contracts.registered import SEASON_ID_PATTERN
from infra.errors import Malformed, RuleViolation, TooLarge, Unsupported
from infra.settings import ServiceSettings

PIECE_BYTES = 1024 * 1024  # unpacked bytes handled per step: the memory of one step, and how often the cap is checked
RAW_KEPT = 100_000  # characters of a refused line kept in its quarantine record
_NOT_SPACE = re.compile(rb"\S")  # a line with one of these is a record line; blank ones are skipped


@dataclass(frozen=True)
class FeedLimits:
    """The bounds of one batch; each is a setting `QCP_FEED_<NAME>` (see infra/settings.py)."""

    max_compressed_bytes: int
    max_unpacked_bytes: int
    max_records: int
    max_line_bytes: int
    max_depth: int

    @classmethod
    def of(cls, settings: ServiceSettings | None) -> FeedLimits:
        """The limits a service is configured with; without settings, the defaults."""
        if settings is None:
            defaults = ServiceSettings.model_fields
            return cls(**{item.name: defaults[f"feed_{item.name}"].default for item in fields(cls)})
        return cls(**{item.name: getattr(settings, f"feed_{item.name}") for item in fields(cls)})

    @staticmethod
    def setting(name: str) -> str:
        return f"QCP_FEED_{name.upper()}"


DEFAULT_LIMITS = FeedLimits.of(None)
MAX_RECORDS = DEFAULT_LIMITS.max_records
MAX_BYTES = DEFAULT_LIMITS.max_unpacked_bytes


class BatchRefused(RuleViolation):
    """The whole batch is refused before anything is stored (bad gzip, too large)."""


class BatchTooLarge(BatchRefused, TooLarge):
    """The batch, packed or unpacked, or its records, pass a limit."""


class BatchUnsupported(BatchRefused, Unsupported):
    """The batch comes in an encoding the intake does not read."""


class BatchUnreadable(BatchRefused, Malformed):
    """The batch's bytes cannot be read (a broken gzip stream, not UTF-8)."""


def _too_large(what: str, limit: int, name: str) -> BatchTooLarge:
    return BatchTooLarge(
        "body", "feed.batch.too_large",
        f"{what} more than {limit} bytes, the limit ({FeedLimits.setting(name)}); nothing was stored: split the batch",
    )


# ---------------------------------------------------------------- the body, unpacked in pieces


def unpacked_pieces(body: bytes | bytearray | memoryview, content_encoding: str | None,
                    limits: FeedLimits = DEFAULT_LIMITS) -> Iterator[bytes]:
    """The NDJSON text of a body in pieces, gunzipped when it says so or starts with gzip's magic bytes."""
    encoding = (content_encoding or "").strip().lower()
    if encoding not in {"", "identity", "gzip", "x-gzip"}:
        raise BatchUnsupported(
            "Content-Encoding", "feed.encoding.unsupported", f"Content-Encoding {encoding} is not taken; send gzip or none",
        )
    view = memoryview(body)
    if encoding in {"gzip", "x-gzip"} or view[:2] == b"\x1f\x8b":
        yield from _gunzipped(view, limits.max_unpacked_bytes)
        return
    if len(view) > limits.max_unpacked_bytes:
        raise _too_large("the batch has", limits.max_unpacked_bytes, "max_unpacked_bytes")
    for start in range(0, len(view), PIECE_BYTES):
        yield bytes(view[start:start + PIECE_BYTES])


def _gunzipped(body: memoryview, limit: int) -> Iterator[bytes]:
    """Every gzip member of the body, a piece at a time; a stream that ends before its trailer refuses the batch."""
    size = 0
    rest: bytes | memoryview = body
    try:
        while rest:
            decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
            pending: bytes | memoryview = rest
            while pending and not decompressor.eof:
                piece = decompressor.decompress(pending, PIECE_BYTES)
                pending = decompressor.unconsumed_tail
                size += len(piece)
                if size > limit:
                    raise _too_large("the batch unpacks to", limit, "max_unpacked_bytes")
                if piece:
                    yield piece
            if not decompressor.eof:
                raise BatchUnreadable(
                    "body",
                    "feed.gzip.truncated",
                    f"the gzip stream ends before its end (after {size} unpacked bytes): the upload was cut off; "
                    "nothing of this batch was stored, send it again whole",
                )
            rest = decompressor.unused_data.lstrip(b"\x00")
    except zlib.error as error:
        raise BatchUnreadable(
            "body", "feed.gzip.invalid", f"the body is not a valid gzip stream ({error}); nothing was stored",
        ) from None


def unpacked(body: bytes, content_encoding: str | None) -> bytes:
    """The whole NDJSON text of a body (for callers that hold small batches whole)."""
    return b"".join(unpacked_pieces(body, content_encoding))


# ---------------------------------------------------------------- lines


@dataclass(frozen=True)
class RawLine:
    """A non-blank line as read: its number, its bytes (only the head of a line over the length limit)."""

    number: int
    data: bytes
    too_long: bool = False


@dataclass
class LineReader:
    """Splits pieces of text into numbered non-blank lines, counting records and cutting over-long lines.

    Blank lines are skipped at C speed (a search for the next non-space byte), so a body of millions of
    empty lines costs no Python step per line; only record lines do, and there are at most `max_records`.
    """

    limits: FeedLimits = DEFAULT_LIMITS
    newlines: int = 0
    records: int = 0
    _partial: bytearray | None = None  # the current line, begun in an earlier piece
    _partial_size: int = 0

    def feed(self, piece: bytes) -> Iterator[RawLine]:
        position = 0
        if self._partial is not None:
            end = piece.find(b"\n")
            if end < 0:
                self._extend(piece)
                return
            self._extend(piece[:end])
            yield self._close()
            position = end + 1
        while True:
            found = _NOT_SPACE.search(piece, position)
            if found is None:
                self.newlines += piece.count(b"\n", position)
                return
            start = found.start()
            self.newlines += piece.count(b"\n", position, start)
            end = piece.find(b"\n", start)
            if end < 0:
                self._partial, self._partial_size = bytearray(), 0
                self._extend(piece[start:])
                return
            yield self._line(piece[start:end], end - start)
            self.newlines += 1
            position = end + 1

    def finish(self) -> Iterator[RawLine]:
        if self._partial is not None:
            yield self._close()

    def _extend(self, data: bytes) -> None:
        assert self._partial is not None
        self._partial_size += len(data)
        room = self.limits.max_line_bytes + 1 - len(self._partial)
        if room > 0:
            self._partial += data[:room]

    def _close(self) -> RawLine:
        assert self._partial is not None
        data, size = bytes(self._partial), self._partial_size
        self._partial = None
        line = self._line(data, size)
        self.newlines += 1
        return line

    def _line(self, data: bytes, size: int) -> RawLine:
        self.records += 1
        if self.records > self.limits.max_records:
            raise BatchTooLarge(
                "body",
                "feed.batch.too_many_records",
                f"a batch has at most {self.limits.max_records} records ({FeedLimits.setting('max_records')}); this "
                f"one has more (reading stopped at line {self.newlines + 1}): split it, nothing was stored",
            )
        if size > self.limits.max_line_bytes:
            return RawLine(self.newlines + 1, data[:RAW_KEPT], too_long=True)
        return RawLine(self.newlines + 1, data)


def split_lines(text: bytes, limits: FeedLimits = DEFAULT_LIMITS) -> list[tuple[int, bytes]]:
    """Numbered non-empty lines; more than the record limit refuses the batch (413) at the first record past it."""
    return [(line.number, line.data) for line in _lines([text], limits)]


def _lines(pieces: Iterable[bytes], limits: FeedLimits) -> Iterator[RawLine]:
    reader = LineReader(limits)
    for piece in pieces:
        yield from reader.feed(piece)
    yield from reader.finish()


# ---------------------------------------------------------------- records

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


def _refused(number: int, raw: str, rule: str, message: str) -> FeedLine:
    return FeedLine(number, raw, reasons=(Reason(field="line", rule=rule, message=message),))


def parse_line(number: int, line: bytes, limits: FeedLimits = DEFAULT_LIMITS, *, too_long: bool = False) -> FeedLine:
    try:
        raw = line.decode("utf-8").strip()
    except UnicodeDecodeError as error:
        raw = line.decode("utf-8", errors="replace").strip()
        if not too_long:  # a cut line may end inside a character; its length is what refuses it
            return _refused(number, raw, "feed.line.encoding", f"line {number} is not UTF-8 ({error.reason})")
    if too_long:
        return _refused(number, raw[:RAW_KEPT], "feed.line.too_long",
                        f"line {number} is longer than {limits.max_line_bytes} bytes, the limit of one record "
                        f"({FeedLimits.setting('max_line_bytes')})")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as error:
        return _refused(number, raw, "feed.line.json", f"line {number} is not JSON: {error.msg} at column {error.colno}")
    except RecursionError:  # nested deeper than the parser goes: far past the limit
        return _too_deep(number, raw, limits)
    if _deeper_than(value, limits.max_depth, line):
        return _too_deep(number, raw, limits)
    if not isinstance(value, dict):
        return _refused(number, raw, "feed.line.not_object", f"line {number} is JSON but not an object (a record)")
    claimed = value.get("record_type") if isinstance(value.get("record_type"), str) else None
    try:
        return FeedLine(number, raw, FeedRecord.model_validate(value), record_type=claimed)
    except ValidationError as error:
        return FeedLine(number, raw, reasons=tuple(reasons_of(error, prefix="")), record_type=claimed)


def _too_deep(number: int, raw: str, limits: FeedLimits) -> FeedLine:
    return _refused(number, raw[:RAW_KEPT], "feed.line.too_deep",
                    f"line {number} nests arrays or objects more than {limits.max_depth} levels deep, the limit "
                    f"({FeedLimits.setting('max_depth')})")


def _deeper_than(value: Any, limit: int, line: bytes) -> bool:
    """Whether arrays and objects nest more than `limit` levels (only walked when the line has that many brackets)."""
    if line.count(b"[") + line.count(b"{") <= limit:
        return False
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def parse_batch(text: bytes, limits: FeedLimits = DEFAULT_LIMITS) -> list[FeedLine]:
    return [parse_line(line.number, line.data, limits, too_long=line.too_long) for line in _lines([text], limits)]


@dataclass(frozen=True)
class ReadBatch:
    """A body read whole: its lines, and the SHA-256 of its unpacked text (what names a batch without an id)."""

    lines: list[FeedLine]
    content_sha256: str


def read_batch(body: bytes | bytearray, content_encoding: str | None, limits: FeedLimits = DEFAULT_LIMITS) -> ReadBatch:
    """Unpack, split and parse a body in one pass, never holding its unpacked text whole; blocking, run it in a thread."""
    digest = hashlib.sha256()

    def hashed(pieces: Iterable[bytes]) -> Iterator[bytes]:
        for piece in pieces:
            digest.update(piece)
            yield piece

    lines = [parse_line(line.number, line.data, limits, too_long=line.too_long)
             for line in _lines(hashed(unpacked_pieces(body, content_encoding, limits)), limits)]
    return ReadBatch(lines, digest.hexdigest())


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


def content_batch_id(text: bytes) -> str:
    """A batch without an id of its own is named after its content, so the same content is the same batch."""
    return batch_id_of_digest(hashlib.sha256(text).hexdigest())


def batch_id_of_digest(content_sha256: str) -> str:
    return "sha256-" + content_sha256[:32]
