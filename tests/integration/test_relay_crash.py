"""A relay killed after Kafka acknowledged but before it recorded its position loses nothing and
changes no projection twice: the restarted relay republishes the same event ids and the
projection recognises them."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections import Counter

import pytest
from pymongo import AsyncMongoClient

from infra.relay import CRASH_AFTER_PUBLISH_ENV
from services.registration.application import RegistrationApplication
from tests.harness import environment_for, eventually, group_caught_up, isolated_settings, new_namespace, read_topic
from tests.integration.test_outbox_relay import store_season_with_units


def start_worker(env: dict[str, str], log_path) -> subprocess.Popen[bytes]:  # noqa: ANN001
    return subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "qcp.cli", "serve", "worker", "--service", "registration"],
        env=os.environ | env,
        stdout=log_path.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


@pytest.mark.timeout(240)
async def test_sigkill_between_publish_and_record_loses_nothing_and_projects_once(stack, tmp_path) -> None:
    settings = isolated_settings(stack, "registration", tmp_path, new_namespace())
    app = RegistrationApplication(settings)
    store_season_with_units(app, 4)
    stored = {str(envelope.event_id) for envelope in app.envelopes_after(0, 100)[0]}
    env = environment_for(settings)

    crashing = start_worker(env | {CRASH_AFTER_PUBLISH_ENV: "1"}, tmp_path / "worker.log")
    assert crashing.wait(timeout=120) == -signal.SIGKILL
    position = relay_position(app, settings.own_topic)
    assert position() == 0, "the position must not have been recorded"
    after_crash = await read_topic(settings.kafka_bootstrap, settings.own_topic, expect=len(stored))
    assert {json.loads(record.value)["event_id"] for record in after_crash} == stored

    restarted = start_worker(env, tmp_path / "worker.log")
    try:
        await eventually(lambda: asyncio.to_thread(lambda: position() == len(stored)), timeout=90)
        records = await read_topic(settings.kafka_bootstrap, settings.own_topic, expect=2 * len(stored))
        copies = Counter(json.loads(record.value)["event_id"] for record in records)
        assert set(copies) == stored and set(copies.values()) == {2}, "each event was republished once"

        mongo = AsyncMongoClient(settings.mongo_url)
        database = mongo[settings.database_name]

        async def projected() -> list[dict]:
            documents = [doc async for doc in database["unit_registrations"].find({})]
            return documents if len(documents) == 4 else []

        try:
            await eventually(projected, timeout=90)
            await eventually(
                lambda: group_caught_up(settings.kafka_bootstrap, settings.consumer_group, settings.own_topic),
                timeout=90,
            )
            documents = await projected()
            assert all(doc["_applied_events"] == doc["_version"] == 1 for doc in documents)
            season = await database["seasons"].find_one({})
            assert season["_applied_events"] == 1
        finally:
            await mongo.close()
    finally:
        restarted.send_signal(signal.SIGTERM)
        restarted.wait(timeout=30)


def relay_position(app: RegistrationApplication, topic: str):  # noqa: ANN201
    return lambda: app.relay_tracking.max_tracking_id(f"relay:{topic}") or 0
