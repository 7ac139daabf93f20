"""After the chaos: wait for the platform to catch up, then check that nothing was lost or done twice."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pymongo import AsyncMongoClient

from qcp.audit_cli import DigestClient, _check_over_http
from qcp.chaos.faults import Injected
from qcp.chaos.load import Command, Load
from qcp.services import SERVICES
from qcp.stats_cli import FINISHED

WRITE_SERVICES = ("registration", "submission")  # the services the load sends commands to
MIRRORS = (("registration", "unit_registrations"), ("submission", "entries"))
OUTAGE_GRACE = 30.0  # seconds after a fault healed in which a 503 still belongs to its outage


@dataclass
class Check:
    name: str
    ok: bool
    figures: str
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        head = f"{'PASS' if self.ok else 'FAIL'}  {self.name}: {self.figures}"
        return "\n".join([head, *(f"        {problem}" for problem in self.problems[:10])])


@dataclass
class Expected:
    """What the accepted commands should have produced."""

    versions: dict[str, list[int]]  # aggregate id -> versions the accepted commands answered
    service_of: dict[str, str]
    units: set[str]
    entries: set[str]

    @classmethod
    def of(cls, commands: list[Command]) -> Expected:
        versions: dict[str, list[int]] = defaultdict(list)
        service_of: dict[str, str] = {}
        units: set[str] = set()
        entries: set[str] = set()
        for command in commands:
            if not command.accepted or not command.answer:
                continue
            aggregate = command.answer["aggregate_id"]
            versions[aggregate].append(command.answer["version"])
            service_of[aggregate] = command.service
            if command.kind.startswith("registration"):
                units.add(command.body["credit_code"])
            elif command.kind.startswith("entry"):
                entries.add(aggregate)
        return cls(dict(versions), service_of, units, entries)


class Reconciler:
    def __init__(self, load: Load, injected: list[Injected], *, urls: dict[str, str], bootstrap: str, mongo_url: str,
                 topic_prefix: str, mongo_db_prefix: str, auditor: str, ops: str) -> None:
        self.load = load
        self.injected = injected
        self.urls = urls
        self.bootstrap = bootstrap
        self.mongo_url = mongo_url
        self.topic_prefix = topic_prefix
        self.mongo_db_prefix = mongo_db_prefix
        self.auditor = {"Authorization": f"Bearer {auditor}"}
        self.ops = {"Authorization": f"Bearer {ops}"}  # a platform-wide rebuild is the ops role's alone
        self.organizer = {"Authorization": f"Bearer {load.organizer}"}
        self.season_id = load.season_id
        self.expected = Expected.of(load.commands)
        self.caught_up_seconds: float | None = None

    async def wait_caught_up(self, timeout: float) -> bool:
        """Until stats and both write services' read models count every accepted registration and entry."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if await self._counts() == self._expected_counts():
                self.caught_up_seconds = round(time.monotonic() - started, 1)
                return True
            await asyncio.sleep(2)
        return False

    def _expected_counts(self) -> dict[str, int]:
        units, entries = len(self.expected.units), len(self.expected.entries)
        return {"stats registrations": units, "stats entries": entries, "registration read model": units,
                "submission read model": entries}

    async def _counts(self) -> dict[str, int | None]:
        async with httpx.AsyncClient(timeout=15, headers=self.organizer) as client:
            async def get(url: str) -> dict[str, Any] | None:
                try:
                    answer = await client.get(url)
                except httpx.HTTPError:
                    return None
                return answer.json() if answer.status_code == 200 else None

            overview = await get(f"{self.urls['stats']}/seasons/{self.season_id}/overview") or {}
            registrations = await get(f"{self.urls['registration']}/seasons/{self.season_id}/registrations?limit=1") or {}
            entries = await get(f"{self.urls['submission']}/seasons/{self.season_id}/entries?limit=1") or {}
        return {"stats registrations": overview.get("registrations"), "stats entries": overview.get("entries"),
                "registration read model": registrations.get("total"), "submission read model": entries.get("total")}

    async def checks(self, rebuild_timeout: float = 900.0) -> list[Check]:
        heads = await self._write_heads()
        kafka = {service: await read_envelopes(self.bootstrap, f"{self.topic_prefix}{service}.events", self.season_id)
                 for service in WRITE_SERVICES}
        return [
            self.faults_healed(),
            self.none_refused(),
            self.stored_once(heads),
            self.on_kafka(heads, kafka),
            await self.duplicates_harmless(heads, kafka),
            await self.projections_and_stats(),
            self.no_unexpected_5xx(),
            await self.retried_keys_answer_first_result(),
            await self.dead_letters_empty(),
            await self.audit_agrees(),
            await self.rebuild_switches(rebuild_timeout),
        ]

    async def _write_heads(self) -> dict[str, dict[str, Any]]:
        heads: dict[str, dict[str, Any]] = {}
        for service in WRITE_SERVICES:
            async with httpx.AsyncClient(base_url=self.urls[service], timeout=60) as client:
                found = await DigestClient(service, client, self.auditor).season_heads(self.season_id)
            heads |= {key: item | {"service": service} for key, item in found.items()}
        return heads

    def faults_healed(self) -> Check:
        """Every fault was injected and what it broke came back (a run whose faults failed tried nothing)."""
        problems = [f"{item.fault} at {item.at} s: {item.detail}" for item in self.injected
                    if item.detail.startswith("could not inject") or "NOT" in item.detail]
        return Check("every fault injected and healed", not problems,
                     f"{len(self.injected)} faults, {len(problems)} not injected or not healed", problems)

    def none_refused(self) -> Check:
        """The load sends only valid commands: any 4xx is a finding (a retry refused, a projection behind)."""
        refused = [command for command in self.load.commands if command.answered and not command.accepted]
        problems = [f"{command.kind}: {command.status} {json.dumps(command.answer, ensure_ascii=False)[:300]}"
                    for command in refused]
        answered = sum(command.answered for command in self.load.commands)
        return Check("no command refused", not problems,
                     f"{answered} of {len(self.load.commands)} commands answered, {len(refused)} refused", problems)

    def stored_once(self, heads: dict[str, dict[str, Any]]) -> Check:
        """Each accepted command's event stored once: per aggregate, the answered versions are 1..n and the
        event store holds exactly n (a retry stored nothing new); nothing is stored that no command was answered for."""
        problems = []
        for aggregate, versions in self.expected.versions.items():
            stored = heads.get(aggregate, {}).get("version")
            if sorted(versions) != list(range(1, len(versions) + 1)) or stored != len(versions):
                problems.append(f"{aggregate}: answered versions {sorted(versions)}, event store holds {stored}")
        unexplained = sorted(set(heads) - set(self.expected.versions))
        problems += [f"{aggregate}: stored in {heads[aggregate]['service']} v{heads[aggregate]['version']} "
                     "without an accepted command" for aggregate in unexplained]
        accepted = sum(len(v) for v in self.expected.versions.values())
        return Check("every accepted command stored once", not problems,
                     f"{accepted} accepted commands on {len(self.expected.versions)} aggregates; "
                     f"{sum(item['version'] for item in heads.values())} events in the event stores", problems)

    def on_kafka(self, heads: dict[str, dict[str, Any]], kafka: dict[str, list[dict[str, Any]]]) -> Check:
        published = {(item["aggregate_id"], item["aggregate_version"]) for items in kafka.values() for item in items}
        problems = [f"{aggregate} v{version} answered but not on Kafka"
                    for aggregate, versions in self.expected.versions.items() for version in versions
                    if (aggregate, version) not in published]
        problems += [f"{aggregate} v{version} stored in {head['service']} but not on Kafka"
                     for aggregate, head in heads.items() for version in range(1, head["version"] + 1)
                     if (aggregate, version) not in published]
        return Check("every accepted and stored event on Kafka", not problems,
                     f"{len(published)} distinct events on the topics, {len(problems)} missing", problems)

    async def duplicates_harmless(self, heads: dict[str, dict[str, Any]], kafka: dict[str, list[dict[str, Any]]]) -> Check:
        """Re-published copies counted; the read models applied each event once (`_applied_events` = `_version`)."""
        copies = Counter(item["event_id"] for items in kafka.values() for item in items)
        duplicates = sum(count - 1 for count in copies.values() if count > 1)
        problems: list[str] = []
        mongo = AsyncMongoClient(self.mongo_url, serverSelectionTimeoutMS=10_000)
        checked = 0
        try:
            for service in SERVICES:
                database = mongo[f"{self.mongo_db_prefix}{service}"]
                for name in await database.list_collection_names():
                    async for document in database[name].find({"_applied_events": {"$exists": True}}):
                        checked += 1
                        if document["_applied_events"] > document.get("_version", 0):
                            problems.append(f"{service}.{name} {document['_id']}: applied "
                                            f"{document['_applied_events']} events up to v{document.get('_version')}")
            for service, name in MIRRORS:  # documents that mirror one aggregate each: every event applied once
                async for document in mongo[f"{self.mongo_db_prefix}{service}"][name].find({"season_id": self.season_id}):
                    stored = heads.get(str(document["_id"]), {}).get("version")
                    if not document["_applied_events"] == document["_version"] == stored:
                        problems.append(f"{service}.{name} {document['_id']}: applied {document['_applied_events']}, "
                                        f"v{document['_version']}, event store v{stored}")
        finally:
            await mongo.close()
        return Check("duplicates on Kafka harmless", not problems,
                     f"{duplicates} re-published copies on the topics; {checked} read-model documents each applied "
                     "every event once, the registrations and entries exactly their aggregates' versions", problems)

    async def projections_and_stats(self) -> Check:
        counts, expected = await self._counts(), self._expected_counts()
        problems = [f"{name}: {counts[name]}, accepted {value}" for name, value in expected.items() if counts[name] != value]
        return Check("projections and stats equal what was accepted", not problems,
                     ", ".join(f"{name} {counts[name]}" for name in expected)
                     + f" (accepted: {len(self.expected.units)} units, {len(self.expected.entries)} entries)", problems)

    def no_unexpected_5xx(self) -> Check:
        windows = [(item.began, (item.ended or item.began) + OUTAGE_GRACE, item.fault) for item in self.injected]
        seen = Counter()
        problems = []
        for command in self.load.commands:
            for attempt in command.attempts:
                if attempt.error:
                    seen["connection errors"] += 1
                if attempt.status is None or attempt.status < 500:
                    continue
                seen[str(attempt.status)] += 1
                answered = attempt.answered_at or attempt.at
                in_outage = any(attempt.at <= end and answered >= start for start, end, _ in windows)
                if attempt.status != 503 or attempt.retry_after is None or not in_outage:
                    moment = time.strftime("%H:%M:%S", time.localtime(attempt.at))
                    problems.append(f"{command.kind} {command.key}: {attempt.status} at {moment} (Retry-After "
                                    f"{attempt.retry_after}, {'in' if in_outage else 'outside'} an outage)")
        return Check("no 5xx but 503 with Retry-After during an outage", not problems,
                     ", ".join(f"{count} {what}" for what, count in sorted(seen.items())) or "none", problems)

    async def retried_keys_answer_first_result(self) -> Check:
        retried = [command for command in self.load.commands if command.accepted and command.retried]
        sample = [command for command in self.load.commands if command.accepted and not command.retried][:20]
        problems = []
        for command in retried + sample:
            attempt = await self.load.replay(command)
            if attempt.error or not attempt.replayed:
                problems.append(f"{command.kind} {command.key}: {attempt.error or 'answered without Idempotent-Replayed'}")
        unanswered = [command for command in self.load.commands if not command.answered]
        problems += [f"{command.kind} {command.key}: never answered" for command in unanswered]
        replayed_in_load = sum(command.replayed for command in self.load.commands)
        return Check("retried keys answer their first result", not problems,
                     f"{len(retried)} retried commands and {len(sample)} others sent again, each answered its first "
                     f"result; {replayed_in_load} retries during the load were answered from a first try that had "
                     "been stored", problems)

    async def dead_letters_empty(self) -> Check:
        counts = {service: await topic_size(self.bootstrap, f"{self.topic_prefix}{service}.dlq") for service in SERVICES}
        problems = [f"{service}.dlq holds {count}" for service, count in counts.items() if count]
        return Check("dead-letter topics empty", not problems,
                     ", ".join(f"{service} {count}" for service, count in counts.items()), problems)

    async def audit_agrees(self) -> Check:
        urls = {service: self.urls[service] for service in ("registration", "submission", "review")}
        token = self.auditor["Authorization"].removeprefix("Bearer ")
        checks = await _check_over_http(urls, self.urls["stats"], token, aggregate=None, entry=None, season=self.season_id)
        failed = [item.line() for item in checks if not item.ok]
        return Check("audit check agrees", bool(checks) and not failed,
                     f"{len(checks)} aggregates compared, {len(failed)} diverging or unknown", failed)

    async def rebuild_switches(self, timeout: float) -> Check:
        async with httpx.AsyncClient(base_url=self.urls["stats"], headers=self.ops, timeout=30) as client:
            started = await client.post("/rebuilds", params={"switch": "if_equal"})
            if started.status_code != 202:
                return Check("stats rebuild switches with no difference", False,
                             f"not started: {started.status_code} {started.text[:300]}")
            rebuild_id = started.json()["rebuild_id"]
            deadline = time.monotonic() + timeout
            view: dict[str, Any] = {}
            while time.monotonic() < deadline:
                view = (await client.get(f"/rebuilds/{rebuild_id}")).json()
                if view.get("status") in FINISHED:
                    break
                await asyncio.sleep(1)
        differences = [f"{item['report']} {item['path']}: live {item['live']!r}, rebuilt {item['rebuilt']!r}"
                       for item in view.get("differences") or []]
        return Check("stats rebuild switches with no difference", view.get("status") == "switched" and not differences,
                     f"{view.get('status')}: {view.get('reports_compared', 0)} reports compared, "
                     f"{view.get('events_read', 0)} events read in {view.get('seconds', '?')} s", differences)


