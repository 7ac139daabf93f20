"""A stats rebuild run by the worker shows its progress and outcome on the worker's /metrics (the dashboard's
"Stats rebuild" row)."""

from __future__ import annotations

import asyncio
import socket

import httpx
from prometheus_client.parser import text_string_to_metric_families
from pymongo import AsyncMongoClient

from infra.bootstrap import build_worker
from infra.kafka import ensure_topics
from qcp.services import definition
from services.stats.adapters.store import StatsStore
from services.stats.entrypoints.messaging import CONSUMED_TOPICS
from tests.harness import eventually, isolated_settings, new_namespace


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_a_rebuild_switched_by_the_worker_is_counted_and_no_longer_running(stack, tmp_path) -> None:
    settings = isolated_settings(stack, "stats", tmp_path, new_namespace())
    await ensure_topics(settings, [settings.topic(name) for name in CONSUMED_TOPICS])
    port = free_port()
    stop = asyncio.Event()
    worker = asyncio.create_task(build_worker(definition("stats"), settings).run(stop, port=port))
    mongo = AsyncMongoClient(settings.mongo_url, tz_aware=True)
    try:
        store = StatsStore(mongo[settings.database_name])
        requested = await store.request_rebuild("ops-1")
        await eventually(lambda: _finished(store, requested["_id"]), timeout=120)

        async def counted() -> dict[str, float] | None:
            async with httpx.AsyncClient() as client:
                text = (await client.get(f"http://127.0.0.1:{port}/metrics", timeout=5)).text
            values = {sample.name + "/" + sample.labels.get("status", ""): sample.value
                      for family in text_string_to_metric_families(text) for sample in family.samples
                      if sample.name.startswith("qcp_stats_rebuild")}
            return values if values.get("qcp_stats_rebuilds_total/switched") == 1 else None

        values = await eventually(counted, timeout=30)
        assert values["qcp_stats_rebuild_running/"] == 0
    finally:
        stop.set()
        await worker
        await mongo.close()


async def _finished(store: StatsStore, rebuild_id: str) -> bool:
    document = await store.rebuild(rebuild_id)
    return document is not None and document.get("phase") == "done"
