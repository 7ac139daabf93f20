"""Payloads are validated against their contract; an old version still parses through its upcaster."""

import uuid
from datetime import UTC, datetime

import pytest

from contracts import ContractError, Envelope, families, latest_version, parse_payload
from contracts.envelope import event_id_for
from qcp.demo import demo_registration

FAMILIES = {"registered", "submitted", "recommended", "scored", "published", "fed", "national"}


def test_the_seven_families_are_there() -> None:
    assert set(families()) == FAMILIES
    assert all(families()[name] for name in FAMILIES)


def test_a_version_one_unit_registration_upcasts_to_the_current_model() -> None:
    v1 = demo_registration(0) | {"season_id": "310000-2026-qc_group"}
    del v1["key_industries"]
    v1["key_industry"] = "biomedicine"
    model = parse_payload("UnitRegistered", 1, v1)
    assert latest_version("UnitRegistered") == 3
    assert model.key_industries == ["biomedicine"]


def test_the_current_version_parses_as_is() -> None:
    payload = demo_registration(1) | {"season_id": "310000-2026-qc_group"}
    assert parse_payload("UnitRegistered", 2, payload).credit_code == payload["credit_code"]


def test_a_version_newer_than_known_is_refused() -> None:
    with pytest.raises(ContractError, match="newer"):
        parse_payload("UnitRegistered", 4, {})


def test_an_unknown_type_is_refused() -> None:
    with pytest.raises(ContractError, match="unknown event type"):
        parse_payload("UnitTeleported", 1, {})


def test_an_unknown_field_is_refused() -> None:
    payload = demo_registration(1) | {"season_id": "310000-2026-qc_group", "favourite_colour": "red"}
    with pytest.raises(ContractError, match="favourite_colour"):
        parse_payload("UnitRegistered", 2, payload)


def test_event_ids_are_stable_for_the_same_stored_event() -> None:
    aggregate = uuid.uuid4()
    assert event_id_for(aggregate, 3) == event_id_for(aggregate, 3)
    assert event_id_for(aggregate, 3) != event_id_for(aggregate, 4)


def test_the_envelope_refuses_unknown_fields() -> None:
    now = datetime.now(UTC).isoformat()
    data = {
        "event_id": str(uuid.uuid4()), "type": "X", "schema_version": 1, "aggregate_id": str(uuid.uuid4()),
        "aggregate_version": 1, "occurred_at": now, "recorded_at": now,
        "actor": {"id": "a", "role": "unit", "org": "o"}, "channel": "unit", "source": {}, "trace_id": "t",
        "payload": {},
    }
    assert Envelope.model_validate(data).source.system == "qc-platform"
    with pytest.raises(ValueError, match="extra"):
        Envelope.model_validate(data | {"surprise": 1})
