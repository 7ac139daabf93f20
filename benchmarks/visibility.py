"""How long a command takes to be seen: answer → event on Kafka → each consuming service's read model → stats'
report, under a steady load of real commands through the HTTP APIs; a JSON report.

1. the four services (API and worker each) start as their own processes (`qcp.launcher.Platform`, as `qcp run`
   and the end-to-end tests start them) in a namespace of their own on the stack, PostgreSQL event stores, with
   their shipped settings; a season is opened and a few units registered for the entries;
2. `rate` commands/s for `duration` seconds, open loop (each sent on schedule): new units' registrations
   (organizer's token) and QC achievements (unit's token), `entry_share` of them entries;
3. meanwhile: a bare consumer of the namespace's registration and submission topics notes when each command's
   event arrives (matched by credit code or entry id); every `poll_interval` the read models' counts are read
   through the services' APIs (registration's registrations, submission's entries, review's units, stats'
   overview; review lists an entry only once it is recommended); the n-th answered command of a kind is visible in a read model once its count reaches n;
4. in the same run, on the same broker: the raw produce → consume round trip of small messages at the same
   rate (aiokafka producer acks=all, linger 0; consumer without a group);
5. checked: every command answered 2xx, every command's event on Kafka, every count reached, every
   dead-letter topic of the namespace empty. It fails loudly otherwise.

Seconds are from sending the command; p50/p95/p99 per stage. The read-model and report stages are as fine as
`poll_interval` (they are read, not told). Target: p99 command → stats' report ≤ 1 s.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import json
import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from benchmarks.measure import Report, distribution, peak_rss_mib
from benchmarks.review import namespace_settings, remove_namespace
from benchmarks.write_path import service_environment
from infra.kafka import ensure_topics
from infra.settings import ServiceSettings
from qcp.chaos.load import credit_code, qc_achievement, unit_form
from qcp.demo import demo_season
from qcp.launcher import Platform, default_ports, free_port_base
from qcp.services import SERVICES, local_tokens
from qcp.stack import StackConfig, create_database

Echo = Callable[[str], None]
ORGANIZER = "310000"
ENTRY_UNITS = 10  # units registered before the load, whose groups submit the entries
# (service, what is counted, command kind it stands for, path under the season, field of the answer)
READ_MODELS = [
    ("registration", "registrations", "registration", "/registrations?limit=1", "total"),
    ("submission", "entries", "entry", "/entries?limit=1", "total"),
    ("review", "units", "registration", "", "units_registered"),
    ("stats", "overview: registrations", "registration", "/overview", "registrations"),
    ("stats", "overview: entries", "entry", "/overview", "entries"),
]


@dataclass
class Sent:
    kind: str
    key: str  # the credit code of a registration, the entry id of an entry (once answered)
    sent_at: float
    answered_at: float | None = None
    status: int | None = None
    on_kafka_at: float | None = None
    visible_at: dict[str, float] = field(default_factory=dict)


class Observer:
    """The events arriving on Kafka, and the read models' counts over time."""

    def __init__(self, settings: ServiceSettings, platform: Platform, season_id: str, token: str,
                 poll_interval: float) -> None:
        self.settings, self.platform, self.season_id = settings, platform, season_id
        self.headers = {"Authorization": f"Bearer {token}"}
        self.poll_interval = poll_interval
        self.arrivals: dict[tuple[str, str], float] = {}
        self.counts: dict[str, list[tuple[float, int]]] = {f"{service}: {name}": [] for service, name, *_ in READ_MODELS}
        self.baseline: dict[str, int] = {}
        self._highest: dict[str, list[int]] = {}
        self.stop = asyncio.Event()
        self.consumer: AIOKafkaConsumer | None = None

    async def start_consumer(self) -> None:
        self.consumer = AIOKafkaConsumer(bootstrap_servers=self.settings.kafka_bootstrap, group_id=None,
                                         enable_auto_commit=False, fetch_max_wait_ms=50)
        await self.consumer.start()
        topics = [self.settings.topic(name) for name in ("registration.events", "submission.events")]
        partitions = await partitions_of(self.settings, topics)
        self.consumer.assign(partitions)
        await self.consumer.seek_to_end(*partitions)

    async def consume(self) -> None:
        assert self.consumer is not None
        try:
            while not self.stop.is_set():
                batches = await self.consumer.getmany(timeout_ms=100)
                now = time.time()
                for messages in batches.values():
                    for message in messages:
                        envelope = json.loads(message.value)
                        payload = envelope.get("payload", {})
                        if envelope.get("type") == "UnitRegistered":
                            self.arrivals.setdefault(("registration", payload.get("credit_code", "")), now)
                        elif envelope.get("type") == "EntrySubmitted":
                            self.arrivals.setdefault(("entry", payload.get("entry_id", "")), now)
        finally:
            await self.consumer.stop()

    async def read_counts(self, client: httpx.AsyncClient) -> dict[str, int | None]:
        async def one(service: str, path: str, key: str) -> int | None:
            try:
                answer = await client.get(f"{self.platform.url(service)}/seasons/{self.season_id}{path}",
                                          headers=self.headers)
            except httpx.HTTPError:
                return None
            return int(answer.json().get(key) or 0) if answer.status_code == 200 else None

        values = await asyncio.gather(*(one(service, path, key) for service, _, _, path, key in READ_MODELS))
        return {f"{service}: {name}": value for (service, name, *_), value in zip(READ_MODELS, values, strict=True)}

    async def poll(self) -> None:
        async with httpx.AsyncClient(timeout=10) as client:
            while not self.stop.is_set():
                started = time.time()
                for name, value in (await self.read_counts(client)).items():
                    if value is not None:
                        self.counts[name].append((time.time(), value - self.baseline.get(name, 0)))
                await asyncio.sleep(max(0.0, self.poll_interval - (time.time() - started)))

    def reached(self, name: str, count: int) -> float | None:
        """When the read model's count first reached `count` (counted from the start of the load)."""
        if name not in self._highest:  # the highest count so far at each reading: a sorted list to bisect
            self._highest[name] = list(itertools.accumulate((value for _, value in self.counts[name]), max))
        index = bisect.bisect_left(self._highest[name], count)
        return self.counts[name][index][0] if index < len(self.counts[name]) else None


