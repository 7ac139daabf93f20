"""A stats service on the real stack for a module's tests: its API, its worker, and a producer publishing envelopes
on its isolated topics, with the reports those envelopes should give."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

from contracts import Envelope
from infra.bootstrap import build_api, build_worker
from infra.kafka import encode, ensure_topics
from infra.settings import ServiceSettings
from qcp.services import definition
from services.stats.domain.records import Header, StatsState
from services.stats.domain.reports import reports_for
from services.stats.entrypoints.messaging import CONSUMED_TOPICS
from tests.harness import bearer, eventually, isolated_settings, new_namespace

ORGANIZER = bearer("organizer", "310000", "staff-1")


@dataclass
class RunningStats:
    settings: ServiceSettings
    api: httpx.AsyncClient
    producer: AIOKafkaProducer
    envelopes: list[dict[str, Any]]

    async def publish(self, topic: str, envelope: dict[str, Any]) -> None:
        value, key, headers = encode(Envelope.model_validate(envelope))
        await self.producer.send_and_wait(self.settings.topic(topic), value, key=key,
                                          headers=[(name, item.encode()) for name, item in headers.items()])
        self.envelopes.append(envelope)

    async def get(self, path: str, headers: dict[str, str] = ORGANIZER, **params: Any) -> httpx.Response:
        return await self.api.get(path, headers=headers, params=params)

    async def report(self, path: str, check: Any = lambda _: True, headers: dict[str, str] = ORGANIZER
                     ) -> dict[str, Any]:
        async def probe() -> Any:
            answer = await self.get(path, headers)
            return answer.json() if answer.status_code == 200 and check(answer.json()) else None

        return await eventually(probe, timeout=60)

    def expected(self) -> dict[str, Any]:
        state = StatsState()
        for item in self.envelopes:
            state.apply(Header.of(item), item["payload"])
        return json.loads(json.dumps(reports_for(state.seasons)))


@asynccontextmanager
async def running_stats(stack: Any, directory: Path) -> AsyncIterator[RunningStats]:
    """Stats' API and worker on their own topics and databases, until the block ends."""
    settings = isolated_settings(stack, "stats", directory, new_namespace())
    await ensure_topics(settings, [settings.topic(name) for name in CONSUMED_TOPICS])
    api = build_api(definition("stats"), settings)
    stop = asyncio.Event()
    worker = asyncio.create_task(build_worker(definition("stats"), settings).run(stop))
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, linger_ms=5)
    await producer.start()
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://stats", timeout=30)
    try:
        yield RunningStats(settings, client, producer, [])
    finally:
        await client.aclose()
        await producer.stop()
        stop.set()
        await worker
        await api.state.mongo.close()
