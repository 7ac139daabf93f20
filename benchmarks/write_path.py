"""The write path: registrations through registration's API (PostgreSQL event store) against a plain FastAPI +
PostgreSQL insert of the same form, in the same run on the same machine; a JSON report.

1. registration's API runs as its own process (`qcp serve api --service registration`, as `qcp run` starts it)
   in a namespace of its own (PostgreSQL event store, topics, MongoDB database); a season is opened;
2. the baseline, `benchmarks/plain_insert.py`, runs as its own uvicorn process on a database of its own in the
   same PostgreSQL: the same JSON at the same route, one INSERT;
3. throughput: `commands` registrations (distinct units) sent to each with `concurrency` requests in flight:
   commands/s, and the ratio API / plain (target ≥ 0.7);
4. latency: `rate` commands/s for `latency_seconds` to each, open loop (sent on schedule, answered or not):
   p50/p95/p99 (target p99 ≤ 50 ms at 50 commands/s);
   both phases run in `rounds` alternating turns (API, plain, API, plain, ...): the machine is shared, and a load
   that changes during the run then weighs on both targets alike instead of on whichever ran second;
5. checked: every command answered 2xx, one UnitRegistered stored per registration sent to the API, one row
   per form sent to the plain app; it fails otherwise.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg

from benchmarks.measure import Report, distribution, peak_rss_mib
from benchmarks.review import namespace_settings, remove_namespace
from infra.settings import ServiceSettings
from qcp.chaos.load import unit_form
from qcp.demo import demo_season
from qcp.launcher import Platform, default_ports, free_port_base
from qcp.services import local_tokens
from qcp.stack import StackConfig, create_database

Echo = Callable[[str], None]
ORGANIZER = "310000"


def service_environment(config: StackConfig, settings: ServiceSettings) -> dict[str, str]:
    """A service process' settings in the benchmark's namespace, quiet, without the organizer's rate limit."""
    return {
        "QCP_KAFKA_BOOTSTRAP": config.kafka_bootstrap, "QCP_MONGO_URL": config.mongo_url,
        "QCP_MONGO_DB_PREFIX": settings.mongo_db_prefix, "QCP_TOPIC_PREFIX": settings.topic_prefix,
        "QCP_EVENT_STORE": "postgres", "QCP_POSTGRES_PORT": str(config.postgres_port),
        "QCP_LOG_LEVEL": "WARNING", "QCP_RATE_LIMIT_ORGANIZER_PER_MINUTE": "0",
    }


async def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=5) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{url} exited with {process.returncode} before it was ready")
            try:
                if (await client.get(f"{url}/ready")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.5)
    raise TimeoutError(f"{url} not ready after {timeout:.0f} s")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Target:
    """Where the registrations go, and every answer it gave."""

    def __init__(self, name: str, url: str, season_id: str, token: str | None, first_number: int) -> None:
        self.name, self.url, self.season_id = name, url, season_id
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.numbers = iter(range(first_number, first_number + 10_000_000))
        self.sent = 0
        self.failures: list[str] = []

    async def register(self, client: httpx.AsyncClient) -> float:
        form = unit_form(next(self.numbers))
        started = time.perf_counter()
        answer = await client.post(f"{self.url}/seasons/{self.season_id}/registrations", json=form, headers=self.headers)
        seconds = time.perf_counter() - started
        self.sent += 1
        if not 200 <= answer.status_code < 300:
            self.failures.append(f"{answer.status_code} {answer.text[:200]}")
        return seconds

    async def throughput(self, commands: int, concurrency: int) -> Turn:
        """`commands` registrations with `concurrency` in flight (closed loop)."""
        remaining = iter(range(commands))
        latencies: list[float] = []

        async def sender(client: httpx.AsyncClient) -> None:
            for _ in remaining:
                latencies.append(await self.register(client))

        async with _client(concurrency) as client:
            started = time.perf_counter()
            await asyncio.gather(*(sender(client) for _ in range(concurrency)))
            return Turn(commands, time.perf_counter() - started, latencies)

    async def at_rate(self, rate: float, seconds: float) -> Turn:
        """`rate` registrations/s for `seconds`, each sent on schedule whether the earlier ones were answered or not."""
        count = max(1, int(rate * seconds))
        async with _client(64) as client:
            started = time.perf_counter()

            async def scheduled(index: int) -> float:
                await asyncio.sleep(max(0.0, started + index / rate - time.perf_counter()))
                return await self.register(client)

            latencies = await asyncio.gather(*(scheduled(index) for index in range(count)))
            return Turn(count, time.perf_counter() - started, list(latencies))


