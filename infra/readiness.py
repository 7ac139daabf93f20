"""Readiness checks: is Kafka, the event store, MongoDB reachable, and if not, why."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaClient
from pymongo import AsyncMongoClient

from infra.eventstore import EventStoreApplication
from infra.kafka_security import PLAINTEXT, KafkaSecurity

Check = Callable[[], Awaitable[None]]


def kafka_check(bootstrap: str, *, security: KafkaSecurity = PLAINTEXT) -> Check:
    async def check() -> None:
        client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=3_000, **security.client_kwargs())
        try:
            await asyncio.wait_for(client.bootstrap(), timeout=4)
        finally:
            await client.close()

    return check


def mongo_check(client: AsyncMongoClient) -> Check:
    async def check() -> None:
        await client.admin.command("ping")

    return check


def event_store_check(application: EventStoreApplication) -> Check:
    async def check() -> None:
        await asyncio.wait_for(asyncio.to_thread(application.recorder.max_notification_id), timeout=4)

    return check


@dataclass
class Readiness:
    """Runs named checks, remembering the answer briefly so probes do not hammer the backends."""

    checks: dict[str, Check]
    cache_seconds: float = 2.0
    extra: dict[str, Callable[[], str | None]] = field(default_factory=dict)
    # shown on /ready without deciding it (e.g. the consumer lag)
    details: dict[str, Callable[[], Any]] = field(default_factory=dict)
    # reasons to answer "ready, but degraded" (still 200), e.g. a consumer lag above its threshold
    degradations: dict[str, Callable[[], str | None]] = field(default_factory=dict)
    _cached: tuple[float, dict[str, str]] | None = None

    async def report(self) -> tuple[bool, dict[str, str]]:
        now = time.monotonic()
        if self._cached and now - self._cached[0] < self.cache_seconds:
            results = self._cached[1]
        else:
            names = list(self.checks)
            outcomes = await asyncio.gather(
                *(self._run(self.checks[name]) for name in names), return_exceptions=False
            )
            results = dict(zip(names, outcomes, strict=True))
            for name, probe in self.extra.items():
                problem = probe()
                results[name] = "ok" if problem is None else problem
            self._cached = (now, results)
        return all(value == "ok" for value in results.values()), results

    def degraded(self) -> dict[str, str]:
        return {name: reason for name, probe in self.degradations.items() if (reason := probe()) is not None}

    def shown(self) -> dict[str, Any]:
        return {name: describe() for name, describe in self.details.items()}

    @staticmethod
    async def _run(check: Check) -> str:
        try:
            await asyncio.wait_for(check(), timeout=5)
        except Exception as error:  # noqa: BLE001 - the reason is the answer
            return f"unreachable: {type(error).__name__}: {error}".strip()
        return "ok"
