"""Feed intake throughput: one province's mixed batch of 50,000 records, end to end until its events are on Kafka.

In a namespace of its own (topics, PostgreSQL event stores, MongoDB databases), registration, submission and
review each run as their API (in this process, httpx ASGI transport) and their worker (projections and outbox
relay): as deployed, each worker a process of its own (`qcp serve worker`), or, with `workers="in-process"`,
the three workers in this process beside the APIs (as the benchmark ran before: one interpreter, one GIL):
1. the Shanghai 2026 QC season of the example feeds is opened at registration, and once submission and review
   know it, a batch of `records` valid records of it is generated from the example feed's records: in every ten,
   three registrations (distinct units, valid credit codes), four entries of those units, two recommendations
   of entries and one result of a recommended entry;
2. the clock starts; the batch goes the way `qcp feed post` sends a province's file: its registrations to
   registration's `POST /feeds/batches`, then (once submission has projected the registered units) its entries
   to submission's, then (once review has projected the entries) its recommendations and results to review's;
3. the clock stops when the last service's relay has published every event it stored: the three topics are then
   read whole, and their events counted by type.

4. in the same run, the baseline: the same batch gunzipped, parsed and COPied as plain rows into one table of
   the same PostgreSQL.

Reported: records per second end to end and of the baseline, seconds by step (each service's answer, the relay's
catch-up after it, the wait for the next service's projection), the events on Kafka by type, peak memory, the
machine and its load. Checked: every record accepted, one domain event per record (UnitRegistered,
EntrySubmitted, ProvincialRecommendationRecorded, ProvincialResultRecorded) and one FeedBatchReported per
service on Kafka, nothing quarantined and nothing on the dead-letter topics, every plain row stored; it fails
loudly otherwise.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg
from aiokafka import AIOKafkaConsumer
from psycopg.types.json import Jsonb

from benchmarks.measure import Report, peak_rss_mib
from benchmarks.review import namespace_settings, remove_namespace
from benchmarks.visibility import dead_letters
from benchmarks.visibility_observer import partitions_of
from contracts.identity import credit_code_check_character
from infra.bootstrap import build_api, build_worker, tokens_for
from infra.feeds import feed_aggregate_id
from infra.kafka import ensure_topics
from infra.settings import ServiceSettings
from qcp.demo import EXAMPLE_FEEDS, example_seasons
from qcp.stack import StackConfig, create_database
from services.registration.bootstrap import definition as registration
from services.review.adapters.queries import entries_by_id
from services.review.bootstrap import definition as review
from services.submission.bootstrap import definition as submission

PROVINCE = "310000"
SEASON = "310000-2026-qc_group"
SERVICES = {"registration": registration, "submission": submission, "review": review}
# what each service takes of the batch, in the order `qcp feed post` sends it
STEPS = (("registration", ("registration",)), ("submission", ("entry",)), ("review", ("recommendation", "result")))
# the domain event each accepted record becomes
EVENT_OF = {"registration": "UnitRegistered", "entry": "EntrySubmitted",
            "recommendation": "ProvincialRecommendationRecorded", "result": "ProvincialResultRecorded"}
SHARES = {"registration": 3, "entry": 4, "recommendation": 2, "result": 1}  # of every ten records
# a relay or a projection that has not caught up by then has stopped: the run fails instead of waiting forever
WAIT_SECONDS = 600


def credit_code(index: int) -> str:
    first_17 = f"91310000MA{index:07d}"
    return first_17 + credit_code_check_character(first_17)


def _templates() -> dict[str, dict[str, Any]]:
    """The first record of each kind in the Shanghai example feed (its first records are valid ones)."""
    found: dict[str, dict[str, Any]] = {}
    for line in (EXAMPLE_FEEDS / "shanghai-2026.ndjson").read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("record_type") in SHARES:
            found.setdefault(record["record_type"], record)
    return found


def counts_of(records: int) -> dict[str, int]:
    """How many records of each kind a batch of `records` holds (registrations take what rounding leaves)."""
    counts = {kind: records * share // 10 for kind, share in SHARES.items()}
    counts["registration"] += records - sum(counts.values())
    return counts


def generated_records(records: int) -> list[dict[str, Any]]:
    """The batch's records in the order the intake takes them: units, then entries, recommendations, results."""
    templates = _templates()
    counts = counts_of(records)
    units, entries = counts["registration"], counts["entry"]
    batch: list[dict[str, Any]] = []

    def record(kind: str, external_id: str, data: dict[str, Any]) -> None:
        template = templates[kind]
        batch.append(template | {"external_id": external_id, "data": template["data"] | data})

    for index in range(units):
        record("registration", f"SH-BENCH-U{index:06d}", {
            "credit_code": credit_code(index), "unit_name": f"上海第{index + 1}精密制造有限公司",
            "short_name": f"精密{index + 1}", "address": f"上海市浦东新区张江路{index % 9000 + 1}号"})
    for index in range(entries):
        unit = index * units // entries
        record("entry", f"SH-BENCH-E{index:06d}", {
            "credit_code": credit_code(unit), "unit_name": f"上海第{unit + 1}精密制造有限公司",
            "group_name": f"装配{index + 1}QC小组", "group_registration_no": f"SH2026-QC-B{index:06d}",
            "topic": f"降低第{index + 1}条装配线返工率"})
    for index in range(counts["recommendation"]):
        record("recommendation", f"SH-BENCH-R{index:06d}", {
            "entry": f"SH-BENCH-E{index:06d}", "rank": index % 50 + 1,
            "recommender_name": f"上海市第{index // 50 + 1}区市场监督管理局"})
    for index in range(counts["result"]):
        record("result", f"SH-BENCH-G{index:06d}", {
            "entry": f"SH-BENCH-E{index:06d}", "certificate_no": f"SH2026QCB{index:06d}"})
    return batch


