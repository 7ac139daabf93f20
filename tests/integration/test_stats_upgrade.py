"""After an upgrade, the operator's rebuild: live records that lack events switch only when asked to.

The scene: stats' consumer group had consumed a season with an older version of the reducer, so the
new worker starts past every event and its live reports know nothing of the season. A rebuild finds
the differences and, by default, keeps the live reports; an auditor may not override that; the organizer
asks to switch anyway, and the reports rebuilt from the log become the live ones, the differences kept.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest_asyncio
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from benchmarks.stats_events import SeasonPlan, season_events
from infra.bootstrap import build_api, build_worker
from infra.kafka import ensure_topics
from qcp.services import definition
from services.stats.entrypoints.messaging import CONSUMED_TOPICS
from tests.harness import eventually, isolated_settings, new_namespace
from tests.integration.test_submission_http import bearer

SEASON = SeasonPlan(season_no=21, organizer="540000", recommenders=1, units_per_recommender=2, entries_per_unit=1,
                    judges=5)
ORGANIZER = bearer("organizer", "540000", "staff")
AUDITOR = bearer("auditor", "CAQ", "auditor")
OPS = bearer("ops", "platform", "ops-1")


@pytest_asyncio.fixture(loop_scope="session")
async def upgraded(stack, tmp_path) -> AsyncIterator[httpx.AsyncClient]:
    settings = isolated_settings(stack, "stats", tmp_path, new_namespace())
    topics = [settings.topic(name) for name in CONSUMED_TOPICS]
    await ensure_topics(settings, topics)
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, linger_ms=5)
    await producer.start()
    try:
        for topic, envelope in season_events(SEASON):
            await producer.send(settings.topic(topic), json.dumps(envelope).encode(),
                                key=envelope["aggregate_id"].encode(), headers=[("type", envelope["type"].encode())])
        await producer.flush()
    finally:
        await producer.stop()
    # the consumer group as an older stats version left it: everything consumed
    group = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=settings.consumer_group,
                             enable_auto_commit=False)
    await group.start()
    try:
        partitions = [TopicPartition(topic, partition) for topic in topics
                      for partition in range(settings.topic_partitions)]
        group.assign(partitions)
        await group.commit(await group.end_offsets(partitions))
    finally:
        await group.stop()
    api = build_api(definition("stats"), settings)
    stop = asyncio.Event()
    worker = asyncio.create_task(build_worker(definition("stats"), settings).run(stop))
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://stats", timeout=30)
    try:
        yield client
    finally:
        await client.aclose()
        stop.set()
        await worker
        await api.state.mongo.close()


async def rebuilt(client: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    started = await client.post("/rebuilds", headers=headers, params=params)
    assert started.status_code == 202, started.text
    rebuild_id = started.json()["rebuild_id"]

    async def done() -> Any:
        view = (await client.get(f"/rebuilds/{rebuild_id}", headers=OPS)).json()
        return view if view["status"] not in ("requested", "running") else None

    return await eventually(done, timeout=120, interval=0.2)


async def test_ops_switches_to_the_reports_rebuilt_from_the_log_despite_differences(upgraded) -> None:
    overview = f"/seasons/{SEASON.season_id}/overview"
    assert (await upgraded.get(overview, headers=ORGANIZER)).status_code == 404, "the live state starts past the season"

    kept = await rebuilt(upgraded, OPS)
    assert kept["status"] == "differs" and kept["switched"] is False and kept["differences"]
    assert (await upgraded.get(overview, headers=ORGANIZER)).status_code == 404, "the live reports were kept"

    refused = await upgraded.post("/rebuilds", headers=AUDITOR, params={"switch": "always"})
    assert refused.status_code == 403
    refused = await upgraded.post("/rebuilds", headers=ORGANIZER, params={"switch": "always"})
    assert refused.status_code == 403, "a platform-wide operation, not a province's"

    switched = await rebuilt(upgraded, OPS, switch="always")
    assert switched["status"] == "switched_with_differences" and switched["switched"] is True
    assert switched["differences"], "what the live reports lacked is kept in the rebuild's document"
    answer = await eventually(lambda: _found(upgraded, overview), timeout=30)
    assert answer["registrations"] == SEASON.recommenders * SEASON.units_per_recommender

    again = await rebuilt(upgraded, OPS)
    assert again["status"] == "switched" and again["differences"] == [], "from now on live equals the log"


async def _found(client: httpx.AsyncClient, path: str) -> Any:
    answer = await client.get(path, headers=ORGANIZER)
    return answer.json() if answer.status_code == 200 else None
