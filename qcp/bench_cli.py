"""`qcp bench …` for the write path and the visibility of commands: each writes one JSON report."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

REPORTS = click.Path(file_okay=False, path_type=Path)


@click.command("write-path")
@click.option("--commands", type=int, default=2_000, show_default=True, help="registrations per target, closed loop")
@click.option("--concurrency", type=int, default=16, show_default=True, help="requests in flight (closed loop)")
@click.option("--rate", type=float, default=50.0, show_default=True, help="commands/s of the latency phase")
@click.option("--latency-seconds", type=float, default=20.0, show_default=True, help="length of the latency phase")
@click.option("--rounds", type=int, default=4, show_default=True,
              help="alternating turns per phase (API, plain, API, ...), so a changing load weighs on both alike")
@click.option("--output", type=REPORTS, default=Path("reports"), show_default=True)
def bench_write_path(commands: int, concurrency: int, rate: float, latency_seconds: float, rounds: int,
                     output: Path) -> None:
    """Registrations through registration's API (PostgreSQL event store) against a plain FastAPI + INSERT app."""
    from benchmarks.write_path import run_write_path_benchmark

    path = asyncio.run(run_write_path_benchmark(commands=commands, concurrency=concurrency, rate=rate,
                                                latency_seconds=latency_seconds, output_dir=output, echo=click.echo,
                                                rounds=rounds))
    click.echo(f"report: {path}")


def parse_mix(_: click.Context, __: click.Parameter, value: str) -> dict[str, float]:
    """`registration=3,entry=3,recommendation=2,score=2`: each kind's share (any positive numbers, normalised)."""
    from benchmarks.visibility import KINDS

    mix: dict[str, float] = {}
    for part in filter(None, (item.strip() for item in value.split(","))):
        kind, _, share = part.partition("=")
        try:
            mix[kind.strip()] = float(share)
        except ValueError:
            raise click.BadParameter(f"{part!r} is not kind=share") from None
    if set(mix) - set(KINDS) or not any(share > 0 for share in mix.values()) or min(mix.values()) < 0:
        raise click.BadParameter(f"shares (not negative, one above 0) of {', '.join(KINDS)}, e.g. registration=3,entry=3")
    return mix


@click.command("visibility")
@click.option("--duration", type=float, default=120.0, show_default=True, help="seconds of load")
@click.option("--rate", type=float, default=50.0, show_default=True, help="commands/s, open loop")
@click.option("--mix", default="registration=0.3,entry=0.3,recommendation=0.2,score=0.2", show_default=True,
              callback=parse_mix, help="the kinds of commands and their shares of the rate")
@click.option("--poll-interval", type=float, default=0.1, show_default=True,
              help="seconds between readings of the read models' counts")
@click.option("--partitions", type=int, default=3, show_default=True, help="partitions of the namespace's topics")
@click.option("--output", type=REPORTS, default=Path("reports"), show_default=True)
def bench_visibility(duration: float, rate: float, mix: dict[str, float], poll_interval: float, partitions: int,
                     output: Path) -> None:
    """Commands under steady load (registrations, entries, recommendations and scores): answer → Kafka → each read
    model → stats' report, p50/p95/p99."""
    from benchmarks.visibility import run_visibility_benchmark

    path = asyncio.run(run_visibility_benchmark(duration=duration, rate=rate, mix=mix,
                                                poll_interval=poll_interval, partitions=partitions, output_dir=output,
                                                echo=click.echo))
    click.echo(f"report: {path}")
