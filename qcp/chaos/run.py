"""A chaos run from start to end: a supervised platform of its own, the load and the faults at once, the reconciliation."""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from infra.auth import PERSON_MAX_TTL_SECONDS
from qcp.chaos.faults import Injector, schedule
from qcp.chaos.load import Command, Load
from qcp.chaos.reconcile import Check, Reconciler
from qcp.demo import demo_season
from qcp.launcher import Platform, default_ports, free_port_base
from qcp.services import SERVICES, local_tokens
from qcp.stack import StackConfig, create_database
from qcp.supervisor import Supervisor

ORGANIZER = "310000"


@dataclass
class ChaosOptions:
    seconds: float = 300.0
    seed: int = 1
    faults: list[str] = field(default_factory=list)
    rounds: int = 1
    clients: int = 6
    rate: float = 20.0
    event_store: str = "postgres"
    catch_up_timeout: float = 900.0
    output_dir: Path | None = None


@dataclass
class ChaosResult:
    lines: list[str]
    checks: list[Check]
    report_path: Path | None

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(check.ok for check in self.checks)

    @property
    def failed(self) -> list[str]:
        return [check.name for check in self.checks if not check.ok]


def platform_environment(stack: StackConfig, namespace: str, root: Path, event_store: str) -> dict[str, str]:
    """The run's own topics, consumer groups, read-model databases and event stores on the given stack."""
    return {
        "QCP_KAFKA_BOOTSTRAP": stack.kafka_bootstrap,
        "QCP_MONGO_URL": stack.mongo_url,
        "QCP_MONGO_DB_PREFIX": namespace.replace(".", "_"),
        "QCP_TOPIC_PREFIX": namespace,
        "QCP_EVENT_STORE": event_store,
        "QCP_SQLITE_DIR": str(root / "eventstores"),
        "QCP_POSTGRES_PORT": str(stack.postgres_port),
        "QCP_RETRY_BACKOFF_SECONDS": "0.5",
        "QCP_RELAY_POLL_INTERVAL_SECONDS": "0.1",
    }


def _supervise(supervisor: Supervisor, stop: threading.Event) -> None:
    while not stop.is_set():
        supervisor.check()
        stop.wait(supervisor.interval)


async def run_chaos(options: ChaosOptions, stack: StackConfig, echo: Callable[[str], None] = print) -> ChaosResult:
    lines: list[str] = []

    def say(line: str) -> None:
        lines.append(line)
        echo(line)

    namespace = f"chaos{options.seed}x{uuid.uuid4().hex[:6]}."
    root = stack.state_dir / "chaos" / namespace.rstrip(".")
    environment = platform_environment(stack, namespace, root, options.event_store)
    per_service: dict[str, dict[str, str]] = {}
    if options.event_store == "postgres":
        for service in SERVICES:
            database = f"{environment['QCP_MONGO_DB_PREFIX']}{service}"
            create_database(stack, database)
            per_service[service] = {"QCP_POSTGRES_DB": database}
    platform = Platform(environment, root / "logs", default_ports(free_port_base(18700)))
    restarts: list[str] = []
    say(f"qcp chaos: seed {options.seed}, {options.seconds:.0f} s of load, {options.clients} clients at "
        f"{options.rate:g} commands/s, event stores on {options.event_store}, namespace {namespace}")
    say(f"faults ({options.rounds} round{'s' * (options.rounds > 1)}): {', '.join(options.faults) or 'none'}")
    platform.start(extra_env=per_service)
    stop_supervising = threading.Event()
    supervisor = Supervisor(platform, list(platform.processes), echo=lambda line: restarts.append(
        f"{time.strftime('%H:%M:%S')} {line}"), interval=1.0, start_grace=20.0, initial_backoff=1.0, max_backoff=5.0)
    thread = threading.Thread(target=_supervise, args=(supervisor, stop_supervising), daemon=True)
    tokens = local_tokens()
    try:
        platform.wait_until_ready(timeout=180)
        thread.start()
        urls = {service: platform.url(service) for service in SERVICES}
        season_id = f"{ORGANIZER}-{datetime.now(UTC).year}-qc_group"
        load = Load(urls, tokens, season_id, clients=options.clients, rate=options.rate, seed=options.seed)
        await _prepare(load, urls)
        plan = schedule(options.faults, options.rounds, options.seconds, options.seed)
        injector = Injector(platform, stack, echo=say, seed=options.seed)
        say("injected (seconds into the load, fault, how long until healed, what was done):")
        started = time.monotonic()
        await asyncio.gather(load.run(options.seconds), injector.run(plan, started))
        load_seconds = (load.stopped_at or time.monotonic()) - started
        await load.resolve_unanswered()
        say(_load_summary(load, load_seconds, options))
        reconciler = Reconciler(
            load, injector.injected, urls=urls, bootstrap=stack.kafka_bootstrap, mongo_url=stack.mongo_url,
            topic_prefix=namespace, mongo_db_prefix=environment["QCP_MONGO_DB_PREFIX"],
            auditor=tokens.mint("qcp-chaos", "auditor", "audit", PERSON_MAX_TTL_SECONDS),
            ops=tokens.mint("qcp-chaos", "ops", "platform", PERSON_MAX_TTL_SECONDS),
        )
        caught_up = await reconciler.wait_caught_up(options.catch_up_timeout)
        say(f"caught up {reconciler.caught_up_seconds} s after the load" if caught_up
            else f"NOT caught up within {options.catch_up_timeout:.0f} s after the load")
        stop_supervising.set()
        thread.join(timeout=10)
        say(f"supervision: {len([line for line in restarts if ' restarted ' in line])} restarts")
        for line in restarts:
            say(f"  {line}")
        checks = await reconciler.checks()
        say("reconciliation:")
        for check in checks:
            say(check.line())
        result = ChaosResult(lines, checks, None)
        say("ALL CHECKS PASSED" if result.ok else f"FAILED: {', '.join(result.failed)}")
        if options.output_dir is not None:
            result.report_path = _write_report(options, namespace, load, injector, checks, lines)
            say(f"report: {result.report_path}")
        return result
    finally:
        stop_supervising.set()
        if thread.is_alive():
            thread.join(timeout=10)
        platform.stop()


