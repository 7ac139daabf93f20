"""What every component of the local stack has in common."""

from __future__ import annotations

import subprocess
from abc import ABC, abstractmethod
import time
from dataclasses import dataclass
from pathlib import Path

from . import _proc
from .config import HOST, StackConfig
from .errors import ComponentFailed, PortTaken

PACKAGE_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    healthy: bool
    detail: str
    pid: int | None = None
    port: int | None = None


class Component(ABC):
    """One server of the stack. Subclasses fill in the specifics."""

    name: str = ""
    #: seconds ``up`` waits for the component to answer its health check
    start_timeout: float = 30.0
    #: seconds between SIGTERM and SIGKILL
    stop_timeout: float = 20.0

    def __init__(self, config: StackConfig) -> None:
        self.config = config

    # -- to override ----------------------------------------------------------
    @property
    @abstractmethod
    def port(self) -> int: ...

    def ports(self) -> list[int]:
        return [self.port]

    def requires(self) -> list[str]:
        """Components that must run before this one."""
        return []

    @property
    def pid_file(self) -> Path:
        return self.config.run_dir / f"{self.name}.pid"

    @abstractmethod
    def is_ours(self, pid: int) -> bool:
        """Whether live ``pid`` is this component's process (not a reused pid)."""

    @abstractmethod
    def probe(self) -> str:
        """Protocol-level health check, called once the port accepts connections.
        Returns a description of the healthy server; raises if unhealthy."""

    def prepare(self, echo: _proc.Echo) -> None:
        """Download, build or initialise what ``start`` needs (cached, idempotent)."""

    @abstractmethod
    def start(self, echo: _proc.Echo) -> subprocess.Popen[bytes] | None:
        """Start the process detached; returns it when this process is its parent."""

    def stop(self, pid: int, echo: _proc.Echo) -> None:
        _proc.terminate(pid, timeout=self.stop_timeout, echo=echo, name=self.name)
        self.pid_file.unlink(missing_ok=True)

    # -- shared ---------------------------------------------------------------
    @property
    def log_file(self) -> Path:
        return self.config.log_file(self.name)

    def read_pid(self) -> int | None:
        return _proc.read_pid(self.pid_file)

    def live_pid(self) -> int | None:
        """The component's pid if its process is running, else None."""
        pid = self.read_pid()
        if pid is not None and _proc.pid_alive(pid) and self.is_ours(pid):
            return pid
        return None

    def clear_stale_pid(self) -> None:
        if self.read_pid() is not None and self.live_pid() is None:
            self.pid_file.unlink(missing_ok=True)

    def check_ports_free(self) -> None:
        for port in self.ports():
            if not _proc.port_free(port, HOST):
                raise PortTaken(self.name, port, HOST)

    def status(self) -> ComponentStatus:
        port = self.port
        pid = self.read_pid()
        if pid is None:
            return ComponentStatus(self.name, False, "not running (no pid file)" + self._port_note(), None, port)
        if not _proc.pid_alive(pid):
            return ComponentStatus(
                self.name, False, f"not running (stale pid file: pid {pid} is gone)" + self._port_note(), None, port
            )
        if not self.is_ours(pid):
            return ComponentStatus(
                self.name,
                False,
                f"not running (stale pid file: pid {pid} is now another program)" + self._port_note(),
                None,
                port,
            )
        for p in self.ports():
            if not _proc.port_open(p, HOST):
                return ComponentStatus(self.name, False, f"pid {pid} alive but port {p} not answering", pid, port)
        try:
            detail = self.probe()
        except Exception as exc:  # noqa: BLE001 - any failure is "unhealthy, because ..."
            reason = " ".join(str(exc).split()) or type(exc).__name__
            if len(reason) > 240:
                reason = reason[:237] + "..."
            return ComponentStatus(
                self.name, False, f"pid {pid} alive, port {port} open but health check failed: {reason}", pid, port
            )
        return ComponentStatus(self.name, True, f"healthy: {detail}", pid, port)

    def _port_note(self) -> str:
        taken = [p for p in self.ports() if not _proc.port_free(p, HOST)]
        if not taken:
            return ""
        return "; port " + ", ".join(map(str, taken)) + " is in use by another process"

    def wait_healthy(self, echo: _proc.Echo, proc: subprocess.Popen[bytes] | None = None) -> ComponentStatus:
        started = time.monotonic()
        deadline = started + self.start_timeout
        last = self.status()
        while not last.healthy:
            if proc is not None and proc.poll() is not None:
                raise self.failed(f"exited with code {proc.returncode} during start-up")
            if proc is None and self.live_pid() is None:
                raise self.failed(f"is not running: {last.detail}")
            if time.monotonic() > deadline:
                raise self.failed(
                    f"not healthy after {self.start_timeout:.0f} s ({last.detail}); "
                    f"the process is left running, stop it with `qcp stack down {self.name}`"
                )
            time.sleep(0.3)
            last = self.status()
        echo(f"{self.name}: {last.detail} (pid {last.pid}, ready in {time.monotonic() - started:.1f} s)")
        return last

    def failed(self, reason: str) -> ComponentFailed:
        return ComponentFailed(self.name, reason, _proc.tail_file(self.log_file, 25), str(self.log_file))
