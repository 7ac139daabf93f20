"""Helpers for tests on the real local stack: isolated settings, reading topics, waiting for projections."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from infra.auth import TokenService
from infra.settings import DEVELOPMENT_JWT_SECRET, ServiceSettings
from qcp.stack import StackConfig, create_database

# The suite runs twice: on SQLite event stores, then the integration and e2e tests again on
# PostgreSQL ones (`qcp test` sets this for its second pass), the store deployments run.
TEST_EVENT_STORE = os.environ.get("QCP_TEST_EVENT_STORE", "sqlite")
if TEST_EVENT_STORE not in ("sqlite", "postgres"):
    raise ValueError(f"QCP_TEST_EVENT_STORE must be sqlite or postgres, not {TEST_EVENT_STORE!r}")

WRITE_AND_STATS_SERVICES = ("registration", "submission", "review", "stats")

# Every database the tests created, so that the session can drop them when it ends.
created_databases: set[str] = set()


def isolated_settings(config: StackConfig, service: str, root: Path, namespace: str, **overrides: Any) -> ServiceSettings:
    """Settings for one service on the real stack, with its own topics, groups, databases and event store.

    The event store is the run's (QCP_TEST_EVENT_STORE); on PostgreSQL every service of the namespace
    gets a fresh database, so that a platform started from these settings finds its four ready.
    """
    prefix = namespace.replace(".", "_")
    defaults: dict[str, Any] = {
        "service": service,
        "kafka_bootstrap": config.kafka_bootstrap,
        "mongo_url": config.mongo_url,
        "mongo_db_prefix": prefix,
        "event_store": TEST_EVENT_STORE,
        "sqlite_dir": root / "eventstores",
        "postgres_port": config.postgres_port,
        "postgres_db_prefix": prefix,
        # The suite holds several platforms' stores open at once, on a server with 200 connections.
        "postgres_pool_size": 1,
        "topic_prefix": namespace,
        "retry_backoff_seconds": 0.5,
        "relay_poll_interval_seconds": 0.1,
        # the suite's platforms are embedded development ones: signed with the development secret (TOKENS)
        "development_mode": True,
    }
    settings = ServiceSettings(**(defaults | overrides))
    if settings.event_store == "postgres":
        for name in WRITE_AND_STATS_SERVICES:
            _create(config, settings.model_copy(update={"service": name}).postgres_database)
    return settings


def on_postgres(config: StackConfig, settings: ServiceSettings) -> ServiceSettings:
    """The same settings with the event store in a fresh database of the stack's PostgreSQL."""
    database = settings.mongo_db_prefix + settings.service
    _create(config, database)
    return settings.model_copy(
        update={"event_store": "postgres", "postgres_port": config.postgres_port, "postgres_db": database}
    )


def _create(config: StackConfig, database: str) -> None:
    create_database(config, database)
    created_databases.add(database)


def drop_created_databases(config: StackConfig) -> None:
    """Drop the event-store databases this test session created, so that runs do not pile them up."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(config.postgres_dsn_for("postgres"), autocommit=True) as connection:
        for database in sorted(created_databases):
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))
    created_databases.clear()


def new_namespace() -> str:
    return f"t{uuid.uuid4().hex[:10]}."


def environment_for(settings: ServiceSettings) -> dict[str, str]:
    """The QCP_* variables that make a service process use these settings."""
    return {
        "QCP_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "QCP_MONGO_URL": settings.mongo_url,
        "QCP_MONGO_DB_PREFIX": settings.mongo_db_prefix,
        "QCP_EVENT_STORE": settings.event_store,
        "QCP_SQLITE_DIR": str(settings.sqlite_dir),
        "QCP_POSTGRES_PORT": str(settings.postgres_port),
        "QCP_POSTGRES_DB_PREFIX": settings.postgres_db_prefix,
        "QCP_POSTGRES_POOL_SIZE": str(settings.postgres_pool_size),
        "QCP_TOPIC_PREFIX": settings.topic_prefix,
        "QCP_RETRY_BACKOFF_SECONDS": str(settings.retry_backoff_seconds),
        "QCP_RELAY_POLL_INTERVAL_SECONDS": str(settings.relay_poll_interval_seconds),
        "QCP_DEVELOPMENT_MODE": str(settings.development_mode).lower(),
    }


async def read_topic(bootstrap: str, topic: str, *, expect: int, timeout: float = 30.0) -> list[Any]:
    """Every record of a topic from the beginning, once at least `expect` have arrived (or the timeout)."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    records: list[Any] = []
    try:
        deadline = time.monotonic() + timeout
        while len(records) < expect and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for items in batch.values():
                records.extend(items)
    finally:
        await consumer.stop()
    return records


async def group_caught_up(bootstrap: str, group: str, topic: str) -> bool:
    """Whether the consumer group has committed every partition of the topic up to its end."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await admin.start()
    await consumer.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
        (description,) = await admin.describe_topics([topic])
        partitions = [TopicPartition(topic, item["partition"]) for item in description["partitions"]]
        ends = await consumer.end_offsets(partitions)
        return bool(partitions) and all(
            (committed.get(tp).offset if committed.get(tp) else 0) >= ends[tp] for tp in partitions
        )
    finally:
        await consumer.stop()
        await admin.close()


# The last segment of a command's path says what it does: these create something (201); every other command
# changes what exists (200). The test helpers assert exactly the one their route answers.
CREATING_COMMANDS = frozenset({
    "seasons", "registrations", "recommenders", "judges", "recommendation", "direct-acceptance", "notice", "scores",
    "national-recommendation",
})


def command_status(path: str) -> int:
    """The status a successful command on `path` answers: 201 where it creates, 200 where it changes."""
    return 201 if path.rstrip("/").rsplit("/", 1)[-1] in CREATING_COMMANDS else 200


async def eventually(check: Callable[[], Awaitable[Any]], *, timeout: float = 60.0, interval: float = 0.3) -> Any:
    """Poll until the check returns something truthy; the last answer is in the error otherwise."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"not reached within {timeout:.0f}s; last answer: {last!r}")


# The suite's tokens: signed with the development secret the embedded stack runs with.
TOKENS = TokenService(DEVELOPMENT_JWT_SECRET, "qc-platform")
# A recommending unit's and a judge's ids are chosen per organizer: their tokens name it; the suite's
# usual province is Shanghai's association.
DEFAULT_ORGANIZER = "310000"


def bearer(role: str, org: str, subject: str = "someone", *, organizer: str | None = None,
           season: str | None = None) -> dict[str, str]:
    """An Authorization header for a token of this role and organization."""
    if organizer is None and role in ("recommender", "judge"):
        organizer = DEFAULT_ORGANIZER
    return {"Authorization": f"Bearer {TOKENS.mint(subject, role, org, organizer=organizer, season=season)}"}
