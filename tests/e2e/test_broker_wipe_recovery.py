"""Disaster recovery without the broker's data: the platform's topics and consumer groups are wiped,
the three write services republish from their event stores, and then every projection is unchanged
(the consumers recognise what they applied) and a stats rebuild equals the reports from before."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from pymongo import AsyncMongoClient

from infra.settings import ServiceSettings
from qcp.demo import example_seasons, load_demo, national_example_season
from qcp.launcher import Platform, default_ports, free_port_base
from qcp.services import SERVICES, definition
from tests.harness import environment_for, eventually, group_caught_up, isolated_settings, new_namespace

WRITE_SERVICES = ("registration", "submission", "review")
ORGANIZER_SHANGHAI = ("organizer", "310000")


@pytest.fixture
def recovering(stack, tmp_path: Path) -> Iterator[Platform]:
    namespace = new_namespace()
    settings = isolated_settings(stack, "registration", tmp_path, namespace)
    platform = Platform(environment_for(settings), tmp_path / "logs", default_ports(free_port_base(18500)))
    platform.start()
    try:
        platform.wait_until_ready(timeout=180)
        yield platform
    finally:
        platform.stop()


def consumer_groups(prefix: str) -> list[tuple[str, str]]:
    """Every (consumer group, topic) of the platform's workers, from the services' definitions."""
    pairs = []
    for service in SERVICES:
        settings = ServiceSettings(service=service, topic_prefix=prefix)
        service_definition = definition(service)
        pairs += [(settings.consumer_group, settings.topic(topic)) for topic in service_definition.consumes]
        for process in service_definition.processes:
            pairs += [(process.group(settings), settings.topic(topic)) for topic in process.consumes]
    return pairs


async def everything_consumed(bootstrap: str, prefix: str) -> bool:
    for group, topic in consumer_groups(prefix):
        if not await group_caught_up(bootstrap, group, topic):
            return False
    return True


async def projections(mongo_url: str, prefix: str) -> dict[str, list[dict[str, Any]]]:
    """Every document of the write services' read models, by database and collection."""
    client: AsyncMongoClient = AsyncMongoClient(mongo_url)
    try:
        documents = {}
        for service in WRITE_SERVICES:
            database = client[f"{prefix.replace('.', '_')}{service}"]
            for name in sorted(await database.list_collection_names()):
                if name != "operations":
                    documents[f"{service}.{name}"] = [doc async for doc in database[name].find({}).sort("_id", 1)]
        return documents
    finally:
        await client.close()


async def wipe_broker(bootstrap: str, prefix: str) -> int:
    """What losing the broker's data means for this platform: its topics are gone, and with them every
    offset its consumer groups had committed (the broker drops the offsets of deleted partitions)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        topics = [name for name in await admin.list_topics() if name.startswith(prefix)]
        await admin.delete_topics(topics)

        async def offsets_gone() -> bool:
            for group in {group for group, _ in consumer_groups(prefix)}:
                if await admin.list_consumer_group_offsets(group):
                    return False
            return not [name for name in await admin.list_topics() if name.startswith(prefix)]

        await eventually(offsets_gone, timeout=60)
        return len(topics)
    finally:
        await admin.close()


@pytest.mark.timeout(900)
async def test_after_the_broker_lost_its_data_republishing_restores_everything(recovering: Platform, stack, tokens) -> None:
    platform, prefix = recovering, recovering.environment["QCP_TOPIC_PREFIX"]
    urls = {service: platform.url(service) for service in WRITE_SERVICES}
    loaded = await asyncio.to_thread(load_demo, urls["registration"], tokens, feed_urls=urls)
    year = next(item["year"] for item in example_seasons())
    reports = [f"/seasons/{loaded['season_id']}/overview", f"/national/{year}/overview", f"/national/{year}/statistics"]
    reports += [f"/seasons/{item['organizer']}-{item['year']}-{item['kind']}/overview" for item in example_seasons()]
    national_season = f"/seasons/{national_example_season()['organizer']}-{year}-qc_group/provinces"
    reports.append(national_season)
    organizer = {"Authorization": f"Bearer {tokens.mint('staff-1', *ORGANIZER_SHANGHAI)}"}
    national = {"Authorization": f"Bearer {tokens.mint('caq-1', 'national', 'CAQ')}"}
    ops = {"Authorization": f"Bearer {tokens.mint('ops-1', 'ops', 'platform')}"}

    async with httpx.AsyncClient(base_url=platform.url("stats"), timeout=60) as stats:
        async def read_reports() -> dict[str, Any]:
            return {path: (await stats.get(path, headers=national)).json() for path in reports}

        await eventually(lambda: everything_consumed(stack.kafka_bootstrap, prefix), timeout=240, interval=2)
        await asyncio.sleep(2)  # stats writes its reports about once a second
        before = await read_reports()
        projected_before = await projections(stack.mongo_url, prefix)
        assert before[f"/national/{year}/overview"]["total"]["registrations"] > 0
        # the demo's national season received the three provinces' recommendations by their feeds
        sent = {row["province"]: row["sent"] for row in before[national_season]["provinces"]}
        assert sent == {"310000": 2, "370000": 2, "540000": 2}, before[national_season]

        for service in SERVICES:
            platform.stop_process(f"{service}-worker")
        assert await wipe_broker(stack.kafka_bootstrap, prefix) >= 3

        env = os.environ | platform.environment
        for service in WRITE_SERVICES:
            done = subprocess.run(  # noqa: S603 - our own CLI
                [sys.executable, "-m", "qcp.cli", "relay", "republish", "--service", service, "--from", "0"],
                env=env, capture_output=True, text=True, timeout=300, check=False,
            )
            assert done.returncode == 0, done.stdout + done.stderr
            assert f"{service}: " in done.stdout and " events republished to " in done.stdout

        for service in SERVICES:
            platform.start_process(service, "worker")
        await eventually(lambda: everything_consumed(stack.kafka_bootstrap, prefix), timeout=300, interval=2)
        await asyncio.sleep(2)

        assert await projections(stack.mongo_url, prefix) == projected_before, "every projection is unchanged"
        assert await read_reports() == before

        started = await stats.post("/rebuilds", headers=ops)
        assert started.status_code == 202, started.text

        async def rebuilt() -> dict[str, Any] | None:
            view = (await stats.get(f"/rebuilds/{started.json()['rebuild_id']}", headers=ops)).json()
            return view if view["status"] not in ("requested", "running") else None

        outcome = await eventually(rebuilt, timeout=300, interval=1)
        assert outcome["status"] == "switched" and outcome["differences"] == [], outcome
        assert await read_reports() == before

    async with httpx.AsyncClient(base_url=platform.url("registration"), timeout=30) as registration:
        refused = await registration.post("/operations/republish", json={"from_position": 0}, headers=organizer)
        assert refused.status_code == 403
        accepted = await registration.post("/operations/republish", json={"from_position": 0}, headers=ops)
        assert accepted.status_code == 202, accepted.text

        async def republished() -> dict[str, Any] | None:
            view = (await registration.get(f"/operations/republish/{accepted.json()['job_id']}", headers=ops)).json()
            return view if view["status"] != "running" else None

        job = await eventually(republished, timeout=120)
        assert job["status"] == "done" and job["report"]["events"] > 0, job
