"""How long a command takes to be seen: answer → event on Kafka → each consuming service's read model → stats'
report, under a steady load of real commands through the HTTP APIs; a JSON report.

1. the four services (API and worker each) start as their own processes (`qcp.launcher.Platform`, as `qcp run`
   and the end-to-end tests start them) in a namespace of their own on the stack, PostgreSQL event stores, with
   their shipped settings; a season is opened (benchmarks.visibility_season) and, outside the timed window, what
   the load acts on is set up: units for the entries, and pools for the recommendations and scores;
2. `rate` commands/s for `duration` seconds, open loop (each sent on schedule), mixed in the `mix`'s proportions:
   new units' registrations (organizer), QC achievements (unit), recommendations of pool entries (their recommending
   unit) and judges' scores of pool entries assigned to them;
3. meanwhile: a bare consumer of the namespace's registration, submission and review topics notes when each
   command's event arrives; every `poll_interval` the read models' counts are read through the services' APIs
   (`READ_MODELS`); the n-th answered command of a kind is visible in a read model once its count reaches n;
4. in the same run, on the same broker: the raw produce → consume round trip of small messages at the same
   rate (aiokafka producer acks=all, linger 0; consumer without a group);
5. checked: every command answered 2xx, every command's event on Kafka, every count reached, every
   dead-letter topic of the namespace empty. It fails loudly otherwise.

Seconds are from sending the command; p50/p95/p99 per stage. The read-model and report stages are as fine as
`poll_interval` (they are read, not told; a page that takes longer to read is read after twice its reading time,
and each page's reading times are in the report). Target: p99 command → stats' report ≤ 1 s.
"""

from __future__ import annotations

import asyncio
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

from benchmarks.measure import Report, distribution, messages_on, peak_rss_mib
from benchmarks.review import namespace_settings, remove_namespace
from benchmarks.visibility_observer import READ_MODELS, Observer
from benchmarks.visibility_season import ORGANIZER, Pools, benchmark_season, bounded, recommendation_form, score_form
from benchmarks.write_path import service_environment
from infra.kafka import ensure_topics
from infra.settings import ServiceSettings
from qcp.chaos.load import credit_code, qc_achievement, unit_form
from qcp.launcher import Platform, default_ports, free_port_base
from qcp.services import SERVICES, local_tokens
from qcp.stack import StackConfig, create_database

Echo = Callable[[str], None]
ENTRY_UNITS = 10  # units registered before the load, whose groups submit the entries
KINDS = ("registration", "entry", "recommendation", "score")
DEFAULT_MIX = {"registration": 0.3, "entry": 0.3, "recommendation": 0.2, "score": 0.2}
def schedule(mix: dict[str, float], count: int) -> list[str]:
    """The kinds of `count` commands in the mix's proportions, interleaved evenly (smooth weighted round robin), so
    the pools hold exactly what the load takes."""
    total = sum(mix.values())
    credit = dict.fromkeys(mix, 0.0)
    kinds = []
    for _ in range(count):
        for kind in credit:
            credit[kind] += mix[kind] / total
        chosen = max(credit, key=lambda kind: credit[kind])
        credit[chosen] -= 1
        kinds.append(chosen)
    return kinds


