"""The short fault suite: three minutes of load with every fault injected (each API and worker killed, the broker
frozen and restarted, FerretDB killed, PostgreSQL restarted), then every reconciliation check passes."""

from __future__ import annotations

import pytest

from qcp.chaos import ALL_FAULTS, ChaosOptions, run_chaos


@pytest.mark.own_event_store  # PostgreSQL event stores, the deployed ones, in the first pass: not run twice
@pytest.mark.timeout(1200)
async def test_three_minutes_of_every_fault_under_load_lose_nothing_and_do_nothing_twice(stack) -> None:
    options = ChaosOptions(seconds=180, seed=15, faults=ALL_FAULTS, clients=4, rate=8.0, event_store="postgres",
                           catch_up_timeout=600)

    result = await run_chaos(options, stack)

    assert result.failed == [], "\n".join(result.lines)
