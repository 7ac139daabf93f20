"""Prometheus metrics every service exposes on /metrics."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "ServiceMetrics"]


@dataclass
class ServiceMetrics:
    """One registry per process, so tests can build as many services as they like."""

    service: str
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        labels = {"registry": self.registry}
        self.request_latency = Histogram(
            "qcp_http_request_duration_seconds",
            "HTTP request latency by route and status",
            ["service", "method", "route", "status"],
            **labels,
        )
        self.events_relayed = Counter(
            "qcp_events_relayed_total", "Stored events published to Kafka", ["service", "topic"], **labels
        )
        self.relay_lag = Gauge(
            "qcp_relay_lag_events", "Stored events not yet published to Kafka", ["service"], **labels
        )
        self.relay_position = Gauge(
            "qcp_relay_position", "Last notification id acknowledged by Kafka", ["service"], **labels
        )
        self.relay_stalled = Gauge(
            "qcp_relay_stalled_seconds",
            "Seconds the relay has published nothing while stored events wait (0 while it keeps up)",
            ["service"],
            **labels,
        )
        self.relay_producer_replacements = Counter(
            "qcp_relay_producer_replacements_total",
            "Kafka producers the relay gave up and replaced (failed for good, or again and again)",
            ["service"],
            **labels,
        )
        self.relay_wakes = Counter(
            "qcp_relay_wakes_total",
            "Times the relay read the event store, by why (notify, poll, listen, backlog, retry, standby, start)",
            ["service", "reason"],
            **labels,
        )
        self.relay_leader = Gauge(
            "qcp_relay_leader", "1 where this worker holds the relay lease and publishes", ["service"], **labels
        )
        self.consumer_lag = Gauge(
            "qcp_consumer_lag_messages",
            "Messages behind the partition's high watermark",
            ["service", "topic", "partition"],
            **labels,
        )
        self.projection_lag = Gauge(
            "qcp_projection_lag_seconds",
            "Seconds between an event being recorded and this projection applying it",
            ["service", "topic"],
            **labels,
        )
        self.events_applied = Counter(
            "qcp_projection_events_total",
            "Events handled by projections, by outcome (applied, duplicate)",
            ["service", "topic", "outcome"],
            **labels,
        )
        self.process_events = Counter(
            "qcp_process_events_total",
            "Events handled by process managers, by outcome (applied, duplicate)",
            ["service", "process", "topic", "outcome"],
            **labels,
        )
        self.process_lag = Gauge(
            "qcp_process_lag_seconds",
            "Seconds between an event being recorded and a process manager handling it",
            ["service", "process", "topic"],
            **labels,
        )
        self.process_consumer_lag = Gauge(
            "qcp_process_consumer_lag_messages",
            "Messages behind the partition's high watermark, for a process manager's consumer group",
            ["service", "process", "topic", "partition"],
            **labels,
        )
        self.dead_letters = Counter(
            "qcp_dead_letters_total",
            "Messages sent to the dead-letter topic",
            ["service", "topic", "reason"],
            **labels,
        )
        self.feed_batches = Counter(
            "qcp_feed_batches_total",
            "Provincial feed batches answered with a report (repeated: the batch id was posted before)",
            ["service", "province", "repeated"],
            **labels,
        )
        self.feed_records = Counter(
            "qcp_feed_records_total",
            "Records of feed batches posted for the first time, by outcome: in = accepted + duplicates + quarantined",
            ["service", "province", "record_type", "outcome"],
            **labels,
        )
        self.rebuild_running = Gauge(
            "qcp_stats_rebuild_running", "1 while a stats rebuild runs in this worker", ["service"], **labels
        )
        self.rebuild_events_read = Gauge(
            "qcp_stats_rebuild_events_read", "Events the running (or last) stats rebuild has read", ["service"], **labels
        )
        self.rebuild_events_total = Gauge(
            "qcp_stats_rebuild_events_total_to_read",
            "Events the running (or last) stats rebuild reads in all (the topics' ends when it began)",
            ["service"],
            **labels,
        )
        self.rebuilds_finished = Counter(
            "qcp_stats_rebuilds_total",
            "Stats rebuilds finished, by status (switched, switched_with_differences, differs, failed)",
            ["service", "status"],
            **labels,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
