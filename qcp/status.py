"""qcp status: per service, API and worker readiness, relay and consumer lag, dead letters, stats' generation.

Every column is measured on its own, so one thing away (a process, Kafka, MongoDB) shows as such in its
cells and the rest of the table is still filled in.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from aiokafka.errors import KafkaError
from prometheus_client.parser import text_string_to_metric_families

from infra.settings import ServiceSettings
from qcp.dlq import DeadLetterTopicUnknown, dead_letter_topics, read_dead_letters

TIMEOUT = 3.0
NOT_RUNNING = "not running"
COLUMNS = ("service", "api", "worker", "relay lag", "consumer lag", "dead letters", "stats generation")


@dataclass
class ServiceStatus:
    """One row of the table: each cell a short text an on-call person reads at a glance."""

    service: str
    api: str = "?"
    worker: str = "?"
    relay_lag: str = "-"
    consumer_lag: str = "?"
    dead_letters: str = "?"
    generation: str = "-"
    problems: list[str] = field(default_factory=list)

    def cells(self) -> list[str]:
        return [self.service, self.api, self.worker, self.relay_lag, self.consumer_lag, self.dead_letters,
                self.generation]


def readiness_cell(answer: httpx.Response | None) -> tuple[str, dict[str, Any]]:
    """'ready', 'ready, degraded', 'NOT READY: <checks>' or 'not running', and the /ready body."""
    if answer is None:
        return NOT_RUNNING, {}
    try:
        body = answer.json()
    except ValueError:
        return f"answers {answer.status_code}", {}
    failing = [f"{name}: {result}" for name, result in body.get("checks", {}).items() if result != "ok"]
    if answer.status_code != 200 or not body.get("ready"):
        return "NOT READY: " + "; ".join(failing or [str(answer.status_code)]), body
    return ("ready, degraded" if body.get("degraded") else "ready"), body


def consumer_lag_cell(ready_body: dict[str, Any]) -> str:
    """Messages behind per consumer group, from the worker's /ready."""
    groups = (ready_body.get("consumer_lag") or {}).get("groups")
    if groups is None:
        return "?"
    parts = []
    for group, lag in sorted(groups.items()):
        stalled = lag.get("stalled_seconds") or 0
        parts.append(f"{group} {lag.get('messages_behind', '?')}" + (f" (stalled {stalled:.0f} s)" if stalled else ""))
    return ", ".join(parts) or "no groups"


def relay_lag_cell(metrics_text: str | None, service: str) -> str:
    """Stored events waiting for Kafka, from the worker's /metrics; '-' for a service without a relay."""
    if metrics_text is None:
        return "?"
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if sample.name in ("qcp_relay_lag_events", "qcp_relay_stalled_seconds", "qcp_relay_leader") \
                    and sample.labels.get("service") == service:
                values[sample.name] = sample.value
    if "qcp_relay_lag_events" not in values:
        return "-"
    text = f"{values['qcp_relay_lag_events']:.0f}"
    if values.get("qcp_relay_stalled_seconds"):
        text += f" (stalled {values['qcp_relay_stalled_seconds']:.0f} s)"
    if values.get("qcp_relay_leader") == 0:
        text += " (not leading)"
    return text


async def _get(client: httpx.AsyncClient, url: str) -> httpx.Response | None:
    try:
        return await client.get(url, timeout=TIMEOUT)
    except httpx.HTTPError:
        return None


async def dead_letters_cell(service: str, settings: ServiceSettings) -> str:
    """Dead letters waiting for a replay, per dead-letter topic that has any; '0' when none (a topic not created
    yet, before the service's worker first started, has none)."""
    counts, missing = {}, 0
    try:
        for topic in dead_letter_topics(service, settings):
            try:
                counts[topic] = len((await read_dead_letters(settings, topic, timeout=10)).waiting)
            except DeadLetterTopicUnknown:
                missing += 1
    except (KafkaError, TimeoutError):
        return "? (Kafka not answering)"
    except Exception as error:  # noqa: BLE001 - whatever else: say so in the cell, the table goes on
        return f"? ({type(error).__name__})"
    if not counts and missing:
        return "0 (no topics yet)"
    waiting = {topic: count for topic, count in counts.items() if count}
    return ", ".join(f"{topic} {count}" for topic, count in waiting.items()) if waiting else "0"


async def stats_generation_cell(settings: ServiceSettings) -> str:
    from pymongo import AsyncMongoClient
    from pymongo.errors import PyMongoError

    from services.stats.adapters.store import FIRST_GENERATION, POINTER

    client = AsyncMongoClient(settings.mongo_url, serverSelectionTimeoutMS=3_000, tz_aware=True)
    try:
        pointer = await client[settings.database_name]["generations"].find_one({"_id": POINTER})
    except PyMongoError:
        return "? (MongoDB not answering)"
    finally:
        await client.close()
    if pointer is None:
        return f"{FIRST_GENERATION} (never switched)"
    switched = pointer.get("switched_at")
    return f"{pointer['generation']}" + (f" since {switched:%Y-%m-%d %H:%M}" if switched else "")


async def service_status(service: str, api_url: str, worker_url: str, settings: ServiceSettings) -> ServiceStatus:
    row = ServiceStatus(service)
    async with httpx.AsyncClient() as client:
        api_ready, worker_ready, worker_metrics = await asyncio.gather(
            _get(client, f"{api_url}/ready"), _get(client, f"{worker_url}/ready"), _get(client, f"{worker_url}/metrics"))
    row.api, _ = readiness_cell(api_ready)
    row.worker, body = readiness_cell(worker_ready)
    row.consumer_lag = consumer_lag_cell(body) if worker_ready is not None else NOT_RUNNING
    row.relay_lag = relay_lag_cell(worker_metrics.text if worker_metrics is not None else None, service)
    if worker_metrics is None:
        row.relay_lag = NOT_RUNNING if service != "stats" else "-"
    row.dead_letters = await dead_letters_cell(service, settings)
    if service == "stats":
        row.generation = await stats_generation_cell(settings)
    return row


async def collect(urls: dict[str, tuple[str, str]], settings_for: Callable[[str], ServiceSettings]) -> list[ServiceStatus]:
    """Every service's row, measured at the same time."""
    return list(await asyncio.gather(*(service_status(service, api, worker, settings_for(service))
                                       for service, (api, worker) in urls.items())))


def table(rows: list[ServiceStatus]) -> str:
    """A plain fixed-width table (wide cells wrap onto no further line: they are kept short)."""
    lines = [list(COLUMNS), *(row.cells() for row in rows)]
    widths = [max(len(line[index]) for line in lines) for index in range(len(COLUMNS))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
                     for line in lines)
