"""Feed intake throughput: one province's batch of 50,000 records, end to end until its events are on Kafka.

In a namespace of its own (topics, PostgreSQL event store, MongoDB database):
1. a season is opened at registration, and a batch of `records` valid registration records of that season
   (distinct units, valid credit codes) is generated and gzipped, as a province's platform would send it;
2. the clock starts; registration's API (in-process, httpx ASGI transport) takes the batch through
   `POST /feeds/batches` while the outbox relay (in-process too, as in a worker) publishes what is stored;
3. the clock stops when the relay has recorded the last stored event as published: every resulting
   event (UnitRegistered per record, FeedBatchReported) is on `registration.events`, checked against the
   topic's end offsets.

4. in the same run, the baseline: the same batch gunzipped, parsed and COPied as plain rows into one table of
   the same PostgreSQL.

Reported: records per second end to end and of the baseline, seconds by phase (the HTTP answer: parse,
validate, store; the relay's catch-up after it), events on Kafka, peak memory, the machine and its load.
Checked: every record accepted, one event per record (and the batch's report) on Kafka, every plain row
stored; it fails loudly otherwise.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from psycopg.types.json import Jsonb

from benchmarks.measure import Report
from benchmarks.review import namespace_settings, remove_namespace
from contracts import Actor
from contracts.codes import Channel, Role
from contracts.identity import credit_code_check_character
from contracts.registered import SeasonOpened
from infra.bootstrap import build_api, build_relay, tokens_for
from infra.eventstore import CommandContext
from infra.kafka import ensure_topics
from infra.metrics import ServiceMetrics
from qcp.demo import demo_registration, demo_season
from qcp.stack import StackConfig, create_database
from services.registration.bootstrap import definition

PROVINCE = "310000"
SEASON = "310000-2026-qc_group"


def credit_code(index: int) -> str:
    first_17 = f"91310000MA{index:07d}"
    return first_17 + credit_code_check_character(first_17)


def generated_batch(records: int) -> bytes:
    """`records` registrations of distinct units, shaped like the Shanghai 报名表, gzipped NDJSON."""
    template = demo_registration(0)
    lines = []
    for index in range(records):
        data = template | {
            "credit_code": credit_code(index),
            "unit_name": f"上海第{index + 1}精密制造有限公司",
            "short_name": f"精密{index + 1}",
            "address": f"上海市浦东新区张江路{index % 9000 + 1}号",
        }
        lines.append(json.dumps({
            "record_type": "registration", "province": PROVINCE, "external_id": f"SH-BENCH-U{index:06d}",
            "version": 1, "season": SEASON, "data": data,
        }, ensure_ascii=False))
    return gzip.compress(("\n".join(lines) + "\n").encode("utf-8"), compresslevel=6)


class Run:
    def __init__(self, config: StackConfig, records: int, relay_batch_size: int) -> None:
        self.config = config
        self.records = records
        self.settings = namespace_settings(config, "registration", relay_batch_size=relay_batch_size,
                                           log_level="WARNING")

    async def measure(self, echo: Any) -> dict[str, Any]:
        create_database(self.config, str(self.settings.postgres_db))
        await ensure_topics(self.settings, [self.settings.own_topic])
        api = build_api(definition(), self.settings)
        application = api.state.application
        secretariat = CommandContext(Actor(id="bench", role=Role.ORGANIZER, org=PROVINCE), Channel.ORGANIZER)
        now = datetime(2026, 3, 1, tzinfo=UTC)
        application.open_season(SeasonOpened(season_id=SEASON, **demo_season(2026, now)), secretariat)
        started = time.perf_counter()
        body = generated_batch(self.records)
        generated = time.perf_counter() - started
        echo(f"{self.records} records generated ({len(body) / 1e6:.1f} MB gzipped) in {generated:.1f}s")

        relay = build_relay(self.settings.model_copy(update={"relay_poll_interval_seconds": 0.05}), application,
                            ServiceMetrics("registration"))
        while await relay.publish_pending():  # the season's events are out before the clock starts
            pass
        position_before = await relay.position()
        events_before = await self._events_on_topic()
        stop = asyncio.Event()
        relay_task = asyncio.create_task(relay.run(stop))
        token = tokens_for(self.settings).mint(f"feed-{PROVINCE}", "feed", PROVINCE)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://registration", timeout=3600)
        try:
            echo("posting the batch; the relay publishes meanwhile")
            clock = time.perf_counter()
            answer = await client.post("/feeds/batches", content=body, params={"batch_id": "bench-1"},
                                       headers={"Authorization": f"Bearer {token}", "Content-Encoding": "gzip"})
            answered = time.perf_counter() - clock
            if answer.status_code != 200:
                raise RuntimeError(f"the batch was refused: {answer.status_code} {answer.text[:1000]}")
            report = answer.json()
            target = application.recorder.max_notification_id() or 0
            echo(f"answered in {answered:.1f}s: {report['total']}; waiting for the relay")
            while await relay.position() < target:
                await asyncio.sleep(0.05)
            on_kafka = time.perf_counter() - clock
        finally:
            stop.set()
            await relay_task
            await client.aclose()
        events = await self._events_on_topic() - events_before
        await api.state.mongo.close()
        application.close()
        return {
            "records": self.records,
            "batch_gzip_bytes": len(body),
            "report": report["total"],
            "seconds": {
                "post_answered": round(answered, 3),
                "relay_after_answer": round(on_kafka - answered, 3),
                "end_to_end": round(on_kafka, 3),
            },
            "records_per_second": round(self.records / on_kafka, 1),
            "records_per_second_stored": round(self.records / answered, 1),
            "notifications_stored": target - position_before,
            "events_on_kafka": events,
        }

    async def _events_on_topic(self) -> int:
        """The sum of the topic's end offsets: every event published to it."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.settings.kafka_bootstrap)
        consumer = AIOKafkaConsumer(bootstrap_servers=self.settings.kafka_bootstrap, group_id=None)
        await admin.start()
        await consumer.start()
        try:
            (description,) = await admin.describe_topics([self.settings.own_topic])
            ends = await consumer.end_offsets([TopicPartition(self.settings.own_topic, item["partition"])
                                               for item in description["partitions"]])
            return sum(ends.values())
        finally:
            await consumer.stop()
            await admin.close()


