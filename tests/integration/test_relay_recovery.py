"""A relay cannot stay stuck: a producer that will never send again is replaced, a stalled leader
hands its lease over, the lag is read from the event store, and a wedged worker fails liveness."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, OutOfOrderSequenceNumber

from infra.bootstrap import build_relay, build_worker
from infra.kafka import ensure_topics
from infra.metrics import ServiceMetrics
from infra.relay import OutboxRelay
from infra.relay_lease import lease_for
from qcp.demo import demo_registration
from contracts.registered import UnitRegistrationForm
from services.registration.application import RegistrationApplication
from services.registration.bootstrap import definition
from tests.harness import eventually, isolated_settings, new_namespace, on_postgres, read_topic
from tests.integration.test_outbox_relay import SECRETARIAT, store_season_with_units

UNREACHABLE_KAFKA = "127.0.0.1:9"


def break_for_good(producer: AIOKafkaProducer, error: Exception) -> None:
    """What aiokafka 0.14 does after OutOfOrderSequenceNumber: its sender task ends and every
    later send raises the same error, until the process restarts."""
    producer._sender.sender_task.cancel()  # noqa: SLF001 - reproducing the library's own failure state
    producer._message_accumulator.fail_all(error)  # noqa: SLF001


def hang(producer: AIOKafkaProducer) -> None:
    """A producer whose sender stopped without an error: sends are queued and never answered."""
    producer._sender.sender_task.cancel()  # noqa: SLF001 - reproducing a silent hang


def metric(metrics: ServiceMetrics, name: str) -> float:
    value = metrics.registry.get_sample_value(name, {"service": metrics.service})
    return 0.0 if value is None else value


async def event_ids_on(settings, expect: int) -> set[str]:  # noqa: ANN001
    records = await read_topic(settings.kafka_bootstrap, settings.own_topic, expect=expect)
    return {json.loads(record.value)["event_id"] for record in records}


@pytest.mark.parametrize("event_store", ["sqlite", "postgres"])
@pytest.mark.parametrize(
    "error", [OutOfOrderSequenceNumber(), KafkaConnectionError("injected"), None],
    ids=["fatal", "retriable-forever", "hung-without-error"],
)
async def test_a_producer_that_never_sends_again_is_replaced_and_every_stored_event_reaches_kafka(
    stack, tmp_path, event_store, error
) -> None:
    settings = isolated_settings(stack, "registration", tmp_path, new_namespace(), retry_backoff_seconds=0.1,
                                 relay_publish_timeout_seconds=3.0)
    if event_store == "postgres":
        settings = on_postgres(stack, settings)
    await ensure_topics(settings, [settings.own_topic])
    app = RegistrationApplication(settings)
    season_id = store_season_with_units(app, 2)
    metrics = ServiceMetrics("registration")
    relay = build_relay(settings, app, metrics)
    stop = asyncio.Event()
    running = asyncio.create_task(relay.run(stop))
    try:
        await eventually(lambda: relay.position(), timeout=30)  # the first events are out
        if error is None:
            hang(relay.producer._producer)  # noqa: SLF001
        else:
            break_for_good(relay.producer._producer, error)  # noqa: SLF001
        for index in range(4):  # new units and amendments
            form = UnitRegistrationForm.model_validate(demo_registration(index))
            await asyncio.to_thread(app.register_unit, season_id, form, SECRETARIAT)
        stored = app.recorder.max_notification_id()

        async def all_published() -> bool:
            return await relay.position() == stored

        await eventually(all_published, timeout=60)
    finally:
        stop.set()
        await running
    stored_ids = {str(envelope.event_id) for envelope in app.envelopes_after(0, 100)[0]}
    assert await event_ids_on(settings, expect=len(stored_ids)) == stored_ids
    assert relay.producer.replacements == 1
    assert metric(metrics, "qcp_relay_producer_replacements_total") == 1
    assert relay.last_error is None


async def test_a_stalled_leader_reports_its_backlog_from_the_store_and_hands_its_lease_to_a_standby(
    stack, tmp_path
) -> None:
    settings = isolated_settings(
        stack, "registration", tmp_path, new_namespace(),
        kafka_bootstrap=UNREACHABLE_KAFKA, retry_backoff_seconds=0.2, relay_yield_lease_after_seconds=1.0,
    )
    app = RegistrationApplication(settings)
    store_season_with_units(app, 3)
    metrics = ServiceMetrics("registration")
    relay = build_relay(settings, app, metrics)
    standby = lease_for(settings, settings.own_topic)
    stop = asyncio.Event()
    running = asyncio.create_task(relay.run(stop))
    try:
        async def backlog_reported() -> bool:
            return metric(metrics, "qcp_relay_lag_events") == 4

        await eventually(backlog_reported, timeout=20)
        assert await relay.position() == 0, "nothing could be published"

        async def standby_took_over() -> bool:
            return await asyncio.to_thread(standby.try_acquire)

        await eventually(standby_took_over, timeout=30)
        assert metric(metrics, "qcp_relay_leader") == 0
    finally:
        stop.set()
        await running
        standby.release()


async def test_a_worker_whose_relay_publishes_nothing_with_a_backlog_fails_liveness(stack, tmp_path) -> None:
    settings = isolated_settings(
        stack, "registration", tmp_path, new_namespace(),
        kafka_bootstrap=UNREACHABLE_KAFKA, relay_liveness_stall_seconds=3.0,
    )
    app = RegistrationApplication(settings)
    store_season_with_units(app, 1)
    app.close()
    worker = build_worker(definition(), settings)
    assert isinstance(worker.relay, OutboxRelay)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    transport = httpx.ASGITransport(app=worker.health_app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://worker") as client:
            first = await client.get("/health")
            assert first.status_code == 200, first.text

            async def wedged() -> dict | None:
                answer = await client.get("/health")
                return answer.json() if answer.status_code == 503 else None

            answer = await eventually(wedged, timeout=30)
        assert answer["status"] == "wedged"
        assert "2 stored events wait" in answer["problems"]["relay"]
    finally:
        stop.set()
        await running
