"""The embedded platform's supervision: a killed worker, and one that stops answering, are back within
15 s without anyone touching them, each restart recorded with its reason."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from infra.projection import HANG_ON_FIRST_MESSAGE_ENV
from qcp.launcher import Platform, default_ports, free_port_base
from qcp.supervisor import Supervisor, read_status
from services.registration.application import RegistrationApplication
from tests.harness import environment_for, isolated_settings, new_namespace
from tests.integration.test_outbox_relay import store_season_with_units

NAMES = ["registration-api", "registration-worker"]
# the hung worker's health counts only after this: a slow start on a busy machine is not what is tested there
START_GRACE = 60.0


@pytest.fixture
def supervised(stack, tmp_path: Path) -> Iterator[tuple[Platform, Supervisor]]:
    settings = isolated_settings(stack, "registration", tmp_path, new_namespace())
    platform = Platform(environment_for(settings), tmp_path / "logs", default_ports(free_port_base(18400)))
    for name in NAMES:
        service, kind = name.split("-")
        platform.start_process(service, kind)
    lines: list[str] = []
    supervisor = Supervisor(
        platform, NAMES, status_path=tmp_path / "platform.json", echo=lines.append, interval=0.5, start_grace=10.0
    )
    supervisor.lines = lines  # type: ignore[attr-defined]
    stop = threading.Event()

    def keep_supervising() -> None:
        while not stop.is_set():
            supervisor.check()
            stop.wait(supervisor.interval)

    thread = threading.Thread(target=keep_supervising, daemon=True)
    thread.start()
    try:
        wait_for_health(platform.worker_url("registration"), timeout=60)
        yield platform, supervisor
    finally:
        stop.set()
        thread.join(timeout=10)
        platform.stop()


def wait_for_health(url: str, *, timeout: float) -> float:
    """Seconds until /health answers 200."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} not healthy within {timeout:.0f}s")


@pytest.mark.timeout(180)
def test_a_killed_worker_is_back_within_15_seconds_and_the_restart_is_recorded(supervised) -> None:
    platform, supervisor = supervised
    killed = platform.processes["registration-worker"].pid
    time.sleep(10.5)  # past the fresh process's grace
    os.killpg(killed, signal.SIGKILL)
    back_in = wait_for_health(platform.worker_url("registration"), timeout=15)

    assert platform.processes["registration-worker"].pid != killed
    assert back_in < 15
    status = read_status(supervisor.status_path)
    worker = status["processes"]["registration-worker"]
    assert worker["restarts"] == 1 and worker["last_reason"] == f"exited with code {-signal.SIGKILL}"
    assert status["processes"]["registration-api"]["restarts"] == 0
    assert any(line.startswith("registration-worker exited with code -9") for line in supervisor.lines)


@pytest.mark.timeout(180)
def test_a_worker_that_stops_answering_is_killed_and_restarted(supervised) -> None:
    platform, supervisor = supervised
    frozen = platform.processes["registration-worker"].pid
    time.sleep(10.5)
    os.killpg(frozen, signal.SIGSTOP)  # alive, but answering nothing: a wedged process
    started = time.monotonic()

    def restarted() -> bool:
        return platform.processes["registration-worker"].pid != frozen

    while not restarted() and time.monotonic() - started < 30:
        time.sleep(0.2)
    wait_for_health(platform.worker_url("registration"), timeout=15)

    assert restarted(), "the wedged worker was not replaced within 30 s"
    worker = read_status(supervisor.status_path)["processes"]["registration-worker"]
    assert worker["restarts"] == 1
    assert worker["last_reason"].startswith("/health did not answer")


@pytest.mark.timeout(300)
def test_a_worker_whose_consumer_hangs_fails_liveness_and_is_restarted(stack, tmp_path: Path) -> None:
    """A consumer that stops consuming while the process lives: its /health fails after the stall time
    (short here), and the supervisor restarts the worker with that reason."""
    settings = isolated_settings(stack, "registration", tmp_path, new_namespace())
    application = RegistrationApplication(settings)
    store_season_with_units(application, 2)  # events to consume, so the hung group has lag
    application.close()
    platform = Platform(environment_for(settings), tmp_path / "logs", default_ports(free_port_base(18600)))
    platform.start_process("registration", "worker", {
        HANG_ON_FIRST_MESSAGE_ENV: "1",
        "QCP_CONSUMER_LAG_INTERVAL_SECONDS": "0.5",
        "QCP_CONSUMER_LIVENESS_STALL_SECONDS": "5",
    })
    supervisor = Supervisor(platform, ["registration-worker"], status_path=tmp_path / "platform.json",
                            echo=lambda _: None, interval=0.5, start_grace=START_GRACE)
    hung = platform.processes["registration-worker"].pid
    try:
        started = time.monotonic()
        while platform.processes["registration-worker"].pid == hung and time.monotonic() - started < START_GRACE + 90:
            supervisor.check()
            time.sleep(0.5)
        worker = read_status(supervisor.status_path)["processes"]["registration-worker"]
    finally:
        platform.stop()
    assert worker["restarts"] == 1
    assert worker["last_reason"].startswith("/health answered 503")
    assert f"consumer group {settings.consumer_group} has handled and committed nothing" in worker["last_reason"]