async def _prepare(load: Load, urls: dict[str, str]) -> None:
    """The season opened and each client's unit for entries registered, then known to submission."""
    rng = random.Random(load.seed)
    season = demo_season(int(load.season_id.split("-")[1]), datetime.now(UTC))
    opened = await load.send(Command("registration", "season", "/seasons", season, load.organizer), rng)
    if not opened.accepted:
        raise RuntimeError(f"opening the season failed: {opened.status} {opened.answer}")
    for state in load.clients:
        registered = await load.prepare_client(state, rng)
        if not registered.accepted:
            raise RuntimeError(f"registering a client's unit failed: {registered.status} {registered.answer}")
    headers = {"Authorization": f"Bearer {load.organizer}"}
    deadline = time.monotonic() + 120
    async with httpx.AsyncClient(timeout=10, headers=headers) as client:
        for state in load.clients:
            assert state.entry_unit is not None
            url = f"{urls['submission']}/seasons/{load.season_id}/units/{state.entry_unit['credit_code']}"
            while (await client.get(url)).status_code != 200:
                if time.monotonic() > deadline:
                    raise RuntimeError("submission did not learn of the season's units within 120 s")
                await asyncio.sleep(0.5)


def _load_summary(load: Load, seconds: float, options: ChaosOptions) -> str:
    commands = [command for command in load.commands if command.kind != "season"]
    accepted = sum(command.accepted for command in commands)
    retried = sum(command.retried for command in commands)
    by_kind: dict[str, int] = {}
    for command in commands:
        by_kind[command.kind] = by_kind.get(command.kind, 0) + 1
    kinds = ", ".join(f"{count} {kind}s" for kind, count in sorted(by_kind.items()))
    return (f"load held: {len(commands)} commands in {seconds:.0f} s = {len(commands) / max(seconds, 1):.1f} commands/s "
            f"from {options.clients} clients ({kinds}); {accepted} accepted, {retried} needed retries")


def _write_report(options: ChaosOptions, namespace: str, load: Load, injector: Injector, checks: list[Check],
                  lines: list[str]) -> Path:
    assert options.output_dir is not None
    options.output_dir.mkdir(parents=True, exist_ok=True)
    path = options.output_dir / f"chaos-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-seed{options.seed}.json"
    report: dict[str, Any] = {
        "options": {key: str(value) if isinstance(value, Path) else value for key, value in asdict(options).items()},
        "namespace": namespace,
        "injected": [asdict(item) for item in injector.injected],
        "commands": len(load.commands),
        "accepted": sum(command.accepted for command in load.commands),
        "checks": [asdict(check) for check in checks],
        "output": lines,
    }
    path.write_text(json.dumps(report, ensure_ascii=False, indent=2))
    return path
