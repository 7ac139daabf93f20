"""The shared digest and operations routes apply their declared policies, in an app built with a policy and in
one built without (a service not yet converted): a province's staff read their own organizer's aggregates (a
season's page narrowed, never refused because another province's record was filed under it), another
province's aggregate answers 404 like an unknown one, and republishing is the ops role's alone."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from itertools import islice
from typing import Any

import httpx
import pytest
import pytest_asyncio

from benchmarks.stats_events import SeasonPlan, season_events
from contracts import Envelope
from infra.http.audit import DIGEST_POLICY, build_digest_router
from infra.http import create_app
from infra.metrics import ServiceMetrics
from infra.http.operations import OPERATIONS_POLICY, build_operations_router
from infra.readiness import Readiness
from tests.harness import TOKENS, bearer

SHANGHAI = "310000-2026-qc_group"
SH_STAFF = bearer("organizer", "310000", "staff-sh")
SD_STAFF = bearer("organizer", "370000", "staff-sd")
NATIONAL = bearer("national", "CAQ", "national-1")


def envelopes() -> list[Envelope]:
    """Shanghai's season opened and a recommending unit registered, and a Shandong record filed under it."""
    shanghai = [Envelope.model_validate(item) for _, item in islice(season_events(SeasonPlan(season_no=31)), 2)]
    foreign = Envelope.model_validate(shanghai[1].model_dump(mode="json") | {
        "aggregate_id": str(uuid.UUID(int=370000)), "event_id": str(uuid.UUID(int=370001)), "organizer": "370000"})
    return [*shanghai, foreign]


class Source:
    service = "unit-test"

    def __init__(self, recorded: list[Envelope]) -> None:
        self.recorded = recorded

    async def aggregate(self, aggregate_id: uuid.UUID) -> list[Envelope]:
        return [item for item in self.recorded if item.aggregate_id == aggregate_id]

    async def season(self, season_id: str, skip: int, limit: int,
                     organizer: str | None = None) -> tuple[int, list[list[Envelope]]]:
        members = sorted({str(item.aggregate_id) for item in self.recorded if item.season_id == season_id
                          and item.organizer in (None, organizer or item.organizer)})
        page = [[item for item in self.recorded if str(item.aggregate_id) == member] for member in members]
        return len(members), page[skip : skip + limit]


@pytest_asyncio.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    source = Source(envelopes())
    app = create_app(service="unit-test", routers=[build_digest_router(lambda _: source), build_operations_router()],
                     tokens=TOKENS, metrics=ServiceMetrics("unit-test"), readiness=Readiness({}),
                     policy={**DIGEST_POLICY, **OPERATIONS_POLICY})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://unit-test") as client:
        yield client


async def test_a_provinces_season_page_is_narrowed_to_its_own_aggregates(client: httpx.AsyncClient) -> None:
    recorded = envelopes()
    own = {str(item.aggregate_id) for item in recorded[:2]}
    everyone = (await client.get("/audit/digests", headers=NATIONAL, params={"season_id": SHANGHAI})).json()
    assert {item["aggregate_id"] for item in everyone["aggregates"]} == own | {str(recorded[2].aggregate_id)}
    page = await client.get("/audit/digests", headers=SH_STAFF, params={"season_id": SHANGHAI})
    assert page.status_code == 200, page.text
    assert {item["aggregate_id"] for item in page.json()["aggregates"]} == own and page.json()["total"] == 2
    assert (await client.get("/audit/digests", headers=SD_STAFF, params={"season_id": SHANGHAI})).status_code == 404


async def test_another_provinces_aggregate_answers_as_an_unknown_one(client: httpx.AsyncClient) -> None:
    recorded = envelopes()
    foreign, unknown = recorded[2].aggregate_id, uuid.UUID(int=1)
    answers = [await client.get(f"/audit/aggregates/{aggregate}/digests", headers=SH_STAFF)
               for aggregate in (foreign, unknown)]
    assert [answer.status_code for answer in answers] == [404, 404]
    assert answers[0].json()["detail"] == f"aggregate {foreign} is not known to the unit-test service"
    assert (await client.get(f"/audit/aggregates/{foreign}/digests", headers=SD_STAFF)).status_code == 200
    own = await client.get(f"/audit/aggregates/{recorded[0].aggregate_id}/digests", headers=SH_STAFF)
    assert own.status_code == 200 and own.json()["service"] == "unit-test"
    unit = bearer("unit", "91310000MA000000XY")
    assert (await client.get(f"/audit/aggregates/{foreign}/digests", headers=unit)).status_code == 403
    assert (await client.get(f"/audit/aggregates/{foreign}/digests")).status_code == 401


@pytest.mark.parametrize("role", ["organizer", "auditor", "national", "feed"])
async def test_republishing_is_the_ops_roles_alone(client: httpx.AsyncClient, role: str) -> None:
    headers = bearer(role, "310000" if role in ("organizer", "feed") else "CAQ")
    assert (await client.post("/operations/republish", json={"from_position": 0}, headers=headers)).status_code == 403
    assert (await client.get("/operations/republish/job-1", headers=headers)).status_code == 403
    assert (await client.post("/operations/republish", json={"from_position": 0})).status_code == 401


def test_the_policies_name_every_shared_route() -> None:
    app: Any = create_app(service="unit-test", routers=[build_digest_router(lambda _: Source([])),
                                                        build_operations_router()],
                          tokens=TOKENS, metrics=ServiceMetrics("unit-test"), readiness=Readiness({}),
                          policy={**DIGEST_POLICY, **OPERATIONS_POLICY})
    assert app.state.policy.keys() >= DIGEST_POLICY.keys() | OPERATIONS_POLICY.keys()
