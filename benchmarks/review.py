"""Review throughput with 1, 2, 4 … workers on a backlog of judges' scores; a JSON report, never a pass/fail test.

For each worker count, in a namespace of its own (topics, consumer groups, MongoDB database,
PostgreSQL event store):
1. a season and its judges go to registration.events; `events / k` entries are assigned k judges
   each in the read model (the judges' queues the scores land in);
2. the backlog: `events` ScoreRecorded envelopes on review.events, produced before any worker runs;
3. N review workers start (`qcp serve worker --service review`, as separate processes);
4. the clock stops when every consumer group of review (its projection and its process managers)
   has committed every partition of review.events up to its end;
5. events per second, and the lag of each score from `recorded_at` to the moment the worker applied
   it to the judge's queue (`_applied_at` in `judge_queue`), p50/p95/max.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from benchmarks.measure import Report, messages_on, peak_rss_mib, percentile
from benchmarks.review_backlog import JudgeSpec, judges_assigned, produce, score_recorded, shanghai_season
from contracts import parse_payload
from infra.kafka import EVENT_TOPICS, ensure_topics
from infra.mongo import build_client
from infra.settings import ServiceSettings
from qcp.stack import StackConfig, create_database
from services.review.assignment.read_model import AssignmentReadModel
from services.review.bootstrap import definition

SEASON = "310000-2024-qc_group"
STAGE = "material_review"


class Run:
    """One worker count in a namespace of its own."""

    def __init__(self, config: StackConfig, workers: int, events: int, judges_per_entry: int, partitions: int,
                 log_dir: Path) -> None:
        self.config = config
        self.workers = workers
        self.events = events
        self.k = judges_per_entry
        self.partitions = partitions
        self.log_dir = log_dir
        self.settings = namespace_settings(config, "review", topic_partitions=partitions)
        # the groups that consume review.events: the projection and the process managers that read it
        processes = [process for process in definition().processes if "review.events" in process.consumes]
        self.groups = [self.settings.consumer_group] + [process.group(self.settings) for process in processes]
        self.dead_letter_topics = [self.settings.dead_letter_topic] + [
            process.dead_letter_topic(self.settings) for process in definition().processes
        ]
        self.review_topic = self.settings.topic("review.events")

    def environment(self) -> dict[str, str]:
        s = self.settings
        return {
            "QCP_KAFKA_BOOTSTRAP": s.kafka_bootstrap, "QCP_MONGO_URL": s.mongo_url,
            "QCP_MONGO_DB_PREFIX": s.mongo_db_prefix, "QCP_EVENT_STORE": "postgres",
            "QCP_POSTGRES_PORT": str(s.postgres_port), "QCP_POSTGRES_DB": str(s.postgres_db),
            "QCP_TOPIC_PREFIX": s.topic_prefix, "QCP_TOPIC_PARTITIONS": str(s.topic_partitions),
            "QCP_ASSIGNMENT_JUDGES_PER_ENTRY": json.dumps({STAGE: self.k}), "QCP_LOG_LEVEL": "WARNING",
            "QCP_DEVELOPMENT_MODE": "true",
        }

    async def prepare(self) -> None:
        create_database(self.config, str(self.settings.postgres_db))
        topics = [self.settings.topic(name) for name in EVENT_TOPICS]
        await ensure_topics(self.settings, topics)
        season = shanghai_season(SEASON, units=100, recommenders=5)
        season.judges = [JudgeSpec(f"j{index:02d}", f"上海市质量评审中心第{index}分中心") for index in range(30)]
        await produce(self.settings.kafka_bootstrap, self.settings.topic("registration.events"),
                      season.registration_events())
        entries = self.events // self.k
        judge_ids = [spec.judge_id for spec in season.judges]
        assignments = {
            f"e{index:05d}": [judge_ids[(index * self.k + offset) % len(judge_ids)] for offset in range(self.k)]
            for index in range(entries)
        }
        mongo = build_client(self.settings)
        read_model = AssignmentReadModel(mongo[self.settings.database_name])
        await read_model.create_indexes()
        semaphore = asyncio.Semaphore(4)

        async def assign(entry_id: str, judges: list[str]) -> None:
            item = judges_assigned(SEASON, entry_id, judges)
            async with semaphore:
                await read_model.apply(item, parse_payload(item.type, item.schema_version, item.payload))

        await asyncio.gather(*(assign(entry_id, judges) for entry_id, judges in assignments.items()))
        await mongo.close()
        scores = [
            score_recorded(SEASON, entry_id, judge, index)
            for index, (entry_id, judges) in enumerate(assignments.items())
            for judge in judges
        ]
        await produce(self.settings.kafka_bootstrap, self.review_topic, scores)

    async def measure(self) -> dict[str, Any]:
        env = os.environ | self.environment()
        started = time.monotonic()
        started_at = datetime.now(UTC)
        processes = [
            subprocess.Popen(  # noqa: S603 - our own CLI
                [sys.executable, "-m", "qcp.cli", "serve", "worker", "--service", "review"],
                env=env, stdout=(self.log_dir / f"worker-{self.workers}-{index}.log").open("ab"),
                stderr=subprocess.STDOUT, start_new_session=True,
            )
            for index in range(self.workers)
        ]
        drained: dict[str, float] = {}
        self.peaks: dict[str, float | None] = {}
        try:
            while len(drained) < len(self.groups):
                for group in self.groups:
                    if group not in drained and await self._caught_up(group):
                        drained[group] = round(time.monotonic() - started, 2)
                if time.monotonic() - started > 900:
                    raise TimeoutError(f"not drained after 900 s: {drained}")
                for process in processes:
                    if process.poll() is not None:
                        raise RuntimeError(f"a worker exited with {process.returncode}; see {self.log_dir}")
                await asyncio.sleep(0.25)
        finally:
            # read before they stop: a process' peak resident set goes with it
            self.peaks = {f"review worker {index + 1} of {self.workers}": peak_rss_mib(process.pid)
                          for index, process in enumerate(processes)}
            for process in processes:
                if process.poll() is None:
                    os.killpg(process.pid, signal.SIGTERM)
            for process in processes:
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
        seconds = max(drained.values())
        result = {"started_at": started_at.isoformat(), "drained_seconds_by_group": drained, "seconds": seconds,
                  **await self._lags(seconds, started_at)}
        await self._check_everything_applied(result)
        result["events_per_second_per_worker"] = round(result["events_per_second"] / self.workers, 1)
        return result

    async def _check_everything_applied(self, result: dict[str, Any]) -> None:
        """Fail loudly unless every score is in the projection and in a judge's queue and no dead letter was written."""
        mongo = build_client(self.settings)
        try:
            database = mongo[self.settings.database_name]
            projected = await database["scores"].count_documents({})
        finally:
            await mongo.close()
        dead = await messages_on(self.settings.kafka_bootstrap, list(self.dead_letter_topics))
        result["checked"] = {"scores_projected": projected, "scores_in_queues": result["scores_applied"],
                             "dead_letters": dead}
        problems = []
        if projected != self.events:
            problems.append(f"{projected} of {self.events} scores in review's projection")
        if result["scores_applied"] != self.events:
            problems.append(f"{result['scores_applied']} of {self.events} scores in the judges' queues")
        if any(dead.values()):
            problems.append(f"dead letters: {dead}")
        if problems:
            raise RuntimeError("the workers did not apply the whole backlog: " + "; ".join(problems))

    async def raw_consume(self) -> dict[str, Any]:
        """The same topic read by a bare aiokafka consumer (no group, all partitions, counting only): the ceiling."""
        partitions = [TopicPartition(self.review_topic, index) for index in range(self.partitions)]
        reader = AIOKafkaConsumer(bootstrap_servers=self.settings.kafka_bootstrap, group_id=None,
                                  enable_auto_commit=False, auto_offset_reset="earliest", max_poll_records=500)
        await reader.start()
        try:
            reader.assign(partitions)
            await reader.seek_to_beginning(*partitions)
            started, count = time.monotonic(), 0
            while count < self.events:
                batch = await reader.getmany(timeout_ms=1000, max_records=500)
                count += sum(len(items) for items in batch.values())
                if time.monotonic() - started > 300:
                    raise TimeoutError(f"raw consume read {count} of {self.events} in 300 s")
            seconds = time.monotonic() - started
        finally:
            await reader.stop()
        return {"events": count, "seconds": round(seconds, 3), "events_per_second": round(count / seconds, 1)}

    async def _lags(self, seconds: float, started_at: datetime) -> dict[str, Any]:
        mongo = build_client(self.settings)
        try:
            queue = mongo[self.settings.database_name]["judge_queue"]
            rows = [doc async for doc in queue.find({"status": "scored"}, {"_applied_at": 1, "scored_at": 1})]
        finally:
            await mongo.close()
        lags = [(row["_applied_at"] - row["scored_at"]).total_seconds() for row in rows]
        applied = sorted(row["_applied_at"] for row in rows)
        window = (applied[-1] - applied[0]).total_seconds() if len(applied) > 1 else None
        return {
            "scores_applied": len(rows),
            "events_per_second": round(self.events / seconds, 1),
            "events_per_second_while_applying": round(len(rows) / window, 1) if window else None,
            "first_applied_after_seconds": round((applied[0] - started_at).total_seconds(), 2) if rows else None,
            "lag_seconds": {"p50": percentile(lags, 0.50), "p95": percentile(lags, 0.95), "max": percentile(lags, 1.0)},
        }

    async def _caught_up(self, group: str) -> bool:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.settings.kafka_bootstrap)
        consumer = AIOKafkaConsumer(bootstrap_servers=self.settings.kafka_bootstrap, group_id=None)
        await admin.start()
        await consumer.start()
        try:
            committed = await admin.list_consumer_group_offsets(group)
            partitions = [TopicPartition(self.review_topic, index) for index in range(self.partitions)]
            ends = await consumer.end_offsets(partitions)
            return all((committed[tp].offset if tp in committed else 0) >= ends[tp] for tp in partitions)
        finally:
            await consumer.stop()
            await admin.close()

    async def clean_up(self) -> None:
        await remove_namespace(self.config, self.settings)


