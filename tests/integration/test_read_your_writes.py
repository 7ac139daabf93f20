"""Reading one's own writes on the real stack: a command answers the position of its event, a read with
`min_position` waits until the read model has applied it (stats: until its reports include it), a position
never applied answers 409 with what was applied after the wait, and a malformed one is a 422 naming it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest_asyncio
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI

from benchmarks.stats_events import SeasonPlan, season_events
from contracts import Envelope
from infra.bootstrap import build_api, build_worker
from infra.kafka import encode, ensure_topics
from infra.settings import ServiceSettings
from qcp.demo import demo_registration, demo_season
from qcp.services import definition
from services.stats.domain.records import Header, StatsState
from services.stats.domain.reports import reports_for
from services.stats.entrypoints.messaging import CONSUMED_TOPICS
from tests.harness import isolated_settings, new_namespace
from tests.integration.test_registration_http import ORGANIZER

NOW = datetime(2026, 3, 1, 2, tzinfo=UTC)
SEASON = "310000-2026-qc_group"
PATIENT_SECONDS, IMPATIENT_SECONDS = 60.0, 1.0


@dataclass
class Registration:
    settings: ServiceSettings
    patient: httpx.AsyncClient  # waits up to a minute for a position
    impatient: httpx.AsyncClient  # waits one second
    api: FastAPI


def client_of(api: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://registration", timeout=90)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def registration(stack, tmp_path_factory) -> AsyncIterator[Registration]:
    """Two registration APIs on one store and read model, differing only in how long a read may wait;
    no worker yet: each test decides when the events are relayed and projected."""
    settings = isolated_settings(
        stack, "registration", tmp_path_factory.mktemp("ryw"), new_namespace(),
        read_your_writes_wait_seconds=PATIENT_SECONDS,
    )
    patient = build_api(definition("registration"), settings, clock=lambda: NOW)
    impatient = build_api(
        definition("registration"),
        settings.model_copy(update={"read_your_writes_wait_seconds": IMPATIENT_SECONDS}),
        clock=lambda: NOW,
    )
    async with client_of(patient) as patient_client, client_of(impatient) as impatient_client:
        yield Registration(settings, patient_client, impatient_client, patient)
    for api in (patient, impatient):
        await api.state.mongo.close()
        api.state.application.close()


async def run_worker(settings: ServiceSettings) -> tuple[asyncio.Event, asyncio.Task[None]]:
    stop = asyncio.Event()
    return stop, asyncio.create_task(build_worker(definition(settings.service), settings).run(stop))


async def test_a_command_answers_its_position_which_a_read_waits_for_until_the_worker_applies_it(
    registration: Registration,
) -> None:
    opened = await registration.patient.post("/seasons", json=demo_season(2026, NOW), headers=ORGANIZER)
    assert opened.status_code == 201, opened.text
    answer = opened.json()
    assert answer["position"] == f"{answer['aggregate_id']}@1"
    assert opened.headers["Event-Position"] == answer["position"]

    # the read is sent before any worker runs: it can only answer once the worker has relayed and projected
    read = asyncio.create_task(
        registration.patient.get(f"/seasons/{SEASON}", headers=ORGANIZER, params={"min_position": answer["position"]})
    )
    await asyncio.sleep(1.0)
    assert not read.done(), "the read answered before its write could have been applied"
    stop, worker = await run_worker(registration.settings)
    try:
        season = await asyncio.wait_for(read, timeout=PATIENT_SECONDS + 10)
        assert season.status_code == 200, season.text
        assert season.json()["season_id"] == SEASON

        registered = await registration.patient.post(
            f"/seasons/{SEASON}/registrations", json=demo_registration(0), headers=ORGANIZER
        )
        assert registered.status_code == 201, registered.text
        unit = await registration.patient.get(
            f"/seasons/{SEASON}/registrations/{demo_registration(0)['credit_code']}",
            headers=ORGANIZER, params={"min_position": registered.json()["position"]},
        )
        assert unit.status_code == 200, unit.text
    finally:
        stop.set()
        await worker


async def test_a_replayed_command_answers_the_position_of_its_first_event(registration: Registration) -> None:
    headers = ORGANIZER | {"Idempotency-Key": "register-unit-1"}
    first = await registration.patient.post(f"/seasons/{SEASON}/registrations", json=demo_registration(1), headers=headers)
    again = await registration.patient.post(f"/seasons/{SEASON}/registrations", json=demo_registration(1), headers=headers)
    assert first.status_code == 201, first.text
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["position"] == first.json()["position"]
    assert again.headers["Event-Position"] == first.json()["position"]


async def test_a_position_never_applied_answers_409_with_what_was_applied_after_the_wait(
    registration: Registration,
) -> None:
    season = await registration.patient.get(f"/seasons/{SEASON}", headers=ORGANIZER)
    assert season.status_code == 200, season.text
    opened = await registration.patient.post(
        "/seasons", json=demo_season(2026, NOW) | {"kind": "team"}, headers=ORGANIZER
    )
    aggregate_id = opened.json()["aggregate_id"]  # stored, never projected: no worker runs now
    answer = await registration.impatient.get(
        "/seasons/310000-2026-team", headers=ORGANIZER, params={"min_position": f"{aggregate_id}@7"}
    )
    assert answer.status_code == 409, answer.text
    body = answer.json()
    assert body["position"] == f"{aggregate_id}@7"
    assert body["applied_version"] == 0
    assert body["behind_versions"] == 7
    assert body["waited_seconds"] >= IMPATIENT_SECONDS
    assert f"{aggregate_id}@7" in body["detail"]


async def test_a_malformed_position_is_refused_naming_the_parameter(registration: Registration) -> None:
    for malformed in ("yesterday", "3fa85f64-5717-4562-b3fc-2c963f66afa6@0", "3fa85f64@2",
                      "3fa85f64-5717-4562-b3fc-2c963f66afa6@-1", "3fa85f64-5717-4562-b3fc-2c963f66afa6@", "@", "x" * 300):
        answer = await registration.patient.get(
            f"/seasons/{SEASON}/registrations", headers=ORGANIZER, params={"min_position": malformed}
        )
        assert answer.status_code == 422, (malformed, answer.text)
        assert answer.json()["errors"][0]["field"].endswith("min_position"), answer.text


async def test_every_read_route_takes_min_position_and_no_write_route_does(registration: Registration) -> None:
    schema = registration.api.openapi()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            names = {parameter["name"] for parameter in operation.get("parameters", [])}
            operational = path in {"/health", "/ready", "/metrics"}
            assert ("min_position" in names) == (method == "get" and not operational), (method, path)


async def test_stats_counts_a_position_applied_once_its_reports_include_it(stack, tmp_path) -> None:
    settings = isolated_settings(stack, "stats", tmp_path, new_namespace(), read_your_writes_wait_seconds=PATIENT_SECONDS)
    await ensure_topics(settings, [settings.topic(name) for name in CONSUMED_TOPICS])
    api = build_api(definition("stats"), settings)
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
    await producer.start()
    plan = SeasonPlan(season_no=21, recommenders=1, units_per_recommender=2, entries_per_unit=1, judges=3)
    events = list(season_events(plan))
    state = StatsState()
    for topic, item in events:
        value, key, headers = encode(Envelope.model_validate(item))
        await producer.send_and_wait(settings.topic(topic), value, key=key,
                                     headers=[(name, text.encode()) for name, text in headers.items()])
        state.apply(Header.of(item), item["payload"])
    await producer.stop()
    expected = json.loads(json.dumps(reports_for(state.seasons)))
    (overview_key,) = [key for key in expected if key.endswith(f"{plan.season_id}/overview")]
    last = events[-1][1]
    stop, worker = await run_worker(settings)  # the events wait on the topics; the read is sent as it starts
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://stats", timeout=90) as client:
            answer = await client.get(
                f"/seasons/{plan.season_id}/overview",
                headers=ORGANIZER, params={"min_position": f"{last['aggregate_id']}@{last['aggregate_version']}"},
            )
        assert answer.status_code == 200, answer.text
        assert answer.json() == expected[overview_key]
    finally:
        stop.set()
        await worker
        await api.state.mongo.close()
