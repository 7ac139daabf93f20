"""Starts the four services (API and worker each) as separate processes and waits until they answer."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from qcp.services import SERVICES


@dataclass(frozen=True)
class ServicePorts:
    api: int
    worker: int


def default_ports(base: int = 8100) -> dict[str, ServicePorts]:
    """registration on base+1, submission base+2, review base+3, stats base+4; workers ten above."""
    return {name: ServicePorts(base + 1 + index, base + 11 + index) for index, name in enumerate(SERVICES)}


def free_port_base(start: int = 18100) -> int:
    """A base whose eight service ports are free, so that two platforms on one machine do not talk to each other."""
    for base in range(start, start + 2000, 20):
        ports = [port for pair in default_ports(base).values() for port in (pair.api, pair.worker)]
        if all(_free(port) for port in ports):
            return base
    raise RuntimeError(f"no free ports for the platform from {start} on")


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


# The processes this launcher starts form the embedded development platform: they may run with the
# development signing secret (a deployment's services run from their manifests, never from here).
DEVELOPMENT_ENVIRONMENT = {"QCP_DEVELOPMENT_MODE": "true"}


@dataclass
class Platform:
    """The eight processes of the platform, their logs and their URLs."""

    environment: dict[str, str]
    log_dir: Path
    ports: dict[str, ServicePorts] = field(default_factory=default_ports)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    extra_env: dict[str, dict[str, str]] = field(default_factory=dict)  # per process, kept for restarts

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service].api}"

    def worker_url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service].worker}"

    def start(self, *, extra_env: dict[str, dict[str, str]] | None = None) -> None:
        for service in SERVICES:
            self.start_process(service, "api", (extra_env or {}).get(service))
            self.start_process(service, "worker", (extra_env or {}).get(service))

    def start_process(self, service: str, kind: str, extra_env: dict[str, str] | None = None) -> None:
        port = self.ports[service].api if kind == "api" else self.ports[service].worker
        self.log_dir.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "qcp.cli", "serve", kind, "--service", service, "--port", str(port)]
        if extra_env:
            self.extra_env[f"{service}-{kind}"] = extra_env
        with (self.log_dir / f"{service}-{kind}.log").open("ab") as log_file:
            self.processes[f"{service}-{kind}"] = subprocess.Popen(  # noqa: S603 - our own CLI
                command,
                env=os.environ | DEVELOPMENT_ENVIRONMENT | self.environment | (extra_env or {}),
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_until_ready(self, timeout: float = 120.0) -> None:
        """Every API and worker answers /ready with 200, or TimeoutError naming the ones that do not."""
        deadline = time.monotonic() + timeout
        pending = {f"{s}-api": f"{self.url(s)}/ready" for s in SERVICES} | {
            f"{s}-worker": f"{self.worker_url(s)}/ready" for s in SERVICES
        }
        last: dict[str, str] = {}
        while pending and time.monotonic() < deadline:
            for name, url in list(pending.items()):
                process = self.processes.get(name)
                if process is not None and process.poll() is not None:
                    raise RuntimeError(f"{name} exited with {process.returncode}:\n{self.log_tail(name)}")
                try:
                    response = httpx.get(url, timeout=5)
                    if response.status_code == 200:
                        del pending[name]
                    else:
                        last[name] = response.text
                except httpx.HTTPError as error:
                    last[name] = str(error)
            time.sleep(0.5)
        if pending:
            raise TimeoutError(f"not ready after {timeout:.0f}s: " + "; ".join(f"{n}: {last.get(n)}" for n in pending))

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.log_dir / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else "(no log)"

    def stop_process(self, name: str, sig: int = signal.SIGTERM, timeout: float = 20.0) -> None:
        process = self.processes.pop(name, None)
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, sig)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def stop(self) -> None:
        for name in list(self.processes):
            self.stop_process(name)