def namespace_settings(config: StackConfig, service: str, namespace: str | None = None, **overrides: Any
                       ) -> ServiceSettings:
    """A service's settings in a namespace of the stack (a fresh one unless given): topics, MongoDB database,
    PostgreSQL event store; in development mode, since a benchmark runs on the local stack with the development
    signing secret. The services of one namespace share its topics."""
    namespace = namespace or f"b{uuid.uuid4().hex[:10]}."
    return ServiceSettings(
        service=service, development_mode=True, kafka_bootstrap=config.kafka_bootstrap, mongo_url=config.mongo_url,
        mongo_db_prefix=namespace.replace(".", "_"), event_store="postgres", postgres_port=config.postgres_port,
        postgres_db=f"{namespace.replace('.', '_')}{service}", topic_prefix=namespace, **overrides,
    )


async def remove_namespace(config: StackConfig, settings: ServiceSettings) -> None:
    """Drop what a benchmark run made: its MongoDB database, its topics and its PostgreSQL event store."""
    mongo = build_client(settings)
    try:
        await mongo.drop_database(settings.database_name)
    finally:
        await mongo.close()
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        mine = [name for name in await admin.list_topics() if name.startswith(settings.topic_prefix)]
        if mine:
            await admin.delete_topics(mine)
    finally:
        await admin.close()
    with psycopg.connect(config.postgres_dsn_for("postgres"), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{settings.postgres_db}" WITH (FORCE)')


async def run_review_benchmark(
    *, workers: list[int], events: int, judges_per_entry: int, partitions: int, output_dir: Path,
    config: StackConfig | None = None, echo: Any = print,
) -> Path:
    config = config or StackConfig()
    report = Report("review", {
        "events": events, "event_type": "ScoreRecorded", "judges_per_entry": judges_per_entry,
        "entries": events // judges_per_entry, "partitions": partitions, "topic": "review.events",
        "consumer_groups": ["review (projection)", "review.assignment (judges' queues)"],
        "checked": "every score in review's projection and in a judge's queue, every dead-letter topic empty",
        "raw_consume": "the same topic by a bare aiokafka consumer (no group, all partitions), in the same run",
        "event_store": "postgres",
        "clock": "from starting the workers until every review consumer group committed the end of review.events",
        "lag": "recorded_at (produced just before the workers start) → applied to judge_queue; includes the backlog's wait",
    })
    runs = []
    with tempfile.TemporaryDirectory(prefix="qcp-bench-") as logs:
        for count in workers:
            run = Run(config, count, events, judges_per_entry, partitions, Path(logs))
            echo(f"{count} worker(s): preparing {events} scores in {run.settings.topic_prefix}")
            await run.prepare()
            try:
                raw = await run.raw_consume()
                echo(f"{count} worker(s): raw aiokafka consume {raw['events_per_second']} events/s; measuring")
                result = await run.measure()
            finally:
                await run.clean_up()
            for name, peak in getattr(run, "peaks", {}).items():
                report.process(name, peak, "review-worker")
            for check, item in result["checked"].items():
                if check == "dead_letters":
                    report.check(f"{count} worker(s): dead letters", 0, sum(item.values()))
                else:
                    report.check(f"{count} worker(s): {check}", events, item)
            result["raw_consume"] = raw
            result["ratio_to_raw"] = round(result["events_per_second"] / raw["events_per_second"], 4)
            runs.append({"workers": count} | result)
            echo(f"{count} worker(s): {result['events_per_second']} events/s "
                 f"({result['events_per_second_per_worker']} per worker), lag p50 {result['lag_seconds']['p50']} s")
    report.own_process()
    return report.write(output_dir, {"runs": runs})
