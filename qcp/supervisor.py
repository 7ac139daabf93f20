"""Keeps the embedded platform's processes running: one that exits or stops answering /health is
restarted with back-off, each restart logged with its reason and counted in a status file."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

from qcp.launcher import Platform


@dataclass
class Supervised:
    """What the supervisor knows of one process: its restarts and why, and when it may start again."""

    name: str
    pid: int | None = None
    started_at: float = field(default_factory=time.time)
    restarts: int = 0
    last_reason: str | None = None
    last_restart_at: float | None = None
    failed_checks: int = 0
    backoff: float = 0.0
    restart_due: float | None = None  # monotonic; set while the process is down and waiting


class Supervisor:
    """Checks every process in turn; call `check` every `interval` seconds.

    A process that exited is started again after a back-off that doubles up to `max_backoff` and
    falls back once it has stayed healthy for `healthy_for`. One that fails `failed_checks` health
    checks in a row (not answering, or answering 503: a wedged relay) is killed and restarted the same
    way; a fresh process has `start_grace` seconds before its health counts."""

    def __init__(
        self,
        platform: Platform,
        names: list[str],
        *,
        status_path: Path | None = None,
        echo: Callable[[str], None] = print,
        interval: float = 2.0,
        failed_checks: int = 3,
        initial_backoff: float = 1.0,
        max_backoff: float = 30.0,
        healthy_for: float = 60.0,
        start_grace: float = 30.0,
    ) -> None:
        self.platform = platform
        self.status_path = status_path
        self.echo = echo
        self.interval = interval
        self.failed_checks = failed_checks
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.healthy_for = healthy_for
        self.start_grace = start_grace
        self.processes = {name: Supervised(name, pid=self._pid(name)) for name in names}
        self._started = {name: time.monotonic() for name in names}

    def check(self) -> None:
        for record in self.processes.values():
            self._check_one(record)
        self.write_status()

    def _check_one(self, record: Supervised) -> None:
        now = time.monotonic()
        if record.restart_due is not None:
            if now >= record.restart_due:
                self._start(record)
            return
        process = self.platform.processes.get(record.name)
        if process is None or process.poll() is not None:
            code = None if process is None else process.returncode
            self._schedule_restart(record, f"exited with code {code}")
            return
        if now - self._started[record.name] < self.start_grace:
            return  # a fresh process answers /health only once it has started
        problem = self._health_problem(record)
        if problem is None:
            record.failed_checks = 0
            if record.backoff and now - self._started[record.name] >= self.healthy_for:
                record.backoff = 0.0
            return
        record.failed_checks += 1
        if record.failed_checks >= self.failed_checks:
            self._kill(record.name)
            self._schedule_restart(record, f"{problem} ({record.failed_checks} health checks in a row)")

    def _health_problem(self, record: Supervised) -> str | None:
        service, kind = record.name.rsplit("-", 1)
        url = self.platform.url(service) if kind == "api" else self.platform.worker_url(service)
        try:
            answer = httpx.get(f"{url}/health", timeout=3)
        except httpx.HTTPError as error:
            return f"/health did not answer: {type(error).__name__}"
        if answer.status_code != 200:
            return f"/health answered {answer.status_code}: {answer.text[:300]}"
        return None

    def _schedule_restart(self, record: Supervised, reason: str) -> None:
        record.backoff = min(self.max_backoff, record.backoff * 2) if record.backoff else self.initial_backoff
        record.restart_due = time.monotonic() + record.backoff
        record.last_reason = reason
        record.failed_checks = 0
        self.echo(f"{record.name} {reason}; restarting in {record.backoff:.0f} s")

    def _start(self, record: Supervised) -> None:
        service, kind = record.name.rsplit("-", 1)
        self.platform.start_process(service, kind, self.platform.extra_env.get(record.name))
        record.restart_due = None
        record.restarts += 1
        record.last_restart_at = time.time()
        record.started_at = time.time()
        record.pid = self._pid(record.name)
        self._started[record.name] = time.monotonic()
        self.echo(f"{record.name} restarted (pid {record.pid}, restart {record.restarts})")

    def _kill(self, name: str) -> None:
        process = self.platform.processes.get(name)
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def _pid(self, name: str) -> int | None:
        process = self.platform.processes.get(name)
        return None if process is None else process.pid

    def write_status(self) -> None:
        if self.status_path is None:
            return
        status = {
            "written_at": time.time(),
            "processes": {
                name: {key: value for key, value in asdict(record).items() if key not in ("restart_due", "backoff")}
                | {
                    "url": self._url(name),
                    "waiting_to_restart": record.restart_due is not None,
                }
                for name, record in self.processes.items()
            },
        }
        temporary = self.status_path.with_suffix(".tmp")
        temporary.write_text(json.dumps(status, ensure_ascii=False, indent=2))
        temporary.replace(self.status_path)

    def _url(self, name: str) -> str:
        service, kind = name.rsplit("-", 1)
        return self.platform.url(service) if kind == "api" else self.platform.worker_url(service)


def read_status(path: Path) -> dict | None:
    """The status a running `qcp run` last wrote, or None if there is none."""
    if not path.exists():
        return None
    return json.loads(path.read_text())
