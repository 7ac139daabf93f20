"""qcp status' cells, read from a worker's /ready and /metrics answers; the feed and rebuild metrics."""

from __future__ import annotations

import httpx

from infra.feeds.routes import count_batch
from infra.metrics import ServiceMetrics
from qcp.status import NOT_RUNNING, ServiceStatus, consumer_lag_cell, readiness_cell, relay_lag_cell, table
from services.stats.rebuild import Rebuilder


def answer(status: int, body: dict) -> httpx.Response:
    return httpx.Response(status, json=body)


def test_readiness_names_the_failing_check() -> None:
    cell, _ = readiness_cell(answer(503, {"ready": False, "checks": {"kafka": "ok", "mongodb": "ServerSelectionTimeout"}}))
    assert cell == "NOT READY: mongodb: ServerSelectionTimeout"


def test_readiness_of_a_ready_but_degraded_worker() -> None:
    assert readiness_cell(answer(200, {"ready": True, "checks": {"kafka": "ok"}, "degraded": True}))[0] == "ready, degraded"


def test_readiness_of_a_process_that_does_not_answer() -> None:
    assert readiness_cell(None) == (NOT_RUNNING, {})


def test_consumer_lag_per_group_with_a_stall() -> None:
    body = {"consumer_lag": {"groups": {"review.assignment": {"messages_behind": 3, "stalled_seconds": 40.2},
                                        "review": {"messages_behind": 0, "stalled_seconds": 0}}}}
    assert consumer_lag_cell(body) == "review 0, review.assignment 3 (stalled 40 s)"


def test_relay_lag_from_the_workers_metrics() -> None:
    metrics = ServiceMetrics("registration")
    metrics.relay_lag.labels("registration").set(12)
    metrics.relay_stalled.labels("registration").set(0)
    metrics.relay_leader.labels("registration").set(1)
    assert relay_lag_cell(metrics.render().decode(), "registration") == "12"


def test_relay_lag_of_a_stalled_relay_and_of_a_service_without_one() -> None:
    metrics = ServiceMetrics("review")
    metrics.relay_lag.labels("review").set(5)
    metrics.relay_stalled.labels("review").set(130)
    assert relay_lag_cell(metrics.render().decode(), "review") == "5 (stalled 130 s)"
    assert relay_lag_cell(ServiceMetrics("stats").render().decode(), "stats") == "-"


def test_the_table_lines_up() -> None:
    lines = table([ServiceStatus("registration", api="ready", worker=NOT_RUNNING), ServiceStatus("stats")]).splitlines()
    assert lines[0].split()[:3] == ["service", "api", "worker"]
    assert lines[1].index(NOT_RUNNING) == lines[0].index("worker")


def test_a_first_batch_counts_its_records_by_outcome_a_repeated_one_only_itself() -> None:
    metrics = ServiceMetrics("registration")
    report = {"by_type": {"registration": {"in": 5, "accepted": 3, "amendments": 1, "duplicates": 1, "stale": 0,
                                           "quarantined": 1}}, "repeated": False}
    count_batch(metrics, "registration", "310000", report)
    count_batch(metrics, "registration", "310000", report | {"repeated": True})
    sample = metrics.registry.get_sample_value
    labels = {"service": "registration", "province": "310000", "record_type": "registration"}
    assert [sample("qcp_feed_records_total", labels | {"outcome": outcome})
            for outcome in ("in", "accepted", "duplicates", "quarantined")] == [5, 3, 1, 1]
    assert [sample("qcp_feed_batches_total", {"service": "registration", "province": "310000", "repeated": flag})
            for flag in ("false", "true")] == [1, 1]


def test_a_rebuilds_progress_and_outcome_as_metrics() -> None:
    rebuilder = Rebuilder(store=None, settings=None)  # type: ignore[arg-type] - only its metrics are used
    rebuilder.metrics = ServiceMetrics("stats")
    sample = rebuilder.metrics.registry.get_sample_value
    rebuilder._observe({"status": "running", "phase": "reading dead letters"})
    rebuilder._observe({"phase": "reading", "events_total": 200, "events_read": 50})
    assert [sample(name, {"service": "stats"}) for name in (
        "qcp_stats_rebuild_running", "qcp_stats_rebuild_events_read", "qcp_stats_rebuild_events_total_to_read")] \
        == [1, 50, 200]
    rebuilder._observe({"status": "switched", "phase": "done"})
    assert sample("qcp_stats_rebuild_running", {"service": "stats"}) == 0
    assert sample("qcp_stats_rebuilds_total", {"service": "stats", "status": "switched"}) == 1
