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
    running = Platform(environment_for(settings), root / "logs", default_ports(free_port_base()))
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
