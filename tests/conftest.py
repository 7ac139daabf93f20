"""Test layers: unit and contract tests need nothing; integration and e2e use the real local stack."""

from __future__ import annotations

import pytest

from qcp.stack import StackConfig, up


@pytest.fixture(scope="session")
def stack() -> StackConfig:
    """The real local stack (Kafka, PostgreSQL, FerretDB), brought up by the project's own code."""
    config = StackConfig()
    up(config)
    return config
