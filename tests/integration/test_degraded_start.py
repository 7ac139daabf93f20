"""A service whose Kafka or MongoDB is away reports not ready, answers 503 rather than 500, keeps
storing commands, and recovers by itself when the backend comes back."""

from __future__ import annotations

import socket
from datetime import UTC, datetime

import httpx
import pytest

from infra.bootstrap import build_api
from qcp.demo import demo_season
from qcp.launcher import Platform, ServicePorts
from qcp.services import definition
from qcp.stack import down, up
from tests.harness import bearer, environment_for, eventually, isolated_settings, new_namespace


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_an_api_without_mongodb_is_not_ready_answers_503_and_still_stores_commands(stack, tmp_path) -> None:
    settings = isolated_settings(stack, "registration", tmp_path, new_namespace()).model_copy(
        update={"mongo_url": f"mongodb://127.0.0.1:{unused_port()}/"}
    )
    app = build_api(definition("registration"), settings)
    organizer = bearer("organizer", "310000", "s")
    now = datetime.now(UTC)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as client:
        ready = await client.get("/ready")
        assert ready.status_code == 503
        assert ready.json()["checks"]["mongodb"].startswith("unreachable")
        assert ready.json()["checks"]["kafka"] == "ok"
        read = await client.get(f"/seasons/310000-{now.year}-qc_group", headers=organizer)
        assert read.status_code == 503 and "try again" in read.json()["detail"]
        opened = await client.post("/seasons", json=demo_season(now.year, now), headers=organizer)
        assert opened.status_code == 201


@pytest.mark.timeout(240)
async def test_a_worker_started_while_kafka_is_down_waits_and_then_consumes(stack, tmp_path) -> None:
    settings = isolated_settings(stack, "stats", tmp_path, new_namespace())
    port = unused_port()
    platform = Platform(environment_for(settings), tmp_path / "logs")
    platform.ports["stats"] = ServicePorts(api=unused_port(), worker=port)
    down(stack, ["kafka"])
    try:
        platform.start_process("stats", "worker")
        async with httpx.AsyncClient(timeout=10) as client:

            async def waiting() -> dict | None:
                try:
                    answer = await client.get(f"http://127.0.0.1:{port}/ready")
                except httpx.HTTPError:
                    return None
                # a busy machine answers "not started yet" first, before the worker tried Kafka at all
                return answer.json() if answer.status_code == 503 and "waiting for Kafka" in str(answer.json()) else None

            report = await eventually(waiting, timeout=60)
            assert "waiting for Kafka" in report["checks"]["consumers"]
            assert platform.processes["stats-worker"].poll() is None, "it must not exit"
            up(stack, ["kafka"])

            async def ready() -> bool:
                return (await client.get(f"http://127.0.0.1:{port}/ready")).status_code == 200

            await eventually(ready, timeout=120, interval=1)
    finally:
        up(stack, ["kafka"])
        platform.stop()
