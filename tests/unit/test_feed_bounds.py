"""A feed body read within its bounds, without I/O: records counted while reading, the unpacked size capped,
a line too long or nested too deeply quarantined with its reason, and reading in pieces equal to reading whole."""

from __future__ import annotations

import gzip
import hashlib
import json
import zlib
from collections.abc import Iterator
from dataclasses import replace

import pytest

from infra.feeds import (
    DEFAULT_LIMITS,
    BatchRefused,
    FeedLimits,
    parse_batch,
    read_batch,
    split_lines,
)
from infra.feeds.parsing import LineReader
from infra.http import status_of
from infra.http.limits import TokenBuckets

RECORD = {"record_type": "thing", "province": "310000", "external_id": "R1", "version": 1,
          "season": "310000-2026-qc_group", "data": {"name": "甲"}}


def line(**changes: object) -> bytes:
    return json.dumps(RECORD | changes, ensure_ascii=False).encode()


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


# ---------------------------------------------------------------- one bad line, not a failed batch


def test_a_line_nested_deeper_than_the_limit_is_quarantined_and_the_others_are_read() -> None:
    deep = line(data={"name": "甲", "x": json.loads(nested(DEFAULT_LIMITS.max_depth))})
    first, refused, far, last = parse_batch(b"\n".join([line(), deep, nested(200_000), line(external_id="R2")]))
    assert [item.reasons[0].rule for item in (refused, far)] == ["feed.line.too_deep", "feed.line.too_deep"]
    assert "QCP_FEED_MAX_DEPTH" in refused.reasons[0].message
    assert first.record is not None and last.record is not None and last.number == 4


def test_a_line_at_the_depth_limit_is_a_record() -> None:
    data = {"name": "甲", "x": json.loads(nested(DEFAULT_LIMITS.max_depth - 2))}  # the record and data are 2 levels
    (item,) = parse_batch(line(data=data))
    assert item.record is not None, item.reasons


def test_a_line_longer_than_the_limit_is_quarantined_with_its_head_kept() -> None:
    limits = replace(DEFAULT_LIMITS, max_line_bytes=4096)
    long = line(data={"name": "甲" * 4096})
    first, refused, last = parse_batch(b"\n".join([line(), long, line(external_id="R2")]), limits)
    assert (refused.number, refused.reasons[0].rule) == (2, "feed.line.too_long")
    assert "QCP_FEED_MAX_LINE_BYTES" in refused.reasons[0].message and refused.raw.startswith('{"record_type"')
    assert first.record is not None and last.record is not None


# ---------------------------------------------------------------- limits of the whole batch, while reading


def test_reading_stops_at_the_first_record_past_the_limit() -> None:
    limits = replace(DEFAULT_LIMITS, max_records=10)
    read: list[int] = []

    def pieces() -> Iterator[bytes]:
        for index in range(1_000):
            read.append(index)
            yield b"{}\n"

    reader = LineReader(limits)
    with pytest.raises(BatchRefused) as refused:
        for piece in pieces():
            list(reader.feed(piece))
    assert (status_of(refused.value), refused.value.rule) == (413, "feed.batch.too_many_records")
    assert len(read) == 11, "not one piece past the eleventh record is read"


def test_a_body_unpacking_past_the_cap_is_refused_naming_the_limit() -> None:
    limits = replace(DEFAULT_LIMITS, max_unpacked_bytes=8 * 1024 * 1024)
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    bomb = b"".join(packer.compress(bytes(1024 * 1024)) for _ in range(9)) + packer.flush()
    with pytest.raises(BatchRefused) as refused:
        read_batch(bomb, "gzip", limits)
    assert (status_of(refused.value), refused.value.rule) == (413, "feed.batch.too_large")
    assert "QCP_FEED_MAX_UNPACKED_BYTES" in refused.value.message


def test_millions_of_blank_lines_are_no_records() -> None:
    body = gzip.compress(b"\n \r\n" * 4_000_000 + line() + b"\n" + b"\n" * 4_000_000)
    (item,) = read_batch(body, "gzip").lines
    assert item.number == 8_000_001 and item.record is not None


def test_reading_in_pieces_finds_the_same_lines_and_content_digest_as_reading_whole() -> None:
    text = b"\n".join([line(external_id=f"R{index}") for index in range(16_000)] + [b"  ", b"not json", b"{}"])
    assert len(text) > 2 * 1024 * 1024, "the text spans several pieces"
    whole = split_lines(text)
    batch = read_batch(gzip.compress(text), None)
    assert [(item.number, item.raw) for item in batch.lines] == [(number, data.decode()) for number, data in whole]
    assert batch.content_sha256 == hashlib.sha256(text).hexdigest()


def test_the_limits_are_the_settings_names() -> None:
    assert FeedLimits.setting("max_unpacked_bytes") == "QCP_FEED_MAX_UNPACKED_BYTES"
    assert (DEFAULT_LIMITS.max_records, DEFAULT_LIMITS.max_depth) == (50_000, 64)


# ---------------------------------------------------------------- writes per token


def test_a_token_bucket_allows_a_minutes_worth_then_says_when_the_next_write_is_allowed() -> None:
    now = [0.0]
    buckets = TokenBuckets(clock=lambda: now[0])
    assert [buckets.take(("a",), 3) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take(("a",), 3) == pytest.approx(20.0)
    assert buckets.take(("b",), 3) == 0.0, "another token has its own bucket"
    now[0] = 20.0
    assert buckets.take(("a",), 3) == 0.0