@dataclass
class Sent:
    kind: str
    key: str  # credit code (registration), entry id (entry, once answered; recommendation), "entry judge" (score)
    sent_at: float
    answered_at: float | None = None
    status: int | None = None
    on_kafka_at: float | None = None
    visible_at: dict[str, float] = field(default_factory=dict)


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
    """`rate` commands/s, open loop, of the kinds of the mix: registrations and entries new, recommendations and scores
    of the pools set up before (`Pools`)."""

    def __init__(self, platform: Platform, season_id: str, organizer: str, rate: float, mix: dict[str, float],
                 seconds: float, seed: int = 1) -> None:
        self.platform, self.season_id, self.rate = platform, season_id, rate
        self.organizer = {"Authorization": f"Bearer {organizer}"}
        self.kinds = schedule(mix, max(1, int(rate * seconds)))
        self.planned = {kind: self.kinds.count(kind) for kind in KINDS}
        self.pools = Pools(season_id, self.planned["recommendation"], self.planned["score"], platform.url,
                           self.organizer)
        self.entry_units = [unit_form(number) for number in range(1, ENTRY_UNITS + 1)]
        self.rng = random.Random(seed)
        self.numbers = iter(range(1000, 10_000_000))
        self.recommendations = iter(range(10_000_000))  # the next pool entry to recommend, pair to score
        self.scores = iter(range(10_000_000))
        self.sent: list[Sent] = []
        self.failures: list[str] = []

    async def register_entry_units(self, client: httpx.AsyncClient) -> None:
        for unit in self.entry_units:
            answer = await client.post(self._url("registration", "/registrations"), json=unit, headers=self.organizer)
            if answer.status_code not in (200, 201):
                raise RuntimeError(f"a unit was not registered: {answer.status_code} {answer.text[:300]}")

    def _url(self, service: str, path: str) -> str:
        return f"{self.platform.url(service)}/seasons/{self.season_id}{path}"

    def request(self, client: httpx.AsyncClient, kind: str, sent_at: float) -> tuple[Sent, Any]:
        """The command of the kind, and its request."""
        pools = self.pools
        if kind == "entry":
            unit = self.rng.choice(self.entry_units)
            return Sent(kind, "", sent_at), client.post(
                self._url("submission", "/qc-achievements"), json=qc_achievement(unit, next(self.numbers)),
                headers=pools.token("unit", unit["credit_code"]))
        if kind == "recommendation":
            entry = pools.to_recommend[next(self.recommendations)]
            body = recommendation_form(pools.next_rank(entry.recommender_id), pools.today())
            return Sent(kind, entry.entry_id, sent_at), client.post(
                self._url("review", f"/entries/{entry.entry_id}/recommendation"), json=body,
                headers=pools.token("recommender", entry.recommender_id))
        if kind == "score":
            entry_id, judge_id = pools.to_score[next(self.scores)]
            return Sent(kind, f"{entry_id} {judge_id}", sent_at), client.post(
                self._url("review", f"/entries/{entry_id}/scores"), json=score_form(),
                headers=pools.token("judge", judge_id))
        number = next(self.numbers)
        return Sent("registration", credit_code(number), sent_at), client.post(
            self._url("registration", "/registrations"), json=unit_form(number), headers=self.organizer)

    async def command(self, client: httpx.AsyncClient, kind: str, sent_at: float) -> None:
        item, request = self.request(client, kind, sent_at)
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

    async def run(self, in_flight: int = 64) -> None:
        """Each command is sent when due (open loop); at most `in_flight` wait for their answers at once, the
        others wait their turn in this process, and that wait counts in their seconds as a client's would."""
        slots = asyncio.Semaphore(in_flight)
        async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=in_flight)) as client:

            async def one(kind: str, sent_at: float) -> None:
                async with slots:
                    await self.command(client, kind, sent_at)

            started = time.perf_counter()
            pending = set()
            for index, kind in enumerate(self.kinds):
                await asyncio.sleep(max(0.0, started + index / self.rate - time.perf_counter()))
                task = asyncio.create_task(one(kind, time.time()))
                pending.add(task)
                task.add_done_callback(pending.discard)
            await asyncio.gather(*pending)


