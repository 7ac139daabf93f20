"""The chaos run's fault names and its seeded schedule: the same seed repeats the same faults at the same moments."""

from __future__ import annotations

import pytest

from qcp.chaos.faults import ALL_FAULTS, PROCESS_FAULTS, parse_faults, schedule


def test_all_names_every_api_and_worker_kill_and_the_four_stack_faults() -> None:
    assert parse_faults("all") == ALL_FAULTS
    assert len(PROCESS_FAULTS) == 8
    assert set(ALL_FAULTS) - set(PROCESS_FAULTS) == {"broker-freeze", "broker-restart", "mongo-kill", "postgres-restart"}


def test_a_list_keeps_its_faults_once_each() -> None:
    assert parse_faults("broker-restart, kill-stats-worker,broker-restart") == ["broker-restart", "kill-stats-worker"]


def test_an_unknown_fault_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="'broker-explode'"):
        parse_faults("broker-explode")


def test_the_same_seed_gives_the_same_schedule_and_another_seed_another() -> None:
    first = schedule(ALL_FAULTS, 1, 300, seed=7)

    assert first == schedule(ALL_FAULTS, 1, 300, seed=7)
    assert first != schedule(ALL_FAULTS, 1, 300, seed=8)


def test_each_fault_comes_once_per_round_in_the_first_80_percent_in_order_of_time() -> None:
    plan = schedule(["broker-restart", "mongo-kill"], 3, 100, seed=1)

    assert sorted(name for _, name in plan) == ["broker-restart"] * 3 + ["mongo-kill"] * 3
    moments = [at for at, _ in plan]
    assert moments == sorted(moments) and 0 < moments[0] and moments[-1] <= 80
