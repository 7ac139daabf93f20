"""The relay publishes every stored event once Kafka acknowledged it, in order, with stable ids."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from contracts import Actor
from contracts.codes import Channel, Role
from contracts.registered import SeasonOpened, UnitRegistrationForm
from infra.eventstore import CommandContext
from infra.bootstrap import build_relay
from infra.metrics import ServiceMetrics
from qcp.demo import demo_registration, demo_season
from services.registration.application import RegistrationApplication
from tests.harness import isolated_settings, new_namespace, on_postgres, read_topic

SECRETARIAT = CommandContext(Actor(id="staff-1", role=Role.ORGANIZER, org="310000"), Channel.ORGANIZER)


def store_season_with_units(app: RegistrationApplication, units: int) -> str:
    now = datetime.now(UTC)
    season_id = f"310000-{now.year}-qc_group"
    app.open_season(SeasonOpened(season_id=season_id, **demo_season(now.year, now)), SECRETARIAT)
    for index in range(units):
        app.register_unit(season_id, UnitRegistrationForm.model_validate(demo_registration(index)), SECRETARIAT)
    return season_id


@pytest.mark.parametrize("event_store", ["sqlite", "postgres"])
async def test_stored_events_reach_kafka_in_order_and_the_position_follows(stack, tmp_path, event_store) -> None:
    settings = isolated_settings(stack, "registration", tmp_path, new_namespace())
    if event_store == "postgres":
        settings = on_postgres(stack, settings)
    app = RegistrationApplication(settings)
    store_season_with_units(app, 3)
    form = UnitRegistrationForm.model_validate(demo_registration(0))
    app.register_unit(f"310000-{datetime.now(UTC).year}-qc_group", form, SECRETARIAT)  # an amendment
    relay = build_relay(settings.model_copy(update={"relay_batch_size": 2}), app, ServiceMetrics("registration"))
    try:
        published = [await relay.publish_pending() for _ in range(4)]
    finally:
        await relay.producer.close()

    assert published == [2, 2, 1, 0]
    assert await relay.position() == app.recorder.max_notification_id() == 5
    records = await read_topic(settings.kafka_bootstrap, settings.own_topic, expect=5)
    envelopes = [json.loads(record.value) for record in records]
    assert sorted(item["type"] for item in envelopes) == sorted(
        ["SeasonOpened", "UnitRegistered", "UnitRegistered", "UnitRegistered", "UnitRegistrationAmended"]
    )
    first_unit = [item for item in envelopes if item["payload"].get("credit_code") == form.credit_code]
    assert [item["aggregate_version"] for item in first_unit] == [1, 2]
    assert {record.key.decode() for record in records if json.loads(record.value)["payload"].get("credit_code") == form.credit_code} == {first_unit[0]["aggregate_id"]}
    stored_ids = {str(envelope.event_id) for envelope in app.envelopes_after(0, 100)[0]}
    assert {item["event_id"] for item in envelopes} == stored_ids
    assert all(dict(record.headers)["event_id"].decode() == json.loads(record.value)["event_id"] for record in records)
