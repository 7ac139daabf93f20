"""The digest chain: a canonical envelope, stable; any change changes that digest and every later one; order matters."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

from contracts import Envelope
from contracts.envelope import event_id_for
from infra.digest import canonical, chain, chain_report, first_divergence

AGGREGATE = uuid.uuid4()
START = datetime(2026, 3, 1, 2, 0, 0, 123456, tzinfo=UTC)


def envelope(version: int, **changes: object) -> Envelope:
    fields = {
        "event_id": event_id_for(AGGREGATE, version),
        "type": "ScoreRecorded",
        "schema_version": 1,
        "aggregate_id": AGGREGATE,
        "aggregate_version": version,
        "season_id": "310000-2026-qc_group",
        "organizer": "310000",
        "occurred_at": START + timedelta(minutes=version),
        "recorded_at": START + timedelta(minutes=version, seconds=1),
        "actor": {"id": "judge-1", "role": "judge", "org": "310000"},
        "channel": "organizer",
        "source": {"system": "qc-platform"},
        "trace_id": "t1",
        "payload": {"entry_id": "e1", "total": "91.5", "criteria": {"b": "1", "a": "2"}, "comment": "良好"},
    }
    return Envelope.model_validate(fields | changes)


EVENTS = [envelope(version) for version in range(1, 6)]


def test_canonical_form_is_sorted_compact_utf8_with_one_instant_form() -> None:
    text = canonical(EVENTS[0]).decode()
    assert text.startswith('{"actor":{"id":"judge-1"') and " " not in text.replace("qc-platform", "")
    assert '"occurred_at":"2026-03-01T02:01:00.123456Z"' in text
    assert '"comment":"良好"' in text, "UTF-8, not escaped"
    assert '"criteria":{"a":"2","b":"1"}' in text


def test_the_same_instant_in_another_offset_is_the_same_canonical_form() -> None:
    shanghai = EVENTS[0].occurred_at.astimezone(timezone(timedelta(hours=8)))
    assert canonical(EVENTS[0].model_copy(update={"occurred_at": shanghai})) == canonical(EVENTS[0])


def test_the_chain_is_stable_and_survives_the_wire() -> None:
    wired = [Envelope.model_validate_json(item.model_dump_json()) for item in EVENTS]
    assert chain(EVENTS) == chain(wired) == chain(EVENTS)
    assert [link.version for link in chain(EVENTS)] == [1, 2, 3, 4, 5]


def test_any_changed_field_changes_that_digest_and_every_later_one() -> None:
    original = chain(EVENTS)
    for change in (
        {"payload": EVENTS[2].payload | {"total": "99"}},
        {"actor": {"id": "judge-2", "role": "judge", "org": "310000"}},
        {"channel": "recommender"},
        {"source": {"system": "shandong-feed", "province": "370000", "external_id": "x", "version": 2}},
        {"recorded_at": EVENTS[2].recorded_at + timedelta(microseconds=1)},
        {"trace_id": "t2"},
        {"schema_version": 2},
    ):
        tampered = chain([*EVENTS[:2], Envelope.model_validate(EVENTS[2].model_dump() | change), *EVENTS[3:]])
        assert tampered[:2] == original[:2], change
        assert all(ours.digest != theirs.digest for ours, theirs in zip(tampered[2:], original[2:], strict=True)), change


def test_order_matters() -> None:
    swapped = chain([EVENTS[1], EVENTS[0], *EVENTS[2:]])
    assert {link.digest for link in swapped}.isdisjoint(link.digest for link in chain(EVENTS))


def test_a_report_sorts_by_version_and_gives_the_head() -> None:
    report = chain_report(str(AGGREGATE), list(reversed(EVENTS)))
    assert report["version"] == 5 and report["head"] == chain(EVENTS)[-1].digest
    assert [item["version"] for item in report["events"]] == [1, 2, 3, 4, 5]
    assert chain_report(str(AGGREGATE), [])["head"] is None


def test_first_divergence_names_the_first_event_apart_or_missing() -> None:
    original = chain(EVENTS)
    assert first_divergence(original, original) is None
    tampered = chain([*EVENTS[:3], EVENTS[3].model_copy(update={"trace_id": "x"}), EVENTS[4]])
    found = first_divergence(original, tampered)
    assert found is not None
    assert (found.version, found.event_id, found.type) == (4, str(EVENTS[3].event_id), "ScoreRecorded")
    assert (found.ours, found.theirs, found.missing) == (original[3].digest, tampered[3].digest, None)
    shorter = first_divergence(original, original[:2])
    assert shorter is not None and (shorter.version, shorter.missing, shorter.theirs) == (3, "theirs", None)
    assert first_divergence([], original[:1]).missing == "ours"  # type: ignore[union-attr]
