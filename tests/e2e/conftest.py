"""End-to-end tests: the four services as separate processes on the real local stack, driven over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.auth import TokenService
from qcp.launcher import Platform, default_ports, free_port_base
from qcp.stack import StackConfig
from tests.harness import TOKENS, environment_for, isolated_settings, new_namespace


@pytest.fixture(scope="session")
def platform(stack: StackConfig, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    root: Path = tmp_path_factory.mktemp("platform")
    settings = isolated_settings(stack, "registration", root, new_namespace())
    # these tests drive load from one organizer's token (five clients at once, through broker restarts):
    # no rate limit for it here; the limits themselves are tested in tests/integration/test_bounded_inputs.py
    environment = environment_for(settings) | {"QCP_RATE_LIMIT_ORGANIZER_PER_MINUTE": "0"}
    running = Platform(environment, root / "logs", default_ports(free_port_base()))
    running.start()
    try:
        running.wait_until_ready(timeout=180)
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def tokens() -> TokenService:
    """The suite's tokens, signed with the development secret the platform runs with in development mode."""
    return TOKENS


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)