def plain_bulk_insert(dsn: str, body: bytes) -> dict[str, Any]:
    """The baseline: the same batch gunzipped, parsed and its rows COPied into one table of the same PostgreSQL."""
    started = time.perf_counter()
    rows = [json.loads(line) for line in gzip.decompress(body).decode("utf-8").splitlines() if line.strip()]
    with psycopg.connect(dsn) as connection:
        connection.execute("CREATE TABLE IF NOT EXISTS plain_feed_rows (id bigserial PRIMARY KEY, record_type text, "
                           "province text, external_id text, version int, season text, data jsonb)")
        with connection.cursor().copy("COPY plain_feed_rows (record_type, province, external_id, version, season, "
                                      "data) FROM STDIN") as copy:
            for row in rows:
                copy.write_row((row["record_type"], row["province"], row["external_id"], row["version"],
                                row["season"], Jsonb(row["data"])))
        connection.commit()
        seconds = time.perf_counter() - started
        stored = connection.execute("SELECT count(*) FROM plain_feed_rows").fetchone()[0]
    return {"rows": stored, "seconds": round(seconds, 3), "records_per_second": round(len(rows) / seconds, 1)}


async def run_feed_benchmark(
    *, records: int, relay_batch_size: int, output_dir: Path, config: StackConfig | None = None, echo: Any = print
) -> Path:
    report = Report("feed-intake", {
        "records": records, "record_type": "registration", "service": "registration", "event_store": "postgres",
        "chunk_size": 500, "relay_batch_size": relay_batch_size, "api": "in-process (httpx ASGI transport)",
        "clock": "from sending the batch until the relay recorded the last stored event as published on Kafka",
        "baseline": "the same gzipped batch gunzipped, parsed and COPied as rows (jsonb data) into one table of the "
                    "same PostgreSQL, in this process",
        "target_records_per_second": 5000,
    })
    run = Run(config or StackConfig(), records, relay_batch_size)
    echo(f"namespace {run.settings.topic_prefix}, event store on PostgreSQL")
    try:
        result = await run.measure(echo)
        plain = await asyncio.to_thread(plain_bulk_insert, run.config.postgres_dsn_for(str(run.settings.postgres_db)),
                                        generated_batch(records))
    finally:
        await remove_namespace(run.config, run.settings)
    result["ratio_to_plain_bulk_insert"] = round(result["records_per_second"] / plain["records_per_second"], 4)
    echo(f"{result['records_per_second']} records/s end to end ({result['seconds']['end_to_end']} s); plain bulk "
         f"insert {plain['records_per_second']} records/s")
    report.own_process("registration's API and relay (this process, in-process)", "registration-api")
    report.check("records accepted by the batch report", records, result["report"].get("accepted"))
    report.check("events on Kafka (one UnitRegistered per record and the FeedBatchReported)", records + 1,
                 result["events_on_kafka"])
    report.check("rows stored by the plain bulk insert", records, plain["rows"])
    path = report.write(output_dir, {"result": result, "plain_bulk_insert": plain})
    report.fail_unless_checked()
    return path
