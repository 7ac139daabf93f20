"""A request's bearer token is verified once: the rate limit (which runs before the route) and the route's
authorization share the one verification, for a write as for a read, and an invalid token is still refused."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest_asyncio
from fastapi import APIRouter

from contracts.codes import Role
from infra.auth import TokenService
from infra.authorization import Caller, Scope
from infra.http import create_app
from infra.metrics import ServiceMetrics
from infra.readiness import Readiness
from infra.settings import DEVELOPMENT_JWT_SECRET
from tests.harness import bearer


class CountingTokens(TokenService):
    """The suite's tokens, counting how often one is verified."""

    verified = 0

    def verify(self, token: str) -> Caller:
        self.verified += 1
        return super().verify(token)


async def noted() -> dict[str, str]:
    return {"noted": "yes"}


@pytest_asyncio.fixture
async def app_and_tokens() -> AsyncIterator[tuple[httpx.AsyncClient, CountingTokens]]:
    tokens = CountingTokens(DEVELOPMENT_JWT_SECRET, "qc-platform")
    router = APIRouter()
    router.post("/notes")(noted)
    router.get("/notes")(noted)
    rules = {Role.ORGANIZER: Scope.PLATFORM}
    app = create_app(service="unit-test", routers=[router], tokens=tokens, metrics=ServiceMetrics("unit-test"),
                     readiness=Readiness({}), policy={("POST", "/notes"): rules, ("GET", "/notes"): rules})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://unit-test") as client:
        yield client, tokens


async def test_a_write_verifies_its_token_once_for_the_rate_limit_and_the_authorization(
        app_and_tokens: tuple[httpx.AsyncClient, CountingTokens]) -> None:
    client, tokens = app_and_tokens
    answer = await client.post("/notes", headers=bearer("organizer", "310000"))
    assert (answer.status_code, tokens.verified) == (200, 1)


async def test_a_read_verifies_its_token_once(app_and_tokens: tuple[httpx.AsyncClient, CountingTokens]) -> None:
    client, tokens = app_and_tokens
    answer = await client.get("/notes", headers=bearer("organizer", "310000"))
    assert (answer.status_code, tokens.verified) == (200, 1)


async def test_an_invalid_token_is_verified_once_and_refused(
        app_and_tokens: tuple[httpx.AsyncClient, CountingTokens]) -> None:
    client, tokens = app_and_tokens
    answer = await client.post("/notes", headers={"Authorization": "Bearer not-a-token"})
    assert (answer.status_code, tokens.verified) == (401, 1)
