"""The broker stopped and started twice under load: every stored event reaches Kafka without anyone
touching the worker (after such restarts aiokafka's idempotent producer could stop sending for good)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import httpx
import pytest

from qcp.demo import DEMO_UNITS, demo_registration, demo_season
from qcp.stack import down, up
from qcp.chaos.reconcile import read_topic as read_whole_topic
from tests.harness import eventually

ORGANIZER = "320000"  # a province of this test's own on the shared platform


@pytest.mark.timeout(480)
async def test_every_event_stored_under_load_reaches_kafka_across_two_broker_restarts(platform, stack, tokens) -> None:
    now = datetime.now(UTC)
    season_id = f"{ORGANIZER}-{now.year}-qc_group"
    season = demo_season(now.year, now) | {"organizer": ORGANIZER, "organizer_name": "江苏省质量协会"}
    organizer = {"Authorization": f"Bearer {tokens.mint('staff-js', 'organizer', ORGANIZER)}"}
    registration = platform.url("registration")
    worker = platform.processes["registration-worker"]
    accepted: set[tuple[str, int]] = set()
    refused: list[str] = []
    stop = asyncio.Event()

    async with httpx.AsyncClient(timeout=30) as client:
        opened = await client.post(f"{registration}/seasons", json=season, headers=organizer)
        assert opened.status_code == 201, opened.text

        async def keep_registering(index: int) -> None:
            form = demo_registration(index)
            sent_before = False
            while not stop.is_set():
                answer = await client.post(f"{registration}/seasons/{season_id}/registrations", json=form, headers=organizer)
                # the first registration is created (201), every later one amends it (200)
                if answer.status_code == (201 if not sent_before else 200):
                    accepted.add((form["credit_code"], answer.json()["version"]))
                    sent_before = True
                else:
                    refused.append(f"{answer.status_code} {answer.text[:200]}")
                await asyncio.sleep(0.05)

        load = [asyncio.create_task(keep_registering(index)) for index in range(len(DEMO_UNITS))]
        try:
            for _ in range(2):
                await asyncio.sleep(5)
                await asyncio.to_thread(down, stack, ["kafka"])
                await asyncio.sleep(6)
                await asyncio.to_thread(up, stack, ["kafka"])
            await asyncio.sleep(5)
        finally:
            stop.set()
            await asyncio.gather(*load)

    assert refused == [], "the registration API needs no broker to accept commands"
    assert len(accepted) > 50
    assert worker.poll() is None, "the worker kept running"

    async def all_on_kafka() -> set[tuple[str, int]] | None:
        records = await read_whole_topic(
            stack.kafka_bootstrap, f"{platform.environment['QCP_TOPIC_PREFIX']}registration.events", timeout=60
        )
        published = {
            (envelope["payload"]["credit_code"], envelope["aggregate_version"])
            for envelope in (json.loads(record.value) for record in records)
            if envelope["season_id"] == season_id and "credit_code" in envelope["payload"]
        }
        return published if accepted <= published else None

    await eventually(all_on_kafka, timeout=240, interval=2)

    async def relay_lag_zero() -> bool:
        async with httpx.AsyncClient(timeout=10) as client:
            metrics = (await client.get(f"{platform.worker_url('registration')}/metrics")).text
        return 'qcp_relay_lag_events{service="registration"} 0.0' in metrics

    await eventually(relay_lag_zero, timeout=30)
    assert worker.poll() is None, "nobody restarted the worker"
