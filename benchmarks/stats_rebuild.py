"""Stats' rebuild throughput against the raw aiokafka consume rate of the same topics; a JSON report.

1. ≥ `events` realistic envelopes of a few big seasons (benchmarks/stats_events.py: registrations,
   entries, statistics tables, recommendations, assignments, 5 scores per entry and stage, grades,
   approvals, publication) are produced into a fresh namespace's three topics (pre-encoded bytes,
   batched producer), or the topics of an earlier run are reused (`--namespace`);
2. in the same run: (a) a raw aiokafka consumer reads every message of those topics (manually assigned
   partitions, `getmany`, the rebuild's fetch settings) and only counts them; (b) a whole rebuild through
   `Rebuilder.run`, from the request to the switch, for each process count: the dead letters and the live
   group's offsets read, the fold (with `--processes` > 1 the partitions are folded in that many forked
   processes and merged), the fresh generation written, the catch-up to the topics' current ends, both
   states' reports, their comparison, the switch. The live state it compares with folded the same log
   before the clock started, and the live group is committed at the ends, as a caught-up worker leaves them;
3. events per second of both, the ratio whole rebuild / raw (target ≥ 0.5 on 1M events), the seconds of
   each phase, peak memory; checked: every envelope read by both, the rebuild switched without
   differences, no dead letter. It fails loudly otherwise.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import threading
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from benchmarks.measure import Report, children_peak_rss_mib, messages_on, own_peak_rss_mib
from benchmarks.stats_events import SeasonPlan, events_per_entry, season_events
from infra.kafka import ensure_topics
from infra.mongo import build_client
from infra.settings import ServiceSettings
from qcp.stack import StackConfig
from services.stats.adapters.replay import TopicReader
from services.stats.adapters.store import SNAPSHOT_FIELD, StatsStore, records_collection, unpacked
from services.stats.domain.records import StatsState
from services.stats.live import LiveStats
from services.stats.rebuild import RebuildSettings, Rebuilder
from services.stats.entrypoints.messaging import CONSUMED_TOPICS

Echo = Callable[[str], None]
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
    return sum((await messages_on(settings.kafka_bootstrap, topics(settings))).values())


async def delete_topics(settings: ServiceSettings) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        await admin.delete_topics([*topics(settings), settings.dead_letter_topic])
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


async def commit_live_group_at_the_ends(settings: ServiceSettings) -> None:
    """The live consumer group as a worker that applied every message would have left it: committed at the ends."""
    async with TopicReader(settings.kafka_bootstrap, topics(settings)) as reader:
        ends = await reader.end_offsets()
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=settings.consumer_group,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(list(ends))
        await consumer.commit(dict(ends))
    finally:
        await consumer.stop()


class ResidentSampler:
    """This process's resident set, and the proportional set of it with its children (the forked fold processes:
    the pages they share with it counted once, as a container's memory counts them), sampled every 50 ms from a
    thread, their peaks kept per phase of the rebuild: where the memory goes."""

    def __init__(self) -> None:
        self.phase = "start"
        self.peaks: dict[str, dict[str, float]] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> ResidentSampler:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join()

    def _sample(self) -> None:
        while not self.stop.wait(0.05):
            own = _resident_mib(os.getpid())
            children = _children(os.getpid())
            together = _proportional_mib(os.getpid()) + sum(_proportional_mib(pid) for pid in children)
            peak = self.peaks.setdefault(self.phase, {"own_rss_mib": 0.0, "pss_with_fold_processes_mib": 0.0})
            peak["own_rss_mib"] = max(peak["own_rss_mib"], round(own, 1))
            peak["pss_with_fold_processes_mib"] = max(peak["pss_with_fold_processes_mib"], round(together, 1))


def _resident_mib(pid: int) -> float:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, IndexError, ValueError):
        return 0.0


def _proportional_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except (OSError, IndexError, ValueError):
        pass
    return 0.0


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found.extend(int(item) for item in (task / "children").read_text().split())
        except (OSError, ValueError):
            continue
    return found


def rebuild_in_process(settings: ServiceSettings, processes: int) -> dict[str, Any]:
    """A whole rebuild in a fresh process of its own, as the stats worker that rebuilds holds its live state: its
    peak resident set is the rebuild's (with the live state), not the benchmark's producing or consuming."""
    with ResidentSampler() as sampler:
        outcome = asyncio.run(rebuild(settings, processes, sampler))
    return outcome | {"peak_rss_mib": own_peak_rss_mib(), "fold_processes_peak_rss_mib": children_peak_rss_mib() or None,
                      "pss_with_fold_processes_peak_mib": max(
                          (peak["pss_with_fold_processes_mib"] for peak in sampler.peaks.values()), default=None),
                      "memory_peak_by_phase": sampler.peaks}


async def rebuild(settings: ServiceSettings, processes: int, sampler: ResidentSampler | None = None) -> dict[str, Any]:
    """(b) A whole rebuild through `Rebuilder.run`, from the request to the switch, against a live state that folded
    the same log (as a worker's would have): dead letters and live offsets read, the fold, the fresh generation
    written, the catch-up to the topics' current ends, both states' reports, their comparison, the switch."""
    mongo = build_client(settings)
    store = StatsStore(mongo[settings.database_name])
    rebuild_settings = RebuildSettings(settings.kafka_bootstrap, topics(settings), settings.consumer_group,
                                       settings.dead_letter_topic, fold_processes=processes, parallel_from_events=0)
    try:
        await store.create_indexes()
        live = LiveStats(store)
        await live.start()
        if sampler is not None:
            sampler.phase = "the live state folded (before the clock)"
        async with TopicReader(settings.kafka_bootstrap, topics(settings)) as reader:  # the live state, not timed
            folded = await Rebuilder(store, rebuild_settings).read_all(reader, _ignore)
            live.state = StatsState.of(folded.packed.all_records())
            del folded
        await commit_live_group_at_the_ends(settings)
        rebuilder = Rebuilder(store, rebuild_settings, live)
        request = await store.request_rebuild("benchmark")
        phases: list[tuple[str, float]] = []
        recorded = store.update_rebuild

        async def update_rebuild(rebuild_id: str, fields: dict[str, Any]) -> None:
            if "phase" in fields and (not phases or phases[-1][0] != fields["phase"]):
                phases.append((fields["phase"], time.monotonic()))
                if sampler is not None:
                    sampler.phase = fields["phase"]
            await recorded(rebuild_id, fields)

        store.update_rebuild = update_rebuild  # type: ignore[method-assign] - the phases' times, for the report
        # a store that stops answering must fail the run, not hold it forever
        bound = max(600.0, (await topic_size(settings)) / 500)
        started = time.monotonic()
        try:
            outcome = await asyncio.wait_for(rebuilder.run(request["_id"]), timeout=bound)
        except TimeoutError:
            raise RuntimeError(f"the rebuild did not finish within {bound:.0f} s; its phases so far: {phases}") from None
        seconds = time.monotonic() - started
        if sampler is not None:
            sampler.phase = "counting the stored records (the benchmark's check, after the clock)"
        records = await stored_records(store, live.generation)
    finally:
        await mongo.drop_database(settings.database_name)
        await mongo.close()
    events = outcome["counts"]["read"]
    edges = [*phases, ("done", started + seconds)]
    by_phase: dict[str, float] = {}
    for (phase, at), (_, until) in zip(edges, edges[1:], strict=False):
        by_phase[phase] = round(by_phase.get(phase, 0.0) + until - at, 3)
    return {
        "events": events, "seconds": round(seconds, 3), "events_per_second": round(events / seconds),
        "seconds_by_phase": by_phase, "status": outcome["status"], "switched": outcome.get("switched"),
        "differences": len(outcome.get("differences") or []), "reports_compared": outcome.get("reports_compared"),
        "records": records, "counts": outcome["counts"], "processes": processes,
        "clock": "Rebuilder.run from the request to the switch: dead letters, live offsets, fold (with processes > 1 "
                 "the shares' records packed and merged), the fresh generation written, catch-up, both states' "
                 "reports, comparison, switch",
    }


async def stored_records(store: StatsStore, generation: str) -> int:
    """How many records the generation holds (snapshot chunks and records stored one by one), a chunk at a time."""
    ids: set[str] = set()
    async for document in store.database[records_collection(generation)].find({}):
        if SNAPSHOT_FIELD in document:
            ids.update(record["_id"] for record in unpacked(document[SNAPSHOT_FIELD]))
        else:
            ids.add(document["_id"])
    return len(ids)


async def _ignore(_: dict[str, Any]) -> None:
    return None


async def run_benchmark(*, events: int, partitions: int, processes: list[int], namespace: str | None, output_dir: Path,
                        echo: Echo, keep: bool = False) -> Path:
    config = StackConfig()
    namespace = namespace or f"s{uuid.uuid4().hex[:10]}."
    settings = settings_for(config, namespace, partitions)
    plans = plans_for(events)
    report = Report("stats-rebuild", {
        "events_asked": events, "namespace": namespace, "partitions_per_topic": partitions, "topics": topics(settings),
        "seasons": [{"season_id": plan.season_id, "recommenders": plan.recommenders,
                     "units": plan.recommenders * plan.units_per_recommender,
                     "entries": plan.recommenders * plan.units_per_recommender * plan.entries_per_unit,
                     "judges_per_entry_and_stage": plan.judges_per_entry} for plan in plans],
        "raw": "aiokafka consumer, no group, manually assigned partitions, getmany, messages counted only",
        "rebuild": "Rebuilder.run from the request to the switch, in this process (forked fold processes with "
                   "--processes > 1), against a live state that folded the same log and a live group committed at "
                   "the ends; MongoDB is FerretDB",
        "target_ratio": 0.5, "target_size": "1M events",
    })
    await ensure_topics(settings, [*topics(settings), settings.dead_letter_topic])
    present = await topic_size(settings)
    if present >= events:
        echo(f"reusing {present} envelopes in {namespace}")
    else:
        echo(f"producing ≥{events} envelopes into {namespace} ({len(plans)} seasons, {partitions} partitions per topic)")
        started = time.monotonic()
        present = await produce(settings, plans, echo) + present
        echo(f"  {present} produced in {time.monotonic() - started:.1f} s")
    report.parameters["events"] = present
    echo("(a) raw aiokafka consume")
    raw = await raw_consume(settings)
    echo(f"  {raw['events']} events in {raw['seconds']} s: {raw['events_per_second']} events/s")
    report.check("raw consume read every envelope", present, raw["events"])
    rebuilds = []
    for count in processes:
        # raw consume again right before each rebuild: the shared machine's load changes within minutes, and the
        # ratio compares the two at the same load
        raw_before = await raw_consume(settings)
        report.check(f"raw consume before the rebuild with {count} process(es) read every envelope", present,
                     raw_before["events"])
        echo(f"(a) raw consume right before: {raw_before['events_per_second']} events/s")
        echo(f"(b) rebuild end to end ({count} fold process(es))")
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            rebuilt = await asyncio.get_running_loop().run_in_executor(pool, rebuild_in_process, settings, count)
        rebuilt["raw_consume_right_before"] = raw_before
        rebuilt["ratio"] = round(rebuilt["events_per_second"] / raw_before["events_per_second"], 3)
        rebuilt["ratio_to_the_first_raw_consume"] = round(rebuilt["events_per_second"] / raw["events_per_second"], 3)
        echo(f"  {rebuilt['events']} events in {rebuilt['seconds']} s: {rebuilt['events_per_second']} events/s, "
             f"{rebuilt['status']}; ratio {rebuilt['ratio']}; by phase {rebuilt['seconds_by_phase']}")
        report.check(f"rebuild with {count} process(es) read every envelope", present, rebuilt["events"])
        report.check(f"rebuild with {count} process(es) switched without differences", ("switched", 0),
                     (rebuilt["status"], rebuilt["differences"]))
        rebuilds.append(rebuilt)
    dead = await dead_letters_of(settings)
    report.check("dead letters of the live group", 0, dead)
    best = max(rebuilds, key=lambda item: item["events_per_second"])
    echo(f"ratio whole rebuild / raw: {best['ratio']} with {best['processes']} process(es) (target ≥ 0.5)")
    report.own_process("benchmark (this process: producing, raw consume)")
    for rebuilt in rebuilds:
        report.process(f"rebuild with {rebuilt['processes']} process(es): the rebuilding process (the live state, the "
                       "rebuilt one packed, share 0 of the fold)", rebuilt["peak_rss_mib"], "stats-worker")
        if rebuilt["processes"] > 1:
            report.process(f"rebuild with {rebuilt['processes']} process(es): the forked fold processes (the largest; "
                           "VmHWM counts the pages shared with the parent)", rebuilt["fold_processes_peak_rss_mib"],
                           "stats-worker")
            report.process(f"rebuild with {rebuilt['processes']} process(es): the rebuilding process and its fold "
                           "processes together (sampled proportional set: shared pages counted once, as the "
                           "container counts them)", rebuilt["pss_with_fold_processes_peak_mib"], "stats-worker")
    if not keep:
        await delete_topics(settings)
        echo(f"deleted the topics of {namespace} (--keep keeps them for another run)")
    path = report.write(output_dir, {
        "raw_consume": raw, "rebuilds": rebuilds, "ratio": best["ratio"],
        "ratio_of": f"the fastest whole rebuild ({best['processes']} process(es)) / raw consume",
    })
    report.fail_unless_checked()
    return path


async def dead_letters_of(settings: ServiceSettings) -> int:
    return sum((await messages_on(settings.kafka_bootstrap, [settings.dead_letter_topic])).values())
