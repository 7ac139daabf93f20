"""Stats' rebuild throughput against the raw aiokafka consume rate of the same topics; a JSON report.

1. ≥ `events` realistic envelopes of a few big seasons (benchmarks/stats_events.py: registrations,
   entries, statistics tables, recommendations, assignments, 5 scores per entry and stage, grades,
   approvals, publication) are produced into a fresh namespace's three topics (pre-encoded bytes,
   batched producer), or the topics of an earlier run are reused (`--namespace`);
2. in the same run: (a) a raw aiokafka consumer reads every message of those topics (manually assigned
   partitions, `getmany`, the rebuild's fetch settings) and only counts them; (b) the rebuild: the same
   reader, the reducer folding every message into a fresh state, then the fresh generation's records and
   every report written to MongoDB. With `--processes` > 1 the partitions are folded in that many
   processes (aggregates never share a record, so the partial states merge without conflict) and merged;
3. events per second of both, and the ratio rebuild / raw (target ≥ 0.5).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from benchmarks.review import machine
from benchmarks.stats_events import SeasonPlan, events_per_entry, season_events
from infra.kafka import ensure_topics
from infra.mongo import build_client
from infra.settings import ServiceSettings
from qcp.stack import StackConfig
from services.stats.adapters.replay import TopicReader
from services.stats.adapters.store import StatsStore
from services.stats.rebuild import RebuildSettings, Rebuilder
from services.stats.entrypoints.messaging import CONSUMED_TOPICS

Echo = Callable[[str], None]
GENERATION = "bench"
PROVINCES = ["310000", "370000", "540000", "320000", "330000"]


def plans_for(events: int) -> list[SeasonPlan]:
    """A season per province, big enough together for `events` envelopes."""
    per_season = -(-events // len(PROVINCES)) * 21 // 20  # the per-entry estimate is rough: a margin
    plans = []
    for number, organizer in enumerate(PROVINCES):
        plan = SeasonPlan(season_no=100 + number, organizer=organizer, recommenders=40, units_per_recommender=1,
                          entries_per_unit=2, judges=200, province_feed=organizer != "310000")
        entries = -(-per_season // events_per_entry(plan))
        plan.units_per_recommender = -(-entries // (plan.recommenders * plan.entries_per_unit))
        plans.append(plan)
    return plans


def settings_for(config: StackConfig, namespace: str, partitions: int) -> ServiceSettings:
    return ServiceSettings(
        service="stats", kafka_bootstrap=config.kafka_bootstrap, mongo_url=config.mongo_url,
        mongo_db_prefix=namespace.replace(".", "_"), event_store="none", topic_prefix=namespace,
        topic_partitions=partitions,
    )


async def produce(settings: ServiceSettings, plans: list[SeasonPlan], echo: Echo) -> int:
    """Every season's envelopes, pre-encoded, through one batching producer; how many were produced."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, linger_ms=20, max_batch_size=512 * 1024,
                                acks=1, max_request_size=8 * 1024 * 1024)
    await producer.start()
    produced = 0
    started = time.monotonic()
    try:
        pending = []
        for plan in plans:
            for topic, envelope in season_events(plan):
                value = json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode()
                headers = [("content-type", b"application/json"), ("event_id", envelope["event_id"].encode()),
                           ("type", envelope["type"].encode()), ("schema_version", str(envelope["schema_version"]).encode())]
                pending.append(await producer.send(settings.topic(topic), value, key=envelope["aggregate_id"].encode(),
                                                   headers=headers))
                produced += 1
                if len(pending) >= 20_000:
                    await asyncio.gather(*pending)
                    pending = []
                    if produced % 200_000 == 0:
                        echo(f"  produced {produced} ({produced / (time.monotonic() - started):.0f}/s)")
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return produced


async def topic_size(settings: ServiceSettings) -> int:
    async with TopicReader(settings.kafka_bootstrap, topics(settings)) as reader:
        ends, begins = await reader.end_offsets(), await reader.begin_offsets()
    return sum(ends[tp] - begins[tp] for tp in ends)


async def delete_topics(settings: ServiceSettings) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        await admin.delete_topics(topics(settings))
    finally:
        await admin.close()


def topics(settings: ServiceSettings) -> list[str]:
    return [settings.topic(name) for name in CONSUMED_TOPICS]


async def raw_consume(settings: ServiceSettings) -> dict[str, Any]:
    """(a) Every message of the topics read and counted, nothing else."""
    started = time.monotonic()
    count = 0
    async with TopicReader(settings.kafka_bootstrap, topics(settings)) as reader:
        async for batch in reader.read(await reader.begin_offsets(), await reader.end_offsets()):
            count += len(batch)
    seconds = time.monotonic() - started
    return {"events": count, "seconds": round(seconds, 3), "events_per_second": round(count / seconds)}


