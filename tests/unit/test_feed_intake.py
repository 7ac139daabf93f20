"""The shared feed mechanism without I/O: body and line parsing, refusals, the report's arithmetic, and the
intake's de-duplication, amendments, quarantine and its resolution on an in-memory event store."""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest
from eventsourcing.domain import Aggregate, event

from contracts import Actor
from contracts.codes import Role
from contracts.identity import stable_uuid
from infra.errors import NotPermitted, RuleViolation
from infra.eventstore import CommandContext, EventStoreApplication
from infra.feeds import (
    MAX_RECORDS,
    BatchInterrupted,
    BatchRefused,
    FeedIntake,
    FeedRecord,
    Report,
    Work,
    content_batch_id,
    parse_batch,
    parse_line,
    split_lines,
    unpacked,
)
from infra.feeds.routes import province_of
from infra.http import status_of
from infra.settings import ServiceSettings

FEED = Actor(id="shanghai-platform", role=Role.FEED, org="310000")


def record(external_id: str = "R1", version: int = 1, **changes: Any) -> dict[str, Any]:
    return {"record_type": "thing", "province": "310000", "external_id": external_id, "version": version,
            "season": "310000-2026-qc_group", "data": {"name": "甲"}} | changes


def ndjson(*items: Any) -> bytes:
    return "\n".join(item if isinstance(item, str) else json.dumps(item, ensure_ascii=False) for item in items).encode()


# ---------------------------------------------------------------- the body


def test_a_gzip_body_is_unpacked_by_header_or_by_magic_bytes() -> None:
    text = ndjson(record())
    assert unpacked(gzip.compress(text), "gzip") == text
    assert unpacked(gzip.compress(text), None) == text
    assert unpacked(text, None) == text