async def dead_letters(settings: ServiceSettings) -> dict[str, int]:
    """Messages on every dead-letter topic of the namespace."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=None)
    await consumer.start()
    try:
        names = sorted(topic for topic in await consumer.topics()
                       if topic.startswith(settings.topic_prefix) and topic.endswith(".dlq"))
    finally:
        await consumer.stop()
    return await messages_on(settings.kafka_bootstrap, names)


def stage_seconds(load: Load, observer: Observer) -> tuple[dict[str, Any], dict[str, dict[str, Any]], dict[str, int]]:
    """Per stage, seconds from sending each command (the answer and the event on Kafka also per kind of command);
    and how many commands each stage did not see."""
    answered = sorted((item for item in load.sent if item.status and 200 <= item.status < 300),
                      key=lambda item: item.answered_at or 0)
    stages: dict[str, list[float]] = {"answer": [], "event on Kafka": []}
    by_kind: dict[str, dict[str, list[float]]] = {}
    missing: dict[str, int] = {"event on Kafka": 0}
    ranks: dict[str, int] = {}
    for item in answered:
        own = by_kind.setdefault(item.kind, {"answer": [], "event on Kafka": []})
        for seconds in (stages["answer"], own["answer"]):
            seconds.append(item.answered_at - item.sent_at)
        arrived = observer.arrivals.get((item.kind, item.key))
        if arrived is None:
            missing["event on Kafka"] += 1
        else:
            for seconds in (stages["event on Kafka"], own["event on Kafka"]):
                seconds.append(arrived - item.sent_at)
        ranks[item.kind] = ranks.get(item.kind, 0) + 1
        for model in READ_MODELS:
            if model.kind != item.kind:
                continue
            at = observer.reached(model.label, ranks[item.kind])
            stages.setdefault(model.label, [])
            if at is None:
                missing[model.label] = missing.get(model.label, 0) + 1
            else:
                stages[model.label].append(max(at, item.answered_at) - item.sent_at)
    return ({label: distribution(values) for label, values in stages.items()},
            {kind: {label: distribution(values) for label, values in own.items()} for kind, own in by_kind.items()},
            missing)


def namespace_of(config: StackConfig, namespace: str, partitions: int, service: str = "registration") -> ServiceSettings:
    return namespace_settings(config, service, namespace, topic_partitions=partitions)


async def until_known(platform: Platform, season_id: str, headers: dict[str, str], service: str,
                      paths: list[str]) -> None:
    """Until the service's API answers every path under the season (what its projection learnt from Kafka)."""
    deadline = time.monotonic() + 300
    left = list(paths)
    async with httpx.AsyncClient(timeout=30) as client:
        while left:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{service} did not learn {len(left)} of {len(paths)}, e.g. {left[0]}")
            answers = await bounded(client.get(f"{platform.url(service)}/seasons/{season_id}{path}", headers=headers)
                                    for path in left)
            left = [path for path, answer in zip(left, answers, strict=True) if answer.status_code != 200]
            if left:
                await asyncio.sleep(0.5)


async def wait_for_the_setup(observer: Observer, expected: dict[str, int], client: httpx.AsyncClient) -> dict[str, int]:
    """Until every read model counts what the setup did, no more and no less: the clock starts after that."""
    deadline = time.monotonic() + 300
    while True:
        counts = await observer.read_counts(client)
        if counts == expected:
            return expected
        if time.monotonic() > deadline:
            raise TimeoutError(f"the read models did not learn the setup: {counts}, expected {expected}")
        await asyncio.sleep(0.5)