async def rebuild(settings: ServiceSettings, processes: int) -> dict[str, Any]:
    """(b) The rebuild: every message folded by the reducer, the fresh generation's records and reports written."""
    mongo = build_client(settings)
    store = StatsStore(mongo[settings.database_name])
    rebuilder = Rebuilder(store, RebuildSettings(settings.kafka_bootstrap, topics(settings), settings.consumer_group,
                                                 settings.dead_letter_topic, fold_processes=processes,
                                                 parallel_from_events=0))
    await store.drop_generation(GENERATION)
    started = time.monotonic()
    try:
        async with TopicReader(settings.kafka_bootstrap, topics(settings)) as reader:
            fold = await rebuilder.read_all(reader, _ignore, generation=GENERATION)
        counts = fold.folder.counts.__dict__
        folded = time.monotonic()
        await rebuilder.write(GENERATION, fold, with_reports=True)
        written = time.monotonic()
        records = len(await store.load_records(GENERATION))
        await store.drop_generation(GENERATION)
    finally:
        await mongo.close()
    events = counts["read"]
    return {
        "events": events, "seconds": round(written - started, 3), "events_per_second": round(events / (written - started)),
        "fold_seconds": round(folded - started, 3), "write_seconds": round(written - folded, 3),
        "records": records, "counts": counts, "processes": processes,
        "clock": "fold (read + reduce in the worker's rebuild code; with processes > 1 the shares' records packed "
                 "and merged) then the writes (records as snapshot chunks and every report)",
    }


async def _ignore(_: dict[str, Any]) -> None:
    return None


async def run_benchmark(*, events: int, partitions: int, processes: list[int], namespace: str | None, output_dir: Path,
                        echo: Echo, keep: bool = False) -> Path:
    config = StackConfig()
    namespace = namespace or f"s{uuid.uuid4().hex[:10]}."
    settings = settings_for(config, namespace, partitions)
    await ensure_topics(settings, topics(settings))
    plans = plans_for(events)
    present = await topic_size(settings)
    if present >= events:
        echo(f"reusing {present} envelopes in {namespace}")
    else:
        echo(f"producing ≥{events} envelopes into {namespace} ({len(plans)} seasons, {partitions} partitions per topic)")
        started = time.monotonic()
        present = await produce(settings, plans, echo)
        echo(f"  {present} produced in {time.monotonic() - started:.1f} s")
    echo("(a) raw aiokafka consume")
    raw = await raw_consume(settings)
    echo(f"  {raw['events']} events in {raw['seconds']} s: {raw['events_per_second']} events/s")
    rebuilds = []
    for count in processes:
        echo(f"(b) rebuild ({count} fold process(es))")
        rebuilt = await rebuild(settings, count)
        rebuilt["ratio"] = round(rebuilt["events_per_second"] / raw["events_per_second"], 3)
        echo(f"  {rebuilt['events']} events in {rebuilt['seconds']} s: {rebuilt['events_per_second']} events/s "
             f"(fold {rebuilt['fold_seconds']} s, write {rebuilt['write_seconds']} s); ratio {rebuilt['ratio']}")
        rebuilds.append(rebuilt)
    best = max(rebuilds, key=lambda item: item["events_per_second"])
    ratio = best["ratio"]
    echo(f"ratio rebuild / raw: {ratio} with {best['processes']} process(es) (target ≥ 0.5)")
    report = {
        "benchmark": "stats-rebuild",
        "measured_at": datetime.now(UTC).isoformat(),
        "machine": machine() | {"load": _load()},
        "parameters": {
            "events": present, "namespace": namespace, "partitions_per_topic": partitions, "topics": topics(settings),
            "seasons": [{"season_id": plan.season_id, "recommenders": plan.recommenders,
                         "units": plan.recommenders * plan.units_per_recommender,
                         "entries": plan.recommenders * plan.units_per_recommender * plan.entries_per_unit,
                         "judges_per_entry_and_stage": plan.judges_per_entry} for plan in plans],
            "raw": "aiokafka consumer, no group, manually assigned partitions, getmany, messages counted only",
            "rebuild": "same reader; header check, JSON decode, reducer fold; then insert_many of the fresh "
                       "generation's records and every report document into MongoDB (FerretDB)",
        },
        "raw_consume": raw,
        "rebuilds": rebuilds,
        "ratio": ratio,
        "ratio_of": f"the fastest rebuild ({best['processes']} process(es)) / raw consume",
        "target_ratio": 0.5,
    }
    if not keep:
        await delete_topics(settings)
        echo(f"deleted the topics of {namespace} (--keep keeps them for another run)")
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / f"bench-stats-rebuild-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path


def _load() -> str | None:
    try:
        return Path("/proc/loadavg").read_text().strip()
    except OSError:
        return None


