"""A service outside the embedded development mode refuses to start with the published development secret, with
no secret, or with a short key, naming the setting; one started with a key of its own (and the key it rolls over
from) accepts tokens of both and refuses the development secret's, on the real stack."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from infra.auth import SigningKeyRefused, TokenService
from infra.bootstrap import build_api, build_worker
from infra.settings import DEVELOPMENT_JWT_SECRET, ServiceSettings
from qcp.services import definition
from tests.harness import TOKENS, environment_for, isolated_settings, new_namespace

KEY = "registration-key-of-this-deployment-2026"
OLD_KEY = "registration-key-of-this-deployment-2025"
MISSING_SEASON = "/seasons/310000-1999-qc_group"


def deployed(stack: Any, root: Path, **keys: Any) -> ServiceSettings:
    """Registration's settings as a deployment gives them: not in development mode, with these keys only."""
    unset: dict[str, Any] = {"jwt_secret": None, "jwt_previous_secrets": None}
    return isolated_settings(stack, "registration", root, new_namespace(), development_mode=False, **(unset | keys))


@pytest.mark.parametrize(("keys", "message"), [
    ({}, "QCP_JWT_SECRET is not set"),
    ({"jwt_secret": DEVELOPMENT_JWT_SECRET}, "QCP_JWT_SECRET holds the published development secret"),
    ({"jwt_secret": KEY, "jwt_previous_secrets": DEVELOPMENT_JWT_SECRET},
     "QCP_JWT_PREVIOUS_SECRETS holds the published development secret"),
    ({"jwt_secret": "too-short-a-key"}, "QCP_JWT_SECRET is 15 bytes long; a signing key must have at least 32"),
    ({"jwt_secret": KEY, "jwt_previous_secrets": "short"}, "key 1 of QCP_JWT_PREVIOUS_SECRETS is 5 bytes long"),
])
def test_a_service_outside_development_mode_refuses_to_start_with_an_unsafe_key(
    stack: Any, tmp_path: Path, keys: dict[str, str], message: str
) -> None:
    with pytest.raises(SigningKeyRefused, match=message):
        build_api(definition("registration"), deployed(stack, tmp_path, **keys))


def test_a_worker_outside_development_mode_refuses_to_start_with_the_development_secret(
    stack: Any, tmp_path: Path
) -> None:
    settings = deployed(stack, tmp_path, jwt_secret=DEVELOPMENT_JWT_SECRET)
    with pytest.raises(SigningKeyRefused, match="QCP_JWT_SECRET holds the published development secret"):
        build_worker(definition("registration"), settings)


def test_the_api_process_exits_naming_the_setting(stack: Any, tmp_path: Path) -> None:
    environment = environment_for(deployed(stack, tmp_path))
    environment = {name: value for name, value in (os.environ | environment).items() if name != "QCP_JWT_SECRET"}
    finished = subprocess.run(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "qcp.cli", "serve", "api", "--service", "registration", "--port", "1"],
        env=environment, capture_output=True, text=True, timeout=120, check=False,
    )
    assert (finished.returncode, finished.stderr.strip().splitlines()[-1]) == (
        1, "registration refuses to start: QCP_JWT_SECRET is not set: a service needs a signing key of its own "
           "(at least 32 bytes, from a secret store); only the embedded development platform "
           "(QCP_DEVELOPMENT_MODE=true) runs with the published development secret")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def rolling_over(stack: Any, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[httpx.AsyncClient]:
    """Registration deployed with a key of its own and the one it is rolling over from."""
    settings = deployed(stack, tmp_path_factory.mktemp("registration"), jwt_secret=KEY, jwt_previous_secrets=OLD_KEY)
    api = build_api(definition("registration"), settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://registration") as client:
        yield client
    await api.state.mongo.close()
    api.state.application.close()


def signed_with(key: str, **options: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {TokenService(key, 'qc-platform', **options).mint('staff-1', 'organizer', '310000')}"}


@pytest.mark.parametrize("key", [KEY, OLD_KEY])
async def test_a_token_of_the_current_or_the_previous_key_is_accepted(
    rolling_over: httpx.AsyncClient, key: str
) -> None:
    answer = await rolling_over.get(MISSING_SEASON, headers=signed_with(key))
    assert answer.status_code == 404, answer.text


async def test_a_token_signed_with_the_development_secret_is_refused(rolling_over: httpx.AsyncClient) -> None:
    answer = await rolling_over.get(MISSING_SEASON, headers={"Authorization": f"Bearer {TOKENS.mint('x', 'national', 'CAQ')}"})
    assert (answer.status_code, answer.json()["detail"]) == (
        401, "the bearer token is not valid: Signature verification failed")


async def test_a_token_for_another_audience_is_refused(rolling_over: httpx.AsyncClient) -> None:
    answer = await rolling_over.get(MISSING_SEASON, headers=signed_with(KEY, audience="another-platform"))
    assert (answer.status_code, answer.json()["detail"]) == (401, "the bearer token is not valid: Audience doesn't match")