async def read_envelopes(bootstrap: str, topic: str, season_id: str, *, timeout: float = 120.0) -> list[dict[str, Any]]:
    """Every envelope of the season on a topic, up to the topic's end as it was when reading began."""
    return [envelope for envelope in (json.loads(record.value) for record in await read_topic(bootstrap, topic, timeout))
            if envelope.get("season_id") == season_id]


async def read_topic(bootstrap: str, topic: str, timeout: float) -> list[Any]:
    partitions = await _partitions(bootstrap, topic)
    if not partitions:
        return []
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    await consumer.start()
    records: list[Any] = []
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        deadline = time.monotonic() + timeout
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic} not read to its end within {timeout:.0f} s")
            for items in (await consumer.getmany(timeout_ms=500)).values():
                records.extend(items)
    finally:
        await consumer.stop()
    return records


async def topic_size(bootstrap: str, topic: str) -> int:
    partitions = await _partitions(bootstrap, topic)
    if not partitions:
        return 0
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(partitions)
        starts = await consumer.beginning_offsets(partitions)
        return sum(ends[tp] - starts[tp] for tp in partitions)
    finally:
        await consumer.stop()


async def _partitions(bootstrap: str, topic: str) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        if topic not in await admin.list_topics():
            return []
        (description,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return [TopicPartition(topic, item["partition"]) for item in description["partitions"]]