def gzipped(records: list[dict[str, Any]]) -> bytes:
    lines = [json.dumps(record, ensure_ascii=False) for record in records]
    return gzip.compress(("\n".join(lines) + "\n").encode("utf-8"), compresslevel=6)


def worker_environment(settings: ServiceSettings) -> dict[str, str]:
    """What `qcp serve worker` reads to run a service's worker in the benchmark's namespace."""
    return {
        "QCP_KAFKA_BOOTSTRAP": settings.kafka_bootstrap, "QCP_MONGO_URL": settings.mongo_url,
        "QCP_MONGO_DB_PREFIX": settings.mongo_db_prefix, "QCP_EVENT_STORE": "postgres",
        "QCP_POSTGRES_PORT": str(settings.postgres_port), "QCP_POSTGRES_DB": str(settings.postgres_db),
        "QCP_TOPIC_PREFIX": settings.topic_prefix, "QCP_TOPIC_PARTITIONS": str(settings.topic_partitions),
        "QCP_RELAY_BATCH_SIZE": str(settings.relay_batch_size), "QCP_LOG_LEVEL": settings.log_level,
        "QCP_DEVELOPMENT_MODE": "true",
    }


class Run:
    def __init__(self, config: StackConfig, records: int, relay_batch_size: int, workers: str = "processes",
                 log_dir: Path = Path("reports")) -> None:
        self.config = config
        self.records = records
        self.workers = workers
        self.log_dir = log_dir
        self.worker_peaks: dict[str, float | None] = {}
        first = namespace_settings(config, "registration", relay_batch_size=relay_batch_size, log_level="WARNING")
        self.settings = {service: first if service == "registration" else namespace_settings(
            config, service, first.topic_prefix, relay_batch_size=relay_batch_size, log_level="WARNING")
            for service in SERVICES}
        self.topics = [settings.own_topic for settings in self.settings.values()]
        self.batch = generated_records(records)

    async def measure(self, echo: Callable[[str], None]) -> dict[str, Any]:
        for settings in self.settings.values():
            create_database(self.config, str(settings.postgres_db))
        await ensure_topics(self.settings["registration"], self.topics)
        apis = {service: build_api(make(), self.settings[service]) for service, make in SERVICES.items()}
        stop = asyncio.Event()
        processes = self._start_worker_processes() if self.workers == "processes" else {}
        workers = [] if processes else [asyncio.create_task(build_worker(make(), self.settings[service]).run(stop))
                                        for service, make in SERVICES.items()]
        tokens = tokens_for(self.settings["registration"])
        clients = {service: httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url=f"http://{service}",
                                              timeout=3600) for service, api in apis.items()}
        try:
            await self._open_the_season(clients, tokens)
            feed = {"Authorization": f"Bearer {tokens.mint(f'feed-{PROVINCE}', 'feed', PROVINCE)}",
                    "Content-Encoding": "gzip"}
            bodies = {service: gzipped([record for record in self.batch if record["record_type"] in kinds])
                      for service, kinds in STEPS}
            echo(f"{self.records} records ({ {kind: count for kind, count in counts_of(self.records).items()} }), "
                 f"{sum(map(len, bodies.values())) / 1e6:.1f} MB gzipped")
            seconds: dict[str, float] = {}
            totals: dict[str, Any] = {}
            clock = time.perf_counter()
            for position, (service, _) in enumerate(STEPS):
                mark = time.perf_counter()
                answer = await clients[service].post("/feeds/batches", content=bodies[service], headers=feed,
                                                     params={"batch_id": f"bench-{service}"})
                if answer.status_code != 200:
                    raise RuntimeError(f"{service} refused the batch: {answer.status_code} {answer.text[:1000]}")
                totals[service] = answer.json()["by_type"]
                seconds[f"{service}_answered"] = round(time.perf_counter() - mark, 3)
                echo(f"{service} answered in {seconds[f'{service}_answered']:.1f}s: {answer.json()['total']}")
                mark = time.perf_counter()
                await self._published(apis[service], service)
                seconds[f"{service}_relay_after_answer"] = round(time.perf_counter() - mark, 3)
                if position + 1 < len(STEPS):
                    mark = time.perf_counter()
                    await self._projected(apis, STEPS[position + 1][0])
                    seconds[f"{STEPS[position + 1][0]}_projection_wait"] = round(time.perf_counter() - mark, 3)
            end_to_end = time.perf_counter() - clock
        finally:
            stop.set()
            await asyncio.gather(*workers)
            self._stop_worker_processes(processes)
            for client in clients.values():
                await client.aclose()
            for api in apis.values():
                await api.state.mongo.close()
                api.state.application.close()
        events = await self._events_by_type()
        intake = sum(value for key, value in seconds.items() if not key.endswith("_projection_wait"))
        return {
            "records": self.records,
            "records_by_kind": counts_of(self.records),
            "by_type": {kind: line for answer in totals.values() for kind, line in answer.items()},
            "seconds": seconds | {"intake": round(intake, 3), "end_to_end": round(end_to_end, 3)},
            "records_per_second": round(self.records / end_to_end, 1),
            "records_per_second_intake": round(self.records / intake, 1),
            "events_on_kafka": events,
        }

    def _start_worker_processes(self) -> dict[str, subprocess.Popen[bytes]]:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        return {
            service: subprocess.Popen(  # noqa: S603 - our own CLI
                [sys.executable, "-m", "qcp.cli", "serve", "worker", "--service", service],
                env=os.environ | worker_environment(self.settings[service]),
                stdout=(self.log_dir / f"feed-intake-{service}-worker.log").open("ab"), stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            for service in SERVICES
        }

    def _stop_worker_processes(self, processes: dict[str, subprocess.Popen[bytes]]) -> None:
        # read before they stop: a process' peak resident set goes with it
        self.worker_peaks = {service: peak_rss_mib(process.pid) for service, process in processes.items()}
        for process in processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)

    async def _open_the_season(self, clients: dict[str, httpx.AsyncClient], tokens: Any) -> None:
        (season,) = [item for item in example_seasons() if item["organizer"] == PROVINCE and item["kind"] == "qc_group"]
        organizer = {"Authorization": f"Bearer {tokens.mint('bench-secretariat', 'organizer', PROVINCE)}"}
        opened = await clients["registration"].post("/seasons", json=season, headers=organizer)
        if opened.status_code != 201:
            raise RuntimeError(f"the season was not opened: {opened.status_code} {opened.text[:500]}")
        deadline = time.monotonic() + 120
        for service in ("submission", "review"):
            while (await clients[service].get(f"/seasons/{SEASON}", headers=organizer)).status_code != 200:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{service} did not learn of the season within 120 s")
                await asyncio.sleep(0.2)

    async def _published(self, api: Any, service: str) -> None:
        """Until the service's relay (in its worker) has recorded every event stored so far as published."""
        application = api.state.application
        target = application.recorder.max_notification_id() or 0
        tracking = f"relay:{self.settings[service].own_topic}"
        deadline = time.monotonic() + WAIT_SECONDS
        while (await asyncio.to_thread(application.relay_tracking.max_tracking_id, tracking) or 0) < target:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{service}'s relay did not publish its events within {WAIT_SECONDS} s")
            await asyncio.sleep(0.05)

    async def _projected(self, apis: dict[str, Any], service: str) -> None:
        """Until the next service's projection holds what the batch's records there depend on."""
        counts = counts_of(self.records)
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            if service == "submission":
                credit_codes = [credit_code(index) for index in range(counts["registration"])]
                model = apis["submission"].state.read_model
                seasons = await model.season_views([SEASON])
                known = len(await model.registered_units(list(seasons), credit_codes))
                wanted = counts["registration"]
            else:
                entries = {str(feed_aggregate_id("entry", PROVINCE, f"SH-BENCH-E{index:06d}"))
                           for index in range(counts["recommendation"])}
                known = len(await entries_by_id(apis["review"].state.read_model, entries))
                wanted = len(entries)
            if known >= wanted:
                return
            await asyncio.sleep(0.2)
        raise RuntimeError(f"{service}'s projection did not learn what the batch depends on within {WAIT_SECONDS} s")

    async def _events_by_type(self) -> dict[str, int]:
        """Every event on the namespace's three topics, read from the start, counted by its type header."""
        consumer = AIOKafkaConsumer(bootstrap_servers=self.settings["registration"].kafka_bootstrap, group_id=None,
                                    enable_auto_commit=False, max_partition_fetch_bytes=8 * 2**20)
        await consumer.start()
        try:
            partitions = await partitions_of(self.settings["registration"], self.topics)
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            ends = await consumer.end_offsets(partitions)
            counts: Counter[str] = Counter()
            while [item for item, end in ends.items() if await consumer.position(item) < end]:
                for messages in (await consumer.getmany(timeout_ms=1000, max_records=10_000)).values():
                    for message in messages:
                        counts[dict(message.headers).get("type", b"").decode()] += 1
            return dict(sorted(counts.items()))
        finally:
            await consumer.stop()


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
    *, records: int, relay_batch_size: int, output_dir: Path, config: StackConfig | None = None,
    echo: Callable[[str], None] = print, workers: str = "processes",
) -> Path:
    report = Report("feed-intake", {
        "records": records, "records_by_kind": counts_of(records),
        "services": "registration, submission and review, each its API (httpx ASGI transport, in this process) "
                    "and its worker (projections, outbox relay), "
                    + ("each worker a process of its own" if workers == "processes" else "the workers in this process"),
        "workers": workers, "event_store": "postgres",
        "chunk_size": 500, "relay_batch_size": relay_batch_size,
        "clock": "from sending the registrations until review's relay recorded its last stored event as published; "
                 "between services, the wait for the next service's projection is included (and reported)",
        "baseline": "the same records, gzipped, then gunzipped, parsed and COPied as rows (jsonb data) into one "
                    "table of the same PostgreSQL, in this process",
        "target_records_per_second": 5000,
    })
    config = config or StackConfig()
    run = Run(config, records, relay_batch_size, workers, output_dir)
    echo(f"namespace {run.settings['registration'].topic_prefix}, event stores on PostgreSQL")
    try:
        result = await run.measure(echo)
        result["dead_letter_topics"] = await dead_letters(run.settings["registration"])
        plain = await asyncio.to_thread(plain_bulk_insert, config.postgres_dsn_for(
            str(run.settings["registration"].postgres_db)), gzipped(run.batch))
    finally:
        for settings in run.settings.values():
            await remove_namespace(config, settings)
    result["ratio_to_plain_bulk_insert"] = round(result["records_per_second"] / plain["records_per_second"], 4)
    echo(f"{result['records_per_second']} records/s end to end ({result['seconds']['end_to_end']} s, of which "
         f"intake {result['seconds']['intake']} s: {result['records_per_second_intake']} records/s); plain bulk "
         f"insert {plain['records_per_second']} records/s; events on Kafka {result['events_on_kafka']}")
    if workers == "processes":
        report.own_process("the three services' APIs (this process)", "registration-api")
        for service, peak in run.worker_peaks.items():
            report.process(f"{service} worker", peak, f"{service}-worker")
    else:
        report.own_process("the three services' APIs and workers (this process)", "registration-api")
    events = result["events_on_kafka"]
    for kind, count in counts_of(records).items():
        report.check(f"{kind} records accepted", count, result["by_type"].get(kind, {}).get("accepted"))
        report.check(f"{EVENT_OF[kind]} events on Kafka (one per {kind})", count, events.get(EVENT_OF[kind], 0))
    report.check("FeedBatchReported events on Kafka (one per service)", len(STEPS), events.get("FeedBatchReported", 0))
    report.check("records quarantined", 0, sum(line.get("quarantined", 0) for line in result["by_type"].values()))
    report.check("FeedRecordQuarantined events on Kafka", 0, events.get("FeedRecordQuarantined", 0))
    report.check("dead letters in the namespace", 0, sum(result["dead_letter_topics"].values()))
    report.check("rows stored by the plain bulk insert", records, plain["rows"])
    path = report.write(output_dir, {"result": result, "plain_bulk_insert": plain})
    report.fail_unless_checked()
    return path
