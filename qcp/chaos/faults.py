"""The chaos run's faults: what can be injected, a seeded schedule of them, and each one's outage window."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from qcp.launcher import Platform
from qcp.services import SERVICES
from qcp.stack import StackConfig, StackError, down, up
from qcp.stack.core import component

PROCESS_FAULTS = [f"kill-{service}-{kind}" for service in SERVICES for kind in ("api", "worker")]
STACK_FAULTS = ["broker-freeze", "broker-restart", "mongo-kill", "postgres-restart"]
ALL_FAULTS = PROCESS_FAULTS + STACK_FAULTS


def parse_faults(text: str) -> list[str]:
    """`all`, or a comma-separated list of fault names (`kill` for every process kill)."""
    names: list[str] = []
    for item in (part.strip() for part in text.split(",") if part.strip()):
        if item == "all":
            names += ALL_FAULTS
        elif item == "kill":
            names += PROCESS_FAULTS
        elif item in ALL_FAULTS:
            names.append(item)
        else:
            raise ValueError(f"unknown fault {item!r}; choose from all, kill, {', '.join(ALL_FAULTS)}")
    return list(dict.fromkeys(names))


@dataclass
class Injected:
    """One fault as it happened: when it began, when what it broke answered again, and what was seen."""

    fault: str
    at: float  # seconds into the load
    began: float  # epoch
    ended: float | None = None
    detail: str = ""

    @property
    def seconds(self) -> float:
        return (self.ended or self.began) - self.began


def schedule(faults: list[str], rounds: int, seconds: float, seed: int) -> list[tuple[float, str]]:
    """Each fault `rounds` times at a random moment of its own slot of the load's first 80 %, in a seeded order."""
    rng = random.Random(seed)
    plan = [name for _ in range(rounds) for name in faults]
    rng.shuffle(plan)
    if not plan:
        return []
    window = seconds * 0.8
    slot = window / len(plan)
    return [(round(index * slot + rng.uniform(0.1, 0.6) * slot, 1), name) for index, name in enumerate(plan)]


class Injector:
    """Injects faults into one platform (its processes are supervised elsewhere) and the stack it runs on."""

    def __init__(self, platform: Platform, stack: StackConfig, *, echo: Callable[[str], None],
                 freeze_seconds: tuple[float, float] = (8.0, 20.0), down_seconds: tuple[float, float] = (4.0, 10.0),
                 seed: int = 0) -> None:
        self.platform = platform
        self.stack = stack
        self.echo = echo
        self.freeze_seconds = freeze_seconds
        self.down_seconds = down_seconds
        self.rng = random.Random(seed + 1)
        self.injected: list[Injected] = []

    async def run(self, plan: list[tuple[float, str]], started: float) -> None:
        """Each fault at its moment. A stack fault waits for the one before it to heal; a process kill does not
        (supervision heals it while the next fault begins)."""
        healing: list[asyncio.Task[None]] = []
        for at, name in plan:
            await asyncio.sleep(max(0.0, started + at - time.monotonic()))
            record = Injected(name, round(time.monotonic() - started, 1), time.time())
            self.injected.append(record)
            if name.startswith("kill-"):
                healing.append(asyncio.create_task(self._inject(record)))
            else:
                await self._inject(record)
        await asyncio.gather(*healing)

    async def _inject(self, record: Injected) -> None:
        try:
            record.detail = await self.inject(record.fault)
        except Exception as error:  # noqa: BLE001 - a fault that could not be injected is reported, not fatal
            record.detail = f"could not inject: {type(error).__name__}: {str(error).splitlines()[0]}"
        record.ended = time.time()
        self.echo(f"  {record.at:6.1f} s  {record.fault:<26} {record.seconds:5.1f} s  {record.detail}")

    async def inject(self, name: str) -> str:
        if name.startswith("kill-"):
            return await self._kill_process(name.removeprefix("kill-"))
        return await {
            "broker-freeze": self._freeze_broker,
            "broker-restart": self._restart_broker,
            "mongo-kill": self._kill_mongo,
            "postgres-restart": self._restart_postgres,
        }[name]()

    async def _kill_process(self, name: str) -> str:
        process = self.platform.processes.get(name)
        if process is None or process.poll() is not None:
            return "not running at that moment (being restarted)"
        os.killpg(process.pid, signal.SIGKILL)
        service, kind = name.rsplit("-", 1)
        url = self.platform.url(service) if kind == "api" else self.platform.worker_url(service)
        back = await _wait_for(lambda: _answers(f"{url}/health"), timeout=120)
        return f"SIGKILL pid {process.pid}; " + ("back (supervised)" if back else "NOT back within 120 s")

    async def _freeze_broker(self) -> str:
        pid = component(self.stack, "kafka").live_pid()
        if pid is None:
            return "kafka not running"
        hold = round(self.rng.uniform(*self.freeze_seconds), 1)
        os.kill(pid, signal.SIGSTOP)
        try:
            await asyncio.sleep(hold)
        finally:
            os.kill(pid, signal.SIGCONT)
        return f"SIGSTOP pid {pid} for {hold} s, then SIGCONT"

    async def _restart_broker(self) -> str:
        hold = round(self.rng.uniform(*self.down_seconds), 1)
        await asyncio.to_thread(down, self.stack, ["kafka"], echo=_quiet)
        await asyncio.sleep(hold)
        return f"stopped, down {hold} s, started" + await self._bring_up(["kafka"])

    async def _kill_mongo(self) -> str:
        pid = component(self.stack, "ferretdb").live_pid()
        if pid is None:
            return "ferretdb not running"
        hold = round(self.rng.uniform(*self.down_seconds), 1)
        os.kill(pid, signal.SIGKILL)
        await asyncio.sleep(hold)
        return f"SIGKILL pid {pid}, down {hold} s, started" + await self._bring_up(["ferretdb"])

    async def _restart_postgres(self) -> str:
        hold = round(self.rng.uniform(*self.down_seconds), 1)
        await asyncio.to_thread(down, self.stack, ["postgres"], echo=_quiet)
        await asyncio.sleep(hold)
        return f"stopped, down {hold} s, started" + await self._bring_up(["postgres", "ferretdb"])


    async def _bring_up(self, names: list[str], attempts: int = 5) -> str:
        """Start the servers again; on a busy machine one may take longer than `up` waits, and is waited for again."""
        slow: list[str] = []
        for _ in range(attempts):
            try:
                await asyncio.to_thread(up, self.stack, names, echo=_quiet)
            except StackError as error:
                slow.append(str(error).splitlines()[0])
                continue
            return f" (slow start, waited again after: {slow[0]})" if slow else ""
        return f" (NOT healthy after {attempts} tries: {slow[-1]})"


def _quiet(_: str) -> None:
    pass


async def _answers(url: str) -> bool:
    try:
        async with httpx.AsyncClient(timeout=2) as client:
            return (await client.get(url)).status_code == 200
    except httpx.HTTPError:
        return False


async def _wait_for(check: Callable[[], object], *, timeout: float, interval: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():  # type: ignore[misc]
            return True
        await asyncio.sleep(interval)
    return False