async def run_visibility_benchmark(*, duration: float, rate: float, mix: dict[str, float] | None = None,
                                   poll_interval: float, partitions: int, output_dir: Path,
                                   config: StackConfig | None = None, echo: Echo = print) -> Path:
    config = config or StackConfig()
    mix = {kind: share for kind, share in (mix or DEFAULT_MIX).items() if share > 0}
    if not mix or set(mix) - set(KINDS):
        raise ValueError(f"a mix gives shares to some of {', '.join(KINDS)}, not {mix}")
    report = Report("visibility", {
        "duration_seconds": duration, "rate": rate, "mix": mix, "poll_interval_seconds": poll_interval,
        "partitions": partitions,
        "commands": "new units' registrations (POST registration /seasons/{id}/registrations, organizer), QC "
                    "achievements (POST submission /seasons/{id}/qc-achievements, the unit's token), recommendations "
                    "(POST review /seasons/{id}/entries/{e}/recommendation, the entry's recommending unit) and scores "
                    "(POST review /seasons/{id}/entries/{e}/scores, a judge assigned to the entry)",
        "setup": "before the timed window: 10 units for the entries; pools of entries submitted for the "
                 "recommendations and entries recommended, past formal review and assigned to 3 judges for the scores, every one "
                 "projected everywhere before the load starts",
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
            load = Load(platform, season_id, organizer, rate, mix, duration)
            observer = Observer(settings, platform, season_id, organizer, poll_interval)
            setup_started = time.monotonic()
            async with httpx.AsyncClient(timeout=60) as client:
                opened = await client.post(f"{platform.url('registration')}/seasons", json=benchmark_season(now),
                                           headers=load.organizer)
                if opened.status_code != 201:
                    raise RuntimeError(f"the season was not opened: {opened.status_code} {opened.text[:500]}")
                await load.register_entry_units(client)

                async def known(service: str, paths: list[str]) -> None:
                    await until_known(platform, season_id, load.organizer, service, paths)

                await known("submission", [f"/units/{unit['credit_code']}" for unit in load.entry_units])
                echo(f"setting up: {load.pools.entries} pool entries, {load.planned['score']} (entry, judge) pairs")
                await load.pools.set_up(client, known)
                observer.judge_ids = load.pools.judge_ids
                observer.baseline = await wait_for_the_setup(observer, load.pools.baseline(ENTRY_UNITS), client)
            setup_seconds = time.monotonic() - setup_started
            await observer.start_consumer()
            round_trip = RoundTrip(settings)
            tasks = [asyncio.create_task(observer.consume()), asyncio.create_task(observer.poll())]
            echo(f"load: {rate:g} commands/s for {duration:g} s, {load.planned}")
            await asyncio.gather(load.run(), round_trip.run(rate, duration))
            answered = [item for item in load.sent if item.status and 200 <= item.status < 300]
            expected = {kind: sum(1 for item in answered if item.kind == kind) for kind in KINDS}
            wait = min(60.0, max(20.0, duration))
            echo(f"load sent; waiting for the read models (at most {wait:g} s)")
            settle = time.monotonic() + wait
            while time.monotonic() < settle:  # until every read model counted every command (or the time is up)
                latest = observer.latest()
                if all(latest[model.label] >= expected[model.kind] for model in READ_MODELS) \
                        and len(observer.arrivals) >= len(answered):
                    break
                await asyncio.sleep(0.5)
            observer.stop.set()
            await asyncio.gather(*tasks)
            for name, process in platform.processes.items():
                report.process(name, peak_rss_mib(process.pid), name)
        finally:
            platform.stop()
    stages, by_kind, missing = stage_seconds(load, observer)
    report.own_process("load and observer (this process)")
    report.check("commands not answered 2xx", 0, len(load.failures))
    for label in ["event on Kafka", *(model.label for model in READ_MODELS)]:
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
        "setup": {"seconds": round(setup_seconds, 1), "pool_entries": load.pools.entries,
                  "entries_to_recommend": len(load.pools.to_recommend), "pairs_to_score": len(load.pools.to_score),
                  "recommending_units": len(load.pools.recommenders), "scoring_judges": len(load.pools.judge_ids)},
        "stages_seconds_from_sending": stages,
        "answer_and_kafka_by_kind": by_kind,
        "read_models": {model.label: {"kind": model.kind, "path": model.path} for model in READ_MODELS},
        "p99_seconds_command_to_stats": p99,
        "raw_kafka_round_trip_seconds": distribution(round_trip.latencies),
        "counts_at_the_end": {name: (values[-1][1] if values else None) for name, values in observer.counts.items()},
        "counts_before_the_load": observer.baseline,
        "observer_read_seconds": {label: distribution(values) for label, values in observer.read_seconds.items()},
        "dead_letter_topics": dead,
        "failures": load.failures[:10],
    }
    path = report.write(output_dir, body)
    echo(f"p99 command → stats' report: {p99} s (target ≤ 1 s); raw Kafka round trip p99 "
         f"{body['raw_kafka_round_trip_seconds']['p99']} s")
    report.fail_unless_checked()
    return path
