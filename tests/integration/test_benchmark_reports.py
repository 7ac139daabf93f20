"""Each benchmark, at a tiny size on the real stack, writes its one report: machine, load, figures, baseline,
peak memory beside the deployment's limit, and its own checks, every one held. Nothing here is timed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks.feed_intake import run_feed_benchmark
from benchmarks.stats_rebuild import run_benchmark as run_stats_rebuild_benchmark
from benchmarks.visibility import run_visibility_benchmark
from benchmarks.write_path import run_write_path_benchmark

# the benchmarks choose their event stores (PostgreSQL) themselves: the PostgreSQL pass need not run them again
pytestmark = pytest.mark.own_event_store


def quiet(_: str) -> None:
    return None


def report_at(path: Path) -> dict[str, Any]:
    report = json.loads(path.read_text(encoding="utf-8"))
    assert {"cpus", "cpu_model", "memory_gib"} <= set(report["machine"])
    assert set(report["load_average"]) == {"start", "end"}
    return report


def held(report: dict[str, Any]) -> bool:
    return bool(report["checks"]) and report["checked"] and all(item["ok"] for item in report["checks"].values())


def limits(report: dict[str, Any]) -> dict[str, str | None]:
    return {item["process"]: item["kubernetes_memory_limit"] for item in report["memory"] if item["peak_rss_mib"]}


async def test_the_write_path_report_compares_the_api_with_a_plain_insert_and_checks_every_command(stack, tmp_path):
    report = report_at(await run_write_path_benchmark(commands=20, concurrency=4, rate=10, latency_seconds=1,
                                                      output_dir=tmp_path, config=stack, echo=quiet))
    assert held(report)
    assert report["ratio"] > 0 and report["api"]["at_rate"]["latency_seconds"]["p99"] is not None
    assert limits(report)["registration API"] == "512Mi"


async def test_the_visibility_report_follows_each_kind_of_command_to_stats_and_times_the_raw_round_trip(stack, tmp_path):
    report = report_at(await run_visibility_benchmark(duration=2, rate=5, poll_interval=0.1, partitions=1,
                                                      output_dir=tmp_path, config=stack, echo=quiet))
    assert held(report)
    assert report["commands"]["by_kind"] == {"registration": 3, "entry": 3, "recommendation": 2, "score": 2}
    assert {"answer", "event on Kafka", "stats: overview: registrations", "stats: overview: entries",
            "review: entries", "stats: overview: recommended", "review: judges' queues, scored",
            "stats: judge workload, scored"} <= set(report["stages_seconds_from_sending"])
    assert set(report["answer_and_kafka_by_kind"]) == {"registration", "entry", "recommendation", "score"}
    assert report["raw_kafka_round_trip_seconds"]["count"] == 10
    assert limits(report)["stats-worker"] == "768Mi"


async def test_the_stats_rebuild_report_times_a_whole_rebuild_to_the_switch(stack, tmp_path):
    report = report_at(await run_stats_rebuild_benchmark(events=1500, partitions=2, processes=[1, 2], namespace=None,
                                                         output_dir=tmp_path, echo=quiet))
    assert held(report)
    assert [item["status"] for item in report["rebuilds"]] == ["switched", "switched"]
    assert {"reading", "comparing"} <= set(report["rebuilds"][0]["seconds_by_phase"])
    assert "stats-worker" in {item["deployment"] for item in report["memory"]}


async def test_the_feed_intake_report_counts_the_events_on_kafka_and_a_plain_bulk_insert(stack, tmp_path):
    report = report_at(await run_feed_benchmark(records=200, relay_batch_size=100, output_dir=tmp_path, config=stack,
                                                echo=quiet))
    assert held(report)
    assert report["plain_bulk_insert"]["rows"] == 200
