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
@click.option("--output", type=REPORTS, default=Path("reports"), show_default=True)
def bench_write_path(commands: int, concurrency: int, rate: float, latency_seconds: float, output: Path) -> None:
    """Registrations through registration's API (PostgreSQL event store) against a plain FastAPI + INSERT app."""
    from benchmarks.write_path import run_write_path_benchmark

    path = asyncio.run(run_write_path_benchmark(commands=commands, concurrency=concurrency, rate=rate,
                                                latency_seconds=latency_seconds, output_dir=output, echo=click.echo))
    click.echo(f"report: {path}")
