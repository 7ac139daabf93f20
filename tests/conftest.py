"""Test layers: unit and contract tests need nothing; integration and e2e use the real local stack."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from qcp.stack import StackConfig, up
from tests.harness import TEST_EVENT_STORE, drop_created_databases


@pytest.fixture(scope="session")
def stack() -> Iterator[StackConfig]:
    """The real local stack (Kafka, PostgreSQL, FerretDB), brought up by the project's own code.

    The event-store databases the session created are dropped when it ends (after the platforms stopped).
    """
    config = StackConfig()
    up(config)
    yield config
    drop_created_databases(config)


def pytest_report_header() -> str:
    return f"event stores: {TEST_EVENT_STORE} (QCP_TEST_EVENT_STORE)"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On the PostgreSQL pass, leave out the tests that choose their stores themselves (a parametrized
    `event_store`, or marked `own_event_store`): the first pass ran them on the stores they chose."""
    if TEST_EVENT_STORE != "postgres":
        return
    kept, compared = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        chosen = (callspec is not None and "event_store" in callspec.params) or item.get_closest_marker("own_event_store")
        (compared if chosen else kept).append(item)
    if compared:
        config.hook.pytest_deselected(items=compared)
        items[:] = kept
