"""The project's command line: stack, serve, run, demo, token, contracts, bench, test."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import click

from qcp.audit_cli import audit
from qcp.dlq_cli import dlq
from qcp.feed_cli import feed
from qcp.image import image
from qcp.relay_cli import relay
from contracts.codes import Role
from qcp.services import SERVICES
from qcp.stack.cli import stack


@click.group()
def cli() -> None:
    """QC platform: the local stack, the four services, tokens, demo data and contracts."""


cli.add_command(stack)
cli.add_command(audit)
cli.add_command(dlq)
cli.add_command(feed)
cli.add_command(relay)
cli.add_command(image)


@cli.group()
def serve() -> None:
    """Run one service's API or worker in the foreground."""


@serve.command("api")
@click.option("--service", type=click.Choice(SERVICES), required=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8000, show_default=True)
def serve_api(service: str, host: str, port: int) -> None:
    """The FastAPI app: commands, queries, /health, /ready, /metrics, /docs."""
    from qcp.services import serve_api as run

    run(service, host, port)


@serve.command("worker")
@click.option("--service", type=click.Choice(SERVICES), required=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=None, help="serve /health, /ready, /metrics on this port")
def serve_worker(service: str, host: str, port: int | None) -> None:
    """The outbox relay and the projection consumers."""
    from qcp.services import serve_worker as run

    run(service, host, port)


@cli.command()
@click.option("--demo/--no-demo", default=True, show_default=True, help="load the demo season")
@click.option("--base-port", type=int, default=8100, show_default=True, help="APIs on base+1..4, workers on base+11..14")
def run(demo: bool, base_port: int) -> None:
    """The embedded platform: local stack up, four services (API + worker each), a demo season. Ctrl-C stops the services."""
    from qcp.embedded import run_platform

    run_platform(demo=demo, base_port=base_port)


@cli.command("status")
@click.option("--base-port", type=int, default=8100, show_default=True,
              help="where to look for the services when no `qcp run` status says it (as `qcp run --base-port`)")
def status_command(base_port: int) -> None:
    """Per service: API and worker readiness, relay lag, consumer lag, dead letters waiting, stats' generation;
    and the processes as `qcp run` supervises them (pid, restarts, the last reason)."""
    import asyncio
    import logging

    from qcp.dlq_cli import operator_settings
    from qcp.embedded import status_path
    from qcp.launcher import default_ports
    from qcp.stack import StackConfig
    from qcp.status import collect, table
    from qcp.supervisor import read_status

    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # Kafka away is a cell of the table, not a log
    status = read_status(status_path(StackConfig()))
    ports = default_ports(base_port)
    urls = {name: (f"http://127.0.0.1:{ports[name].api}", f"http://127.0.0.1:{ports[name].worker}") for name in SERVICES}
    if status is None:
        click.echo("no `qcp run` status: the embedded platform is not running here; looking on the default ports")
    else:
        age = time.time() - status["written_at"]
        click.echo(f"processes (written {age:.0f} s ago" + (")" if age < 30 else "; is `qcp run` still running?)"))
        for name, item in status["processes"].items():
            state = "waiting to restart" if item["waiting_to_restart"] else f"pid {item['pid']}"
            reason = f"; last: {item['last_reason']}" if item["last_reason"] else ""
            click.echo(f"  {name:<20} {state:<20} restarts {item['restarts']}{reason}  {item['url']}")
            service, kind = name.rsplit("-", 1)
            if service in urls:
                api, worker = urls[service]
                urls[service] = (item["url"], worker) if kind == "api" else (api, item["url"])
        click.echo("")
    click.echo(table(asyncio.run(collect(urls, operator_settings))))


@cli.command("demo")
@click.option("--registration-url", default="http://127.0.0.1:8101", show_default=True)
@click.option("--submission-url", default="http://127.0.0.1:8102", show_default=True)
@click.option("--review-url", default="http://127.0.0.1:8103", show_default=True)
def demo_command(registration_url: str, submission_url: str, review_url: str) -> None:
    """Load the demo season and the example provincial feeds into running services."""
    from qcp.demo import load_demo
    from qcp.services import local_tokens

    urls = {"registration": registration_url, "submission": submission_url, "review": review_url}
    click.echo(load_demo(registration_url, local_tokens(), feed_urls=urls))


@cli.group()
def token() -> None:
    """Development bearer tokens."""


@token.command("mint")
@click.option("--role", required=True, type=click.Choice([role.value for role in Role if role is not Role.SYSTEM]))
@click.option("--org", required=True,
              help="organizer region code (organizer, national, feed), unit credit code, recommender id or judge id")