class RoundTrip:
    """Raw Kafka: small messages produced at the load's rate and consumed back, on the same broker, meanwhile."""

    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self.topic = settings.topic("bench.roundtrip")
        self.latencies: list[float] = []
        self.sent = 0

    async def run(self, rate: float, seconds: float) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=self.settings.kafka_bootstrap, acks="all", linger_ms=0)
        consumer = AIOKafkaConsumer(bootstrap_servers=self.settings.kafka_bootstrap, group_id=None,
                                    enable_auto_commit=False, fetch_max_wait_ms=50)
        await producer.start()
        await consumer.start()
        try:
            await ensure_topics(self.settings, [self.topic])
            await producer.send_and_wait(self.topic, str(time.time()).encode(), partition=0)
            partitions = [TopicPartition(self.topic, 0)]
            consumer.assign(partitions)
            await consumer.seek_to_end(*partitions)
            count = max(1, int(rate * seconds))

            async def produce() -> None:
                started = time.perf_counter()
                for index in range(count):
                    await asyncio.sleep(max(0.0, started + index / rate - time.perf_counter()))
                    await producer.send(self.topic, str(time.time()).encode(), partition=0)
                    self.sent += 1

            async def consume() -> None:
                received = 0
                deadline = time.monotonic() + seconds + 60
                while received < count and time.monotonic() < deadline:
                    for messages in (await consumer.getmany(timeout_ms=100)).values():
                        now = time.time()
                        for message in messages:
                            self.latencies.append(now - float(message.value))
                            received += 1

            await asyncio.gather(produce(), consume())
        finally:
            await producer.stop()
            await consumer.stop()