def test_a_truncated_gzip_refuses_the_whole_batch() -> None:
    packed = gzip.compress(ndjson(*[record(f"R{index}") for index in range(200)]))
    with pytest.raises(BatchRefused) as refused:
        unpacked(packed[: len(packed) // 2], "gzip")
    assert (status_of(refused.value), refused.value.rule) == (400, "feed.gzip.truncated")


def test_a_body_that_is_not_gzip_but_says_so_is_refused() -> None:
    with pytest.raises(BatchRefused) as refused:
        unpacked(b"\x1f\x8bnot really gzip", None)
    assert refused.value.rule == "feed.gzip.invalid"


def test_more_than_50000_records_are_refused_before_parsing() -> None:
    with pytest.raises(BatchRefused) as refused:
        split_lines(b"{}\n" * (MAX_RECORDS + 1))
    assert (status_of(refused.value), refused.value.rule) == (413, "feed.batch.too_many_records")
    assert len(split_lines(b"{}\n\n  \n" * 3)) == 3, "blank lines are not records"


# ---------------------------------------------------------------- lines


def test_a_line_that_is_not_json_is_kept_with_its_number_and_reason() -> None:
    line = parse_line(7, b'{"record_type": "thing", ')
    assert line.record is None and line.number == 7
    assert line.reasons[0].rule == "feed.line.json"
    assert parse_line(1, b"[1, 2]").reasons[0].rule == "feed.line.not_object"
    assert parse_line(1, b"\xff\xfe").reasons[0].rule == "feed.line.encoding"


def test_a_record_without_its_header_names_every_missing_field() -> None:
    line = parse_line(3, json.dumps({"record_type": "thing", "data": {}}).encode())
    assert line.record is None and line.record_type == "thing"
    assert {reason.field for reason in line.reasons} == {"province", "external_id", "version", "season"}
    bad_version = parse_line(4, json.dumps(record(version=0)).encode())
    assert [reason.field for reason in bad_version.reasons] == ["version"]


def test_a_valid_line_carries_its_record() -> None:
    (line,) = parse_batch(ndjson(record()))
    assert line.record == FeedRecord.model_validate(record())


def test_a_batch_without_an_id_is_named_after_its_content() -> None:
    assert content_batch_id(b"a") == content_batch_id(b"a") != content_batch_id(b"b")


# ---------------------------------------------------------------- the caller


def test_only_a_provinces_feed_token_posts() -> None:
    assert province_of(FEED) == "310000"
    for actor in (Actor(id="x", role=Role.FEED, org="310100"), Actor(id="x", role=Role.FEED, org="990000"),
                  Actor(id="x", role=Role.FEED, org="CAQ"), Actor(id="x", role=Role.ORGANIZER, org="310000")):
        with pytest.raises(NotPermitted) as refused:
            province_of(actor)
        assert status_of(refused.value) == 403


# ---------------------------------------------------------------- the report


def test_records_in_are_accepted_plus_duplicates_plus_quarantined() -> None:
    report = Report()
    for outcome in ("accepted", "amendments", "duplicates", "stale", "quarantined"):
        report.count("entry", outcome)
    report.check()
    assert report.as_dict()["by_type"]["entry"] == {
        "in": 5, "accepted": 2, "amendments": 1, "duplicates": 2, "stale": 1, "quarantined": 1}
    report.counts["entry"]["accepted"] += 1
    with pytest.raises(AssertionError):
        report.check()


# ---------------------------------------------------------------- the intake on an in-memory store


class Thing(Aggregate):
    @staticmethod
    def create_id(external_id: str, name: str) -> Any:  # noqa: ARG004
        return stable_uuid("thing", external_id)

    @event("ThingRecorded")
    def __init__(self, external_id: str, name: str) -> None:
        self.external_id = external_id
        self.name = name

    @event("ThingRenamed")
    def rename(self, name: str) -> None:
        self.name = name


class Things(EventStoreApplication):
    def take(self, feed_record: FeedRecord, work: Work, context: CommandContext) -> Thing:  # noqa: ARG002
        name = feed_record.data.get("name")
        if not name:
            raise RuleViolation("data.name", "thing.name.required", "a thing has a name")
        key = feed_record.data.get("key", feed_record.external_id)
        thing: Thing | None = work.get(stable_uuid("thing", key))
        if thing is None:
            thing = Thing(external_id=key, name=name)
        else:
            thing.rename(name=name)
        work.add(thing)
        return thing


@pytest.fixture
def intake(tmp_path) -> FeedIntake:
    application = Things(ServiceSettings(service="registration", event_store="memory", sqlite_dir=tmp_path))
    return FeedIntake(application, "registration", {"thing": application.take}, touches={
        "thing": lambda item: [stable_uuid("thing", item.data.get("key", item.external_id))]})


def post(intake: FeedIntake, text: bytes, batch_id: str = "b1") -> dict[str, Any]:
    return intake.receive(parse_batch(text), province="310000", batch_id=batch_id, content_sha256=content_batch_id(text),
                          actor=FEED, trace_id="t")


def test_each_record_version_is_taken_once_and_a_higher_version_amends(intake: FeedIntake) -> None:
    first = post(intake, ndjson(record("A"), record("B"), record("A")))
    assert first["by_type"]["thing"] == {"in": 3, "accepted": 2, "amendments": 0, "duplicates": 1, "stale": 0,
                                         "quarantined": 0}
    again = post(intake, ndjson(record("A"), record("B"), record("A")))
    assert again["repeated"] and again["total"]["duplicates"] == 3 and again["total"]["accepted"] == 0
    later = post(intake, ndjson(record("A", 3, data={"name": "乙"}), record("A", 2)), batch_id="b2")
    assert later["by_type"]["thing"]["amendments"] == 1 and later["by_type"]["thing"]["stale"] == 1


def test_a_batch_id_reused_for_other_content_is_refused(intake: FeedIntake) -> None:
    post(intake, ndjson(record("A")))
    with pytest.raises(RuleViolation) as refused:
        post(intake, ndjson(record("B")))
    assert (status_of(refused.value), refused.value.rule) == (409, "feed.batch.reused")


def test_refused_records_are_quarantined_once_and_resolved_when_sent_correctly(intake: FeedIntake) -> None:
    stored = intake.application.recorder.max_notification_id
    text = ndjson(record("A", data={}), "not json", record("B", province="370000"), record("C", record_type="entry"))
    first = post(intake, text)
    assert first["total"] == {"in": 4, "accepted": 0, "amendments": 0, "duplicates": 0, "stale": 0, "quarantined": 4}
    assert set(first["by_type"]) == {"thing", "unreadable", "entry"}
    after_first = stored()
    again = post(intake, text)
    assert again["total"]["quarantined"] == 4
    assert stored() == after_first, "the same refusals posted again store nothing new"
    corrected = post(intake, ndjson(record("A")), batch_id="b2")
    assert corrected["total"]["accepted"] == 1
    types = [type(item).__name__ for item in intake.application.events.get(
        next(iter(_quarantine_ids(intake))))]
    assert types == ["FeedRecordQuarantined", "FeedQuarantineResolved"]


def _quarantine_ids(intake: FeedIntake) -> list[Any]:
    notifications = intake.application.recorder.select_notifications(start=1, limit=1000)
    resolved = [intake.application.mapper.to_domain_event(item) for item in notifications]
    return [item.originator_id for item in resolved if type(item).__name__ == "FeedQuarantineResolved"]


def test_a_higher_version_that_names_something_else_is_refused(intake: FeedIntake) -> None:
    post(intake, ndjson(record("A")))
    changed = post(intake, ndjson(record("A", 2, data={"name": "乙", "key": "other"})), batch_id="b2")
    assert changed["total"]["quarantined"] == 1
    same = post(intake, ndjson(record("A", 2, data={"name": "乙"})), batch_id="b3")
    assert same["total"]["amendments"] == 1


def test_a_batch_that_stops_midway_says_what_was_stored_and_posting_it_again_completes_it(intake: FeedIntake) -> None:
    intake.chunk_size = 2
    text = ndjson(*[record(f"R{index}") for index in range(5)])
    working = intake.handlers["thing"]

    def store_goes_away_at_r3(feed_record: FeedRecord, work: Work, context: CommandContext) -> Any:
        if feed_record.external_id == "R3":
            raise ConnectionError("the event store went away")
        return working(feed_record, work, context)

    intake.handlers = {"thing": store_goes_away_at_r3}
    with pytest.raises(BatchInterrupted) as interrupted:
        post(intake, text)
    assert interrupted.value.stored_records == 2, "the first chunk (R0, R1) was stored, the second not at all"
    assert interrupted.value.report["total"]["accepted"] == 2
    intake.handlers = {"thing": working}
    completed = post(intake, text)
    assert completed["total"] | {} == {"in": 5, "accepted": 3, "amendments": 0, "duplicates": 2, "stale": 0,
                                       "quarantined": 0}
    assert not completed["repeated"], "the report is recorded once the batch is complete"


def test_the_answer_with_keys_lists_the_records_stored_now_or_before_and_not_the_refused(intake: FeedIntake) -> None:
    post(intake, ndjson(record("A")))
    text = ndjson(record("A"), record("B"), record("C", data={}), "not json", record("D", record_type="entry"))
    answer = intake.receive(parse_batch(text), province="310000", batch_id="b2", content_sha256=content_batch_id(text),
                            actor=FEED, trace_id="t", with_keys=True)
    assert answer["stored"] == ["thing/A", "thing/B"]
