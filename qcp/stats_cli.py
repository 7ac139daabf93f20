"""`qcp stats …`: rebuild stats' reports through its API with a progress bar; and the rebuild benchmark."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import click
import httpx

FINISHED = {"switched", "switched_with_differences", "differs", "failed"}


@click.group()
def stats() -> None:
    """Stats' reports: rebuild them from the event log."""


@stats.command("rebuild")
@click.option("--url", default="http://127.0.0.1:8104", show_default=True, help="stats' API")
@click.option("--interval", type=float, default=0.5, show_default=True, help="seconds between progress polls")
@click.option("--timeout", type=float, default=3600, show_default=True, help="give up waiting after this many seconds")
@click.option("--switch-anyway", is_flag=True,
              help="switch to the rebuilt reports even if they differ (after a change of the reducer)")
def rebuild(url: str, interval: float, timeout: float, switch_anyway: bool) -> None:
    """Replay every topic from offset 0 into a fresh generation, compare with the live reports, switch if equal.

    Exits non-zero when the comparison found differences (listed) without switching, or the rebuild failed.
    """
    from qcp.services import local_tokens

    # rebuilds are platform-wide operations: the ops role alone starts and follows them
    token = local_tokens().mint("qcp-cli", "ops", "platform", 3600)
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
        started = client.post("/rebuilds", params={"switch": "always" if switch_anyway else "if_equal"})
        if started.status_code != 202:
            raise click.ClickException(f"the rebuild was not started: {started.status_code} {started.text}")
        rebuild_id = started.json()["rebuild_id"]
        click.echo(f"rebuild {rebuild_id} requested")
        outcome = follow(client, rebuild_id, interval, timeout)
    click.echo(summary(outcome))
    sys.exit(0 if outcome.get("status") in ("switched", "switched_with_differences") else 1)


def follow(client: httpx.Client, rebuild_id: str, interval: float, timeout: float) -> dict[str, Any]:
    """Poll the rebuild, showing events read against the topics' ends, until it is done."""
    deadline = time.monotonic() + timeout
    view: dict[str, Any] = {}
    with click.progressbar(length=1, label="waiting", show_pos=True) as bar:
        while time.monotonic() < deadline:
            answer = client.get(f"/rebuilds/{rebuild_id}")
            answer.raise_for_status()
            view = answer.json()
            total = max(1, int(view.get("events_total") or 1))
            bar.length = total
            bar.label = f"{view.get('phase', '?'):>9} {view.get('events_per_second', 0):>8} events/s"
            bar.update(min(total, int(view.get("events_read") or 0)) - bar.pos)
            if view.get("status") in FINISHED:
                break
            time.sleep(interval)
    return view


def summary(view: dict[str, Any]) -> str:
    lines = [f"status: {view.get('status')} ({view.get('reports_compared', 0)} reports compared, "
             f"{view.get('events_read', 0)} events in {view.get('seconds', '?')} s)"]
    for item in view.get("differences") or []:
        lines.append(f"  {item['report']} {item['path']}: live {item['live']!r}, rebuilt {item['rebuilt']!r}")
    if view.get("error"):
        lines.append(f"  error: {view['error']}")
    return "\n".join(lines)


@click.command("stats-rebuild")
@click.option("--events", type=int, default=1_000_000, show_default=True, help="at least this many envelopes")
@click.option("--partitions", type=int, default=6, show_default=True, help="partitions of each namespaced topic")
@click.option("--processes", default="1,2", show_default=True,
              help="fold process counts to measure, comma-separated (partitions split between them)")
@click.option("--namespace", default=None, help="reuse the topics of an earlier run (kept with --keep)")
@click.option("--keep/--no-keep", default=False, show_default=True, help="keep the topics for another run")
@click.option("--output", type=click.Path(file_okay=False, path_type=Path), default=Path("reports"), show_default=True)
def bench_stats_rebuild(events: int, partitions: int, processes: str, namespace: str | None, keep: bool,
                        output: Path) -> None:
    """Stats' rebuild throughput against the raw aiokafka consume rate of the same topics, and their ratio."""
    import asyncio

    from benchmarks.stats_rebuild import run_benchmark

    counts = [int(item) for item in processes.split(",") if item.strip()]
    path = asyncio.run(run_benchmark(events=events, partitions=partitions, processes=counts, namespace=namespace,
                                     output_dir=output, echo=click.echo, keep=keep))
    click.echo(f"report: {path}")
