"""With Kafka stopped, commands are still stored; the relay publishes them once Kafka is back."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from qcp.demo import demo_registration, demo_season
from qcp.stack import down, up
from tests.harness import eventually

ORGANIZER = "330000"


@pytest.mark.timeout(300)
async def test_commands_during_a_kafka_outage_are_stored_and_published_later(platform, stack, tokens) -> None:
    now = datetime.now(UTC)
    # a province of this test's own on the shared platform, so that its season is new here
    season_id = f"{ORGANIZER}-{now.year}-qc_group"
    season = demo_season(now.year, now) | {"organizer": ORGANIZER, "organizer_name": "浙江省质量协会"}
    organizer = {"Authorization": f"Bearer {tokens.mint('staff-1', 'organizer', ORGANIZER)}"}
    registration, stats = platform.url("registration"), platform.url("stats")
    async with httpx.AsyncClient(timeout=30) as client:
        opened = await client.post(f"{registration}/seasons", json=season, headers=organizer)
        assert opened.status_code == 201, opened.text

        async def registrations_counted() -> int:
            response = await client.get(f"{stats}/seasons/{season_id}/overview", headers=organizer)
            return response.json()["registrations"] if response.status_code == 200 else 0

        before = await registrations_counted()
        down(stack, ["kafka"])
        try:
            async def kafka_reported_down() -> dict | None:
                answer = await client.get(f"{registration}/ready")
                return answer.json() if answer.status_code == 503 else None

            readiness = await eventually(kafka_reported_down, timeout=30)
            assert readiness["checks"]["kafka"].startswith("unreachable")
            stored = []
            for index in (0, 1):
                response = await client.post(
                    f"{registration}/seasons/{season_id}/registrations", json=demo_registration(index), headers=organizer
                )
                assert response.status_code == 201, response.text
                stored.append(response.json())
        finally:
            up(stack, ["kafka"])

        async def all_counted() -> int | None:
            counted = await registrations_counted()
            return counted if counted == before + 2 else None

        await eventually(all_counted, timeout=180, interval=1)
        for item in stored:
            # stats counting them says they reached Kafka; registration's own projection is another consumer
            async def projected(credit_code: str = item["credit_code"]) -> dict | None:
                response = await client.get(
                    f"{registration}/seasons/{season_id}/registrations/{credit_code}", headers=organizer
                )
                return response.json() if response.status_code == 200 else None

            assert (await eventually(projected, timeout=60))["version"] == item["version"]

        async def ready_again() -> dict | None:
            answer = await client.get(f"{registration}/ready")
            return answer.json() if answer.status_code == 200 else None

        readiness = await eventually(ready_again, timeout=60)
        assert readiness["checks"]["kafka"] == "ok"