@click.option("--sub", "subject", required=True, help="the person or machine acting")
@click.option("--organizer", help="the organizer a recommender or judge belongs to (required for both), e.g. 310000")
@click.option("--season", help="the season a recommender recommends in (required for a recommender)")
@click.option("--ttl", type=click.IntRange(min=1), default=8 * 3600, show_default=True,
              help="seconds; at most 12 h (43200) for people, 24 h (86400) for feeds")
def mint(role: str, org: str, subject: str, organizer: str | None, season: str | None, ttl: int) -> None:
    """Print a token signed with QCP_JWT_SECRET (or, when unset, the embedded platform's development secret)."""
    from qcp.services import local_tokens

    if role in (Role.RECOMMENDER, Role.JUDGE) and not organizer:
        raise click.UsageError(f"a {role} token needs --organizer (the provincial association's code)")
    if role == Role.RECOMMENDER and not season:
        raise click.UsageError("a recommender token needs --season (the season it recommends in)")
    try:
        click.echo(local_tokens().mint(subject, role, org, ttl, organizer=organizer, season=season))
    except ValueError as error:
        raise click.UsageError(str(error)) from error


@cli.group()
def contracts() -> None:
    """The checked-in contract files."""


@contracts.command("export")
def contracts_export() -> None:
    """Regenerate contracts/schemas/*.json and contracts/asyncapi.json from the code."""
    from qcp.contracts_export import write_all

    written = write_all()
    click.echo("\n".join(str(path) for path in written) or "contract files already up to date")


@cli.group()
def bench() -> None:
    """Benchmarks on the local stack: JSON reports in reports/, never pass/fail."""


@bench.command("review")
@click.option("--workers", default="1,2,4", show_default=True, help="worker counts to measure, comma-separated")
@click.option("--events", type=int, default=10_000, show_default=True, help="scores in the backlog")
@click.option("--judges-per-entry", type=int, default=5, show_default=True)
@click.option("--partitions", type=int, default=8, show_default=True, help="partitions of the namespaced topics")
@click.option("--output", type=click.Path(file_okay=False, path_type=Path), default=Path("reports"), show_default=True)
def bench_review(workers: str, events: int, judges_per_entry: int, partitions: int, output: Path) -> None:
    """Review workers draining a backlog of ScoreRecorded: events/s and lag for each worker count."""
    import asyncio

    from benchmarks.review import run_review_benchmark

    counts = [int(item) for item in workers.split(",") if item.strip()]
    path = asyncio.run(run_review_benchmark(
        workers=counts, events=events, judges_per_entry=judges_per_entry, partitions=partitions, output_dir=output,
        echo=click.echo,
    ))
    click.echo(f"report: {path}")


@bench.command("feed-intake")
@click.option("--records", type=int, default=50_000, show_default=True, help="records in the one batch")
@click.option("--relay-batch-size", type=int, default=2_000, show_default=True)
@click.option("--workers", type=click.Choice(["processes", "in-process"]), default="processes", show_default=True,
              help="each service's worker a process of its own (as deployed), or all in the benchmark's process")
@click.option("--output", type=click.Path(file_okay=False, path_type=Path), default=Path("reports"), show_default=True)
def bench_feed_intake(records: int, relay_batch_size: int, workers: str, output: Path) -> None:
    """One province's mixed batch (registrations, entries, recommendations, results) through the three services'
    feed endpoints until their events are on Kafka, against a plain bulk insert: records/s."""
    import asyncio

    from benchmarks.feed_intake import run_feed_benchmark

    path = asyncio.run(run_feed_benchmark(records=records, relay_batch_size=relay_batch_size, output_dir=output,
                                          echo=click.echo, workers=workers))
    click.echo(f"report: {path}")


@cli.command("chaos")
# The run's organizer and unit tokens are minted once and live 12 h, the cap for people's tokens: load and
# catch-up together stay within it.
@click.option("--seconds", type=click.FloatRange(min=1, max=10 * 3600), default=300, show_default=True,
              help="seconds of load (at most 10 h); faults in the first 80 %")
@click.option("--seed", type=int, default=1, show_default=True, help="the same seed repeats the same faults and load")
@click.option("--faults", "faults_text", default="all", show_default=True,
              help="all, kill (every API and worker), or a comma-separated list of: kill-<service>-api|worker, "
                   "broker-freeze, broker-restart, mongo-kill, postgres-restart")
@click.option("--rounds", type=int, default=1, show_default=True, help="how many times each fault is injected")
@click.option("--clients", type=int, default=6, show_default=True)
@click.option("--rate", type=float, default=20.0, show_default=True, help="commands/s between all clients")
@click.option("--event-store", type=click.Choice(["postgres", "sqlite"]), default="postgres", show_default=True)
@click.option("--catch-up-timeout", type=click.FloatRange(min=0, max=3600), default=900, show_default=True,
              help="seconds to wait after the load (at most 1 h)")
