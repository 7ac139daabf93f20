"""A stamped payload: the event a command applies right away takes the command's model; what is stored replays the same."""

from __future__ import annotations

import json

import pytest

from contracts import Actor, ContractError
from contracts.codes import Channel, Role
from contracts.registered import UnitRegistered, UnitRegistrationForm
from infra.events import current
from infra.eventstore import CommandContext, stamp
from qcp.demo import demo_registration

CONTEXT = CommandContext(Actor(id="staff-1", role=Role.ORGANIZER, org="310000"), Channel.ORGANIZER)
SEASON = "310000-2026-qc_group"


def registered() -> UnitRegistered:
    form = UnitRegistrationForm.model_validate(demo_registration(0))
    return UnitRegistered(season_id=SEASON, **form.model_dump())


def test_the_event_applied_right_away_takes_the_model_the_command_built() -> None:
    payload = registered()
    stamped = stamp(payload, CONTEXT, season_id=SEASON, organizer="310000")

    assert current("UnitRegistered", stamped["payload"], stamped["meta"]) is payload


def test_the_stored_form_is_plain_json_and_replays_to_an_equal_model() -> None:
    payload = registered()
    stamped = stamp(payload, CONTEXT, season_id=SEASON, organizer="310000")
    stored = json.loads(json.dumps(stamped["payload"]))

    assert current("UnitRegistered", stored, stamped["meta"]) == payload


def test_a_payload_of_another_schema_version_is_validated_again() -> None:
    payload = registered()
    stamped = stamp(payload, CONTEXT, season_id=SEASON, organizer="310000")
    newer = stamped["meta"] | {"schema_version": stamped["payload"].schema_version + 1}

    with pytest.raises(ContractError):
        current("UnitRegistered", stamped["payload"], newer)
