"""A worker's consumer lag on the real stack: measured while nothing flows, shown on /ready (degraded above
its threshold, still ready) and in the metrics; a consumer that stopped consuming while the process lives
fails liveness after its stall time, while a worker that consumes stays healthy."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from infra.bootstrap import build_worker
from infra.projection import HANG_ON_FIRST_MESSAGE_ENV
from infra.settings import ServiceSettings
from infra.worker import Worker
from services.registration.application import RegistrationApplication
from services.registration.bootstrap import definition
from tests.harness import eventually, isolated_settings, new_namespace
from tests.integration.test_outbox_relay import store_season_with_units

UNITS = 4  # with the season: 5 events on the registration topic
STALL_SECONDS = 4.0


@dataclass
class RunningWorker:
    worker: Worker
    client: httpx.AsyncClient

    async def ready(self) -> httpx.Response:
        return await self.client.get("/ready")

    def lag_metric(self) -> float:
        registry = self.worker.metrics.registry
        return sum(
            sample.value
            for family in registry.collect() if family.name == "qcp_consumer_lag_messages"
            for sample in family.samples
        )


def settings_for(stack: Any, tmp_path: Any, **overrides: Any) -> ServiceSettings:
    return isolated_settings(
        stack, "registration", tmp_path, new_namespace(),
        consumer_lag_interval_seconds=0.5, consumer_liveness_stall_seconds=STALL_SECONDS, **overrides,
    )


@contextlib.asynccontextmanager
async def running(settings: ServiceSettings) -> AsyncIterator[RunningWorker]:
    """A registration worker over a store with a season and some units, relaying and consuming them."""
    application = RegistrationApplication(settings)
    store_season_with_units(application, UNITS)
    application.close()
    worker = build_worker(definition(), settings)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=worker.health_app), base_url="http://w") as client:
            yield RunningWorker(worker, client)
    finally:
        stop.set()
        # a hung handler is abandoned with the process in real life; here the test stops waiting for it
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(task), timeout=15)
        if not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task


async def reported_lag(worker: RunningWorker, expected: int) -> dict[str, Any] | None:
    answer = await worker.ready()
    body = answer.json()
    group = body.get("consumer_lag", {}).get("groups", {}).get(worker.worker.settings.consumer_group, {})
    return body if answer.status_code == 200 and group.get("messages_behind") == expected else None


async def test_a_consumer_that_hangs_shows_its_lag_degrades_readiness_and_fails_liveness(
    stack, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(HANG_ON_FIRST_MESSAGE_ENV, "1")
    settings = settings_for(stack, tmp_path, consumer_lag_degraded_messages=3)
    async with running(settings) as worker:
        monkeypatch.delenv(HANG_ON_FIRST_MESSAGE_ENV)
        assert (await worker.client.get("/health")).status_code == 200

        body = await eventually(lambda: reported_lag(worker, UNITS + 1), timeout=120)
        assert body["ready"] is True
        assert body["degraded"] is True
        assert body["degraded_reasons"]["consumer_lag"] == (
            f"{settings.consumer_group} is {UNITS + 1} messages behind (threshold 3)"
        )
        assert body["consumer_lag"]["groups"][settings.consumer_group]["topics"] == {settings.own_topic: UNITS + 1}
        assert worker.lag_metric() == UNITS + 1

        async def wedged() -> dict[str, Any] | None:
            answer = await worker.client.get("/health")
            return answer.json() if answer.status_code == 503 else None

        health = await eventually(wedged, timeout=120)
        assert health["status"] == "wedged"
        assert f"consumer group {settings.consumer_group} has handled and committed nothing" in (
            health["problems"]["consumers"]
        )
        assert f"while {UNITS + 1} messages wait" in health["problems"]["consumers"]


async def test_a_worker_that_consumes_shows_no_lag_and_stays_healthy(stack, tmp_path) -> None:
    settings = settings_for(stack, tmp_path, consumer_lag_degraded_messages=3)
    async with running(settings) as worker:
        body = await eventually(lambda: reported_lag(worker, 0), timeout=120)
        assert body["degraded"] is False
        assert "degraded_reasons" not in body
        await asyncio.sleep(STALL_SECONDS * 2)  # past the stall time of the hung worker above
        health = await worker.client.get("/health")
        assert health.status_code == 200, health.text
        assert worker.lag_metric() == 0