@dataclass
class Turn:
    """One target's share of a phase: commands sent, seconds taken, each command's latency."""

    commands: int
    seconds: float
    latencies: list[float]


async def alternating(targets: list[Target], rounds: int, turn: Callable[[Target], Awaitable[Turn]]
                      ) -> dict[str, Turn]:
    """Each target's turns, taken in `rounds` alternating rounds (api, plain, api, plain, ...), so that a load on
    the shared machine that changes during the run weighs on both alike; a target's turns add up."""
    totals = {target.name: Turn(0, 0.0, []) for target in targets}
    for _ in range(rounds):
        for target in targets:
            taken = await turn(target)
            total = totals[target.name]
            total.commands, total.seconds = total.commands + taken.commands, total.seconds + taken.seconds
            total.latencies += taken.latencies
    return totals


def _client(connections: int) -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=connections,
                                                             max_keepalive_connections=connections))


def stored_registrations(dsn: str) -> int:
    """UnitRegistered events in an event store (whichever table of it holds the stored events)."""
    with psycopg.connect(dsn) as connection:
        tables = [row[0] for row in connection.execute(
            "SELECT table_name FROM information_schema.columns WHERE table_schema = 'public' "
            "AND column_name = 'originator_version' AND table_name IN (SELECT table_name FROM "
            "information_schema.columns WHERE column_name = 'topic')")]
        return sum(connection.execute(f'SELECT count(*) FROM "{table}" WHERE topic LIKE %s',  # noqa: S608 - catalog names
                                      ("%UnitRegistered%",)).fetchone()[0] for table in set(tables))


def plain_rows(dsn: str) -> int:
    with psycopg.connect(dsn) as connection:
        return connection.execute("SELECT count(*) FROM registrations").fetchone()[0]