class Load:
    """New registrations and entries at `rate` commands/s, open loop."""

    def __init__(self, platform: Platform, season_id: str, organizer: str, rate: float, entry_share: float,
                 seed: int = 1) -> None:
        self.platform, self.season_id, self.rate, self.entry_share = platform, season_id, rate, entry_share
        self.organizer = {"Authorization": f"Bearer {organizer}"}
        tokens = local_tokens()
        self.entry_units = [unit_form(number) for number in range(1, ENTRY_UNITS + 1)]
        self.unit_tokens = {unit["credit_code"]: {"Authorization": "Bearer " + tokens.mint(
            f"promoter-{unit['credit_code']}", "unit", unit["credit_code"], 3600)} for unit in self.entry_units}
        self.rng = random.Random(seed)
        self.numbers = iter(range(1000, 10_000_000))
        self.sent: list[Sent] = []
        self.failures: list[str] = []

    async def register_entry_units(self, client: httpx.AsyncClient) -> None:
        for unit in self.entry_units:
            answer = await client.post(self._url("registration", "/registrations"), json=unit, headers=self.organizer)
            if answer.status_code not in (200, 201):
                raise RuntimeError(f"a unit was not registered: {answer.status_code} {answer.text[:300]}")

    def _url(self, service: str, path: str) -> str:
        return f"{self.platform.url(service)}/seasons/{self.season_id}{path}"

    async def command(self, client: httpx.AsyncClient, sent_at: float) -> None:
        if self.rng.random() < self.entry_share:
            unit = self.rng.choice(self.entry_units)
            number = next(self.numbers)
            item = Sent("entry", "", sent_at)
            request = client.post(self._url("submission", "/qc-achievements"), json=qc_achievement(unit, number),
                                  headers=self.unit_tokens[unit["credit_code"]])
        else:
            number = next(self.numbers)
            item = Sent("registration", credit_code(number), sent_at)
            request = client.post(self._url("registration", "/registrations"), json=unit_form(number),
                                  headers=self.organizer)
        self.sent.append(item)
        try:
            answer = await request
        except httpx.HTTPError as error:
            self.failures.append(f"{item.kind}: {type(error).__name__}")
            return
        item.answered_at, item.status = time.time(), answer.status_code
        if not 200 <= answer.status_code < 300:
            self.failures.append(f"{item.kind}: {answer.status_code} {answer.text[:200]}")
        elif item.kind == "entry":
            item.key = answer.json()["entry_id"]

    async def run(self, seconds: float, in_flight: int = 64) -> None:
        """Each command is sent when due (open loop); at most `in_flight` wait for their answers at once, the
        others wait their turn in this process, and that wait counts in their seconds as a client's would."""
        count = max(1, int(self.rate * seconds))
        slots = asyncio.Semaphore(in_flight)
        async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=in_flight)) as client:

            async def one(sent_at: float) -> None:
                async with slots:
                    await self.command(client, sent_at)

            started = time.perf_counter()
            pending = set()
            for index in range(count):
                await asyncio.sleep(max(0.0, started + index / self.rate - time.perf_counter()))
                task = asyncio.create_task(one(time.time()))
                pending.add(task)
                task.add_done_callback(pending.discard)
            await asyncio.gather(*pending)



async def partitions_of(settings: ServiceSettings, topics: list[str]) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        return [TopicPartition(item["topic"], partition["partition"])
                for item in await admin.describe_topics(topics) for partition in item["partitions"]]
    finally:
        await admin.close()