@click.option("--output", type=click.Path(file_okay=False, path_type=Path), default=Path("reports"), show_default=True)
def chaos(seconds: float, seed: int, faults_text: str, rounds: int, clients: int, rate: float, event_store: str,
          catch_up_timeout: float, output: Path) -> None:
    """Faults under load on the local stack, then a reconciliation; exits 1 naming every check that failed.

    It kills and restarts the stack's Kafka, FerretDB and PostgreSQL: run it on a stack nobody else uses.
    """
    import asyncio

    from qcp.chaos import ChaosOptions, parse_faults, run_chaos
    from qcp.stack import StackConfig, up

    try:
        faults = parse_faults(faults_text)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--faults") from None
    config = StackConfig()
    up(config)
    options = ChaosOptions(seconds=seconds, seed=seed, faults=faults, rounds=rounds, clients=clients, rate=rate,
                           event_store=event_store, catch_up_timeout=catch_up_timeout, output_dir=output)
    result = asyncio.run(run_chaos(options, config, echo=click.echo))
    sys.exit(0 if result.ok else 1)


# The suite's passes: the whole suite on SQLite event stores, then the tests that use the stack
# again on PostgreSQL ones, the store deployments run (see tests/harness.py).
TEST_PASSES = {"sqlite": ("SQLite", ()), "postgres": ("PostgreSQL", ("tests/integration", "tests/e2e"))}


@cli.command(context_settings={"ignore_unknown_options": True})
@click.option("--event-stores", type=click.Choice(["both", "sqlite", "postgres"]), default="both", show_default=True,
              help="Which passes to run: SQLite event stores (the whole suite), PostgreSQL (integration and e2e), both.")
@click.argument("pytest_args", nargs=-1, type=click.UNPROCESSED)
def test(event_stores: str, pytest_args: tuple[str, ...]) -> None:
    """The whole test suite: brings the local stack up, then unit, contract, deploy, integration and e2e tests
    on SQLite event stores, and the integration and e2e tests again on PostgreSQL event stores.

    Arguments go to pytest in both passes; without a test path the PostgreSQL pass takes tests/integration and
    tests/e2e. It fails when either pass fails. A stack this command started is stopped again afterwards; one
    that was already running is left as it was.
    """
    from qcp.stack import StackConfig, down, status, up

    config = StackConfig()
    was_running = all(item.healthy for item in status(config))
    started = time.monotonic()
    up(config)
    click.echo(f"stack ready in {time.monotonic() - started:.0f}s; running the tests")
    root = Path(__file__).resolve().parent.parent
    chosen = list(TEST_PASSES) if event_stores == "both" else [event_stores]
    # a test path among the arguments (not an option's value such as `-p no:cacheprovider`) replaces the defaults
    has_paths = any((root / argument.split("::")[0]).exists() for argument in pytest_args if not argument.startswith("-"))
    outcomes: list[tuple[str, int, float]] = []
    try:
        for number, store in enumerate(chosen, start=1):
            label, default_paths = TEST_PASSES[store]
            if number > 1 and not was_running:
                # the pass before created thousands of partitions; the next starts with an empty broker of the
                # stack this command started, so its broker restarts load only their own partitions
                down(config, ["kafka"])
                shutil.rmtree(config.state_dir / "kafka", ignore_errors=True)
                up(config, ["kafka"])
            arguments = [*pytest_args, *(() if has_paths else default_paths)]
            click.echo(f"=== pass {number}/{len(chosen)}: {label} event stores: pytest {' '.join(arguments)}".rstrip())
            began = time.monotonic()
            result = subprocess.run(  # noqa: S603
                [sys.executable, "-m", "pytest", *arguments], cwd=root, check=False,
                env={**os.environ, "QCP_TEST_EVENT_STORE": store},
            )
            outcomes.append((label, result.returncode, time.monotonic() - began))
    finally:
        if not was_running:
            down(config)
    for label, code, seconds in outcomes:
        click.echo(f"{label} event stores: {'passed' if code == 0 else f'FAILED (exit {code})'} in {seconds / 60:.1f} min")
    sys.exit(next((code for _, code, _ in outcomes if code != 0), 0))


from qcp.stats_cli import bench_stats_rebuild, stats  # noqa: E402 - stats' commands, kept in their own module

cli.add_command(stats)
bench.add_command(bench_stats_rebuild)

from qcp.bench_cli import bench_visibility, bench_write_path  # noqa: E402 - the newer benchmarks' commands, in their own module

bench.add_command(bench_write_path)
bench.add_command(bench_visibility)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