async def run_write_path_benchmark(*, commands: int, concurrency: int, rate: float, latency_seconds: float,
                                   output_dir: Path, config: StackConfig | None = None, echo: Echo = print,
                                   rounds: int = 4) -> Path:
    config = config or StackConfig()
    report = Report("write-path", {
        "commands": commands, "concurrency": concurrency, "rate": rate, "latency_seconds": latency_seconds,
        "rounds": rounds,
        "command": "POST /seasons/{season_id}/registrations (a new unit's 报名表, organizer's token)",
        "api": "registration's API as its own process (qcp serve api), PostgreSQL event store",
        "baseline": "benchmarks/plain_insert.py as its own uvicorn process: same JSON, same route, one INSERT "
                    "(psycopg pool) into a database of its own in the same PostgreSQL",
        "client": "httpx in this process, on the same machine",
        "targets": {"ratio": 0.7, "p99_seconds_at_50_per_second": 0.05},
    })
    settings = namespace_settings(config, "registration")
    plain_database = f"{settings.mongo_db_prefix}plain"
    create_database(config, str(settings.postgres_db))
    create_database(config, plain_database)
    ports = default_ports(free_port_base(19100))
    with tempfile.TemporaryDirectory(prefix="qcp-bench-") as logs:
        platform = Platform(service_environment(config, settings) | {"QCP_POSTGRES_DB": str(settings.postgres_db)},
                            Path(logs), ports)
        plain_port = free_port()
        plain = subprocess.Popen(  # noqa: S603 - the benchmark's own baseline app
            [sys.executable, "-m", "uvicorn", "benchmarks.plain_insert:app", "--port", str(plain_port),
             "--log-level", "warning", "--no-access-log"],
            env=os.environ | {"QCP_PLAIN_DSN": config.postgres_dsn_for(plain_database)},
            stdout=(Path(logs) / "plain.log").open("ab"), stderr=subprocess.STDOUT, start_new_session=True)
        try:
            platform.start_process("registration", "api")
            api_process = platform.processes["registration-api"]
            await wait_ready(platform.url("registration"), api_process)
            await wait_ready(f"http://127.0.0.1:{plain_port}", plain)
            echo(f"registration's API (pid {api_process.pid}) and the plain app (pid {plain.pid}) are ready")
            tokens = local_tokens()
            organizer = tokens.mint("bench-secretariat", "organizer", ORGANIZER, 3600)
            now = datetime.now(UTC)
            async with httpx.AsyncClient(timeout=30) as client:
                opened = await client.post(f"{platform.url('registration')}/seasons", json=demo_season(now.year, now),
                                           headers={"Authorization": f"Bearer {organizer}"})
            if opened.status_code != 201:
                raise RuntimeError(f"the season was not opened: {opened.status_code} {opened.text[:500]}")
            season_id = opened.json().get("season_id") or f"{ORGANIZER}-{now.year}-qc_group"
            api = Target("api", platform.url("registration"), season_id, organizer, 1)
            baseline = Target("plain", f"http://127.0.0.1:{plain_port}", season_id, None, 5_000_000)
            for target in (api, baseline):  # warm-up: connections, pools, code paths
                await target.throughput(min(50, commands), min(4, concurrency))
            targets = [api, baseline]
            closed = await alternating(targets, rounds, lambda target: target.throughput(
                max(1, commands // rounds), concurrency))
            results: dict[str, Any] = {name: {"throughput": {
                "commands": turn.commands, "concurrency": concurrency, "rounds": rounds, "seconds": round(turn.seconds, 3),
                "commands_per_second": round(turn.commands / turn.seconds, 1),
                "latency_seconds": distribution(turn.latencies)}} for name, turn in closed.items()}
            for name in results:
                echo(f"{name}: {results[name]['throughput']['commands_per_second']} commands/s")
            opened_loop = await alternating(targets, rounds, lambda target: target.at_rate(rate, latency_seconds / rounds))
            for name, turn in opened_loop.items():
                results[name]["at_rate"] = {
                    "rate": rate, "commands": turn.commands, "rounds": rounds, "seconds": round(turn.seconds, 3),
                    "achieved_rate": round(turn.commands / turn.seconds, 1), "latency_seconds": distribution(turn.latencies)}
                echo(f"{name} at {rate:g}/s: p99 {results[name]['at_rate']['latency_seconds']['p99']} s")
            report.process("registration API", peak_rss_mib(api_process.pid), "registration-api")
            report.process("plain FastAPI insert app", peak_rss_mib(plain.pid))
        finally:
            platform.stop()
            if plain.poll() is None:
                plain.terminate()
                plain.wait(timeout=20)
    report.own_process("benchmark client (this process)")
    report.check("api answers not 2xx", 0, len(api.failures))
    report.check("plain answers not 2xx", 0, len(baseline.failures))
    report.check("UnitRegistered stored (one per registration sent to the API)", api.sent,
                 stored_registrations(config.postgres_dsn_for(str(settings.postgres_db))))
    report.check("rows inserted by the plain app (one per form sent)", baseline.sent,
                 plain_rows(config.postgres_dsn_for(plain_database)))
    await remove_namespace(config, settings)
    with psycopg.connect(config.postgres_dsn_for("postgres"), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{plain_database}" WITH (FORCE)')
    report.fail_unless_checked()
    ratio = round(results["api"]["throughput"]["commands_per_second"]
                  / results["plain"]["throughput"]["commands_per_second"], 3)
    p99 = results["api"]["at_rate"]["latency_seconds"]["p99"]
    echo(f"ratio API / plain insert: {ratio} (target ≥ 0.7); API p99 at {rate:g}/s: {p99} s (target ≤ 0.05)")
    return report.write(output_dir, {
        "api": results["api"], "plain_insert": results["plain"], "ratio": ratio,
        "api_p99_seconds_at_rate": p99,
        "failures": {"api": api.failures[:10], "plain": baseline.failures[:10]},
    })