async def dead_letters(settings: ServiceSettings) -> dict[str, int]:
    """Messages on every dead-letter topic of the namespace."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=None)
    await consumer.start()
    try:
        found = {}
        for topic in sorted(await consumer.topics()):
            if topic.startswith(settings.topic_prefix) and topic.endswith(".dlq"):
                partitions = await partitions_of(settings, [topic])
                found[topic] = sum((await consumer.end_offsets(partitions)).values()) if partitions else 0
        return found
    finally:
        await consumer.stop()


def stage_seconds(load: Load, observer: Observer) -> tuple[dict[str, Any], dict[str, int]]:
    """Per stage, seconds from sending each command; and how many commands each stage did not see."""
    answered = sorted((item for item in load.sent if item.status and 200 <= item.status < 300),
                      key=lambda item: item.answered_at or 0)
    stages: dict[str, list[float]] = {"answer": [], "event on Kafka": []}
    missing: dict[str, int] = {"event on Kafka": 0}
    ranks: dict[str, int] = {}
    for item in answered:
        stages["answer"].append(item.answered_at - item.sent_at)
        arrived = observer.arrivals.get((item.kind, item.key))
        if arrived is None:
            missing["event on Kafka"] += 1
        else:
            stages["event on Kafka"].append(arrived - item.sent_at)
        ranks[item.kind] = ranks.get(item.kind, 0) + 1
        for service, name, kind, _, _ in READ_MODELS:
            if kind != item.kind:
                continue
            label = f"{service}: {name}"
            at = observer.reached(label, ranks[item.kind])
            stages.setdefault(label, [])
            if at is None:
                missing[label] = missing.get(label, 0) + 1
            else:
                stages[label].append(max(at, item.answered_at) - item.sent_at)
    return {label: distribution(values) for label, values in stages.items()}, missing


def namespace_of(config: StackConfig, namespace: str, partitions: int, service: str = "registration") -> ServiceSettings:
    return namespace_settings(config, service, namespace, topic_partitions=partitions)


async def wait_for_the_season(observer: Observer, load: Load, client: httpx.AsyncClient) -> dict[str, int | None]:
    """Until every read model knows the season and the entry units: the clock starts after that."""
    deadline = time.monotonic() + 180
    while True:
        counts = await observer.read_counts(client)
        if all(value is not None for value in counts.values()) and all(
                counts[f"{service}: {name}"] >= ENTRY_UNITS for service, name, kind, *_ in READ_MODELS
                if kind == "registration"):
            known = [await client.get(f"{observer.platform.url('submission')}/seasons/{observer.season_id}/units/"
                                      f"{unit['credit_code']}", headers=load.organizer) for unit in load.entry_units]
            if all(answer.status_code == 200 for answer in known):
                return counts
        if time.monotonic() > deadline:
            raise TimeoutError(f"the read models did not learn the season and its units: {counts}")
        await asyncio.sleep(0.5)


async def run_visibility_benchmark(*, duration: float, rate: float, entry_share: float, poll_interval: float,
                                   partitions: int, output_dir: Path, config: StackConfig | None = None,
                                   echo: Echo = print) -> Path:
    config = config or StackConfig()
    report = Report("visibility", {
        "duration_seconds": duration, "rate": rate, "entry_share": entry_share, "poll_interval_seconds": poll_interval,
        "partitions": partitions,
        "commands": "new units' registrations (POST registration /seasons/{id}/registrations, organizer) and QC "
                    "achievements (POST submission /seasons/{id}/qc-achievements, the unit's token)",
        "processes": "the four services' APIs and workers as processes of their own (qcp serve), shipped settings, "
                     "PostgreSQL event stores",
        "raw_round_trip": "aiokafka producer acks=all linger 0 → consumer without a group (fetch_max_wait 50 ms), "
                          "one partition, at the same rate, during the load",
        "target": {"p99_seconds_command_to_stats": 1.0},
    })
    namespace = f"v{datetime.now(UTC):%H%M%S}{random.randrange(16**4):04x}."
    settings = namespace_of(config, namespace, partitions)
    per_service = {}
    for service in SERVICES:
        create_database(config, str(namespace_of(config, namespace, partitions, service).postgres_db))
        per_service[service] = {"QCP_POSTGRES_DB": str(namespace_of(config, namespace, partitions, service).postgres_db)}
    environment = service_environment(config, settings) | {"QCP_TOPIC_PARTITIONS": str(partitions)}
    organizer = local_tokens().mint("bench-secretariat", "organizer", ORGANIZER, 3600)
    with tempfile.TemporaryDirectory(prefix="qcp-bench-") as logs:
        platform = Platform(environment, Path(logs), default_ports(free_port_base(19300)))
        try:
            platform.start(extra_env=per_service)
            await asyncio.to_thread(platform.wait_until_ready, 300)
            echo(f"the platform is ready in namespace {namespace}")
            now = datetime.now(UTC)
            season_id = f"{ORGANIZER}-{now.year}-qc_group"
            load = Load(platform, season_id, organizer, rate, entry_share)
            observer = Observer(settings, platform, season_id, organizer, poll_interval)
            async with httpx.AsyncClient(timeout=30) as client:
                opened = await client.post(f"{platform.url('registration')}/seasons", json=demo_season(now.year, now),
                                           headers={"Authorization": f"Bearer {organizer}"})
                if opened.status_code != 201:
                    raise RuntimeError(f"the season was not opened: {opened.status_code} {opened.text[:500]}")
                await load.register_entry_units(client)
                counts = await wait_for_the_season(observer, load, client)
                observer.baseline = {name: value or 0 for name, value in counts.items()}
            await observer.start_consumer()
            round_trip = RoundTrip(settings)
            tasks = [asyncio.create_task(observer.consume()), asyncio.create_task(observer.poll())]
            echo(f"load: {rate:g} commands/s for {duration:g} s")
            await asyncio.gather(load.run(duration), round_trip.run(rate, duration))
            answered = [item for item in load.sent if item.status and 200 <= item.status < 300]
            expected = {kind: sum(1 for item in answered if item.kind == kind) for kind in ("registration", "entry")}
            wait = min(60.0, max(20.0, duration))
            echo(f"load sent; waiting for the read models (at most {wait:g} s)")
            settle = time.monotonic() + wait
            while time.monotonic() < settle:  # until every read model counted every command (or the time is up)
                latest = {name: (values[-1][1] if values else 0) for name, values in observer.counts.items()}
                if all(latest[f"{service}: {name}"] >= expected[kind] for service, name, kind, _, _ in READ_MODELS) \
                        and len(observer.arrivals) >= len(answered):
                    break
                await asyncio.sleep(0.5)
            observer.stop.set()
            await asyncio.gather(*tasks)
            for name, process in platform.processes.items():
                report.process(name, peak_rss_mib(process.pid), name)
        finally:
            platform.stop()
    stages, missing = stage_seconds(load, observer)
    report.own_process("load and observer (this process)")
    report.check("commands not answered 2xx", 0, len(load.failures))
    for label in ["event on Kafka", *(f"{service}: {name}" for service, name, *_ in READ_MODELS)]:
        report.check(f"commands not seen: {label}", 0, missing.get(label, 0))
    report.check("raw round-trip messages consumed", round_trip.sent, len(round_trip.latencies))
    dead = await dead_letters(settings)
    report.check("dead letters in the namespace", 0, sum(dead.values()))
    for service in SERVICES:
        await remove_namespace(config, namespace_of(config, namespace, partitions, service))
    to_stats = [item for label, item in stages.items() if label.startswith("stats")]
    p99 = max((item["p99"] for item in to_stats if item["p99"] is not None), default=None)
    body = {
        "commands": {"sent": len(load.sent), "answered_2xx": len(answered), "by_kind": expected},
        "stages_seconds_from_sending": stages,
        "p99_seconds_command_to_stats": p99,
        "raw_kafka_round_trip_seconds": distribution(round_trip.latencies),
        "counts_at_the_end": {name: (values[-1][1] if values else None) for name, values in observer.counts.items()},
        "counts_before_the_load": observer.baseline,
        "dead_letter_topics": dead,
        "failures": load.failures[:10],
    }
    path = report.write(output_dir, body)
    echo(f"p99 command → stats' report: {p99} s (target ≤ 1 s); raw Kafka round trip p99 "
         f"{body['raw_kafka_round_trip_seconds']['p99']} s")
    report.fail_unless_checked()
    return path
