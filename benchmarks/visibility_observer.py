"""The visibility benchmark's observer: when each command's event arrives on Kafka, and the read models' counts
over time, read through the services' APIs (`READ_MODELS`)."""

from __future__ import annotations

import asyncio
import bisect
import functools
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from infra.settings import ServiceSettings
from qcp.launcher import Platform

# the event of each kind of command on Kafka, and the key it is matched by
EVENTS = {"UnitRegistered": ("registration", ("credit_code",)), "EntrySubmitted": ("entry", ("entry_id",)),
          "EntryRecommended": ("recommendation", ("entry_id",)), "ScoreRecorded": ("score", ("entry_id", "judge_id"))}


@dataclass(frozen=True)
class ReadModel:
    """A count in a read model that one kind of command raises by one, read through its service's API."""

    service: str
    name: str
    kind: str
    path: str  # from the service's root: {season} is the season, {judge} each scoring judge (their counts add up)
    value: Callable[[dict[str, Any]], int]

    @property
    def label(self) -> str:
        return f"{self.service}: {self.name}"


def field_of(key: str) -> Callable[[dict[str, Any]], int]:
    return lambda answer: int(answer.get(key) or 0)


def recommended(overview: dict[str, Any]) -> int:
    progress = overview.get("review_progress") or []
    return next((int(item["count"]) for item in progress if item["stage"] == "recommended"), 0)


READ_MODELS = [
    ReadModel("registration", "registrations", "registration", "/seasons/{season}/registrations?limit=1",
              field_of("total")),
    ReadModel("submission", "entries", "entry", "/seasons/{season}/entries?limit=1", field_of("total")),
    ReadModel("review", "units", "registration", "/seasons/{season}", field_of("units_registered")),
    ReadModel("review", "entries", "recommendation", "/seasons/{season}/entries?limit=1", field_of("total")),
    ReadModel("review", "judges' queues, scored", "score", "/judges/{judge}/queue?season_id={season}",
              lambda queue: int(queue["total"]) - int(queue["to_score"])),
    ReadModel("stats", "overview: registrations", "registration", "/seasons/{season}/overview",
              field_of("registrations")),
    ReadModel("stats", "overview: entries", "entry", "/seasons/{season}/overview", field_of("entries")),
    ReadModel("stats", "overview: recommended", "recommendation", "/seasons/{season}/overview", recommended),
    ReadModel("stats", "judge workload, scored", "score", "/seasons/{season}/judge-workload",
              lambda report: int(report["total"]["scored"])),
]


class Observer:
    """The events arriving on Kafka, and the read models' counts over time: each page read in a loop of its own,
    its counts stamped with the moment its answer came (a slow page neither delays nor back-dates another's)."""

    def __init__(self, settings: ServiceSettings, platform: Platform, season_id: str, token: str,
                 poll_interval: float) -> None:
        self.settings, self.platform, self.season_id = settings, platform, season_id
        self.headers = {"Authorization": f"Bearer {token}"}
        self.poll_interval = poll_interval
        self.arrivals: dict[tuple[str, str], float] = {}
        self.readings: dict[tuple[str, str], list[tuple[float, int]]] = {}  # (read model, page) → (answered, value)
        self.read_seconds: dict[str, list[float]] = {}  # per read model, how long each reading of a page took
        self.judge_ids: list[str] = []
        self.baseline: dict[str, int] = {}
        self._highest: dict[str, list[int]] = {}
        self.stop = asyncio.Event()
        self.consumer: AIOKafkaConsumer | None = None

    async def start_consumer(self) -> None:
        self.consumer = AIOKafkaConsumer(bootstrap_servers=self.settings.kafka_bootstrap, group_id=None,
                                         enable_auto_commit=False, fetch_max_wait_ms=50)
        await self.consumer.start()
        topics = [self.settings.topic(f"{service}.events") for service in ("registration", "submission", "review")]
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
                        if envelope.get("type") in EVENTS:
                            kind, keys = EVENTS[envelope["type"]]
                            payload = envelope.get("payload", {})
                            self.arrivals.setdefault((kind, " ".join(str(payload.get(key)) for key in keys)), now)
        finally:
            await self.consumer.stop()

    def urls(self, model: ReadModel) -> list[str]:
        paths = [model.path.format(season=self.season_id, judge=judge) for judge in self.judge_ids] \
            if "{judge}" in model.path else [model.path.format(season=self.season_id)]
        return [self.platform.url(model.service) + path for path in paths]

    async def read_counts(self, client: httpx.AsyncClient) -> dict[str, int | None]:
        """Each read model's count now; a page that several counts share is read once."""
        async def one(url: str) -> dict[str, Any] | None:
            try:
                answer = await client.get(url, headers=self.headers)
            except httpx.HTTPError:
                return None
            return answer.json() if answer.status_code == 200 else None

        urls = sorted({url for model in READ_MODELS for url in self.urls(model)})
        pages = dict(zip(urls, await asyncio.gather(*(one(url) for url in urls)), strict=True))
        counts: dict[str, int | None] = {}
        for model in READ_MODELS:
            read = [pages[url] for url in self.urls(model)]
            complete = all(page is not None for page in read)
            counts[model.label] = sum(model.value(page) for page in read) if complete else None
        return counts

    async def poll(self) -> None:
        pages: dict[str, list[ReadModel]] = {}
        for model in READ_MODELS:
            for url in self.urls(model):
                pages.setdefault(url, []).append(model)
        async with httpx.AsyncClient(timeout=30) as client:
            await asyncio.gather(*(self.poll_page(client, url, models) for url, models in pages.items()))

    async def poll_page(self, client: httpx.AsyncClient, url: str, models: list[ReadModel]) -> None:
        while not self.stop.is_set():
            started = time.time()
            try:
                answer = await client.get(url, headers=self.headers)
            except httpx.HTTPError:
                answer = None
            answered = time.time()
            if answer is not None and answer.status_code == 200:
                page = answer.json()
                for model in models:
                    self.readings.setdefault((model.label, url), []).append((answered, model.value(page)))
                    self.read_seconds.setdefault(model.label, []).append(answered - started)
            # a page slow to read (a long judge's queue) is read less often, so that reading does not load the service
            # it measures: every poll interval, or after twice its own reading time
            await asyncio.sleep(max(self.poll_interval - (answered - started), 2 * (answered - started)))

    @functools.cached_property
    def counts(self) -> dict[str, list[tuple[float, int]]]:
        """Each read model's count (from the start of the load) at each reading once the load is over; a count over
        several pages (the judges' queues) is the sum of each page's latest reading."""
        return {model.label: self.count_of(model) for model in READ_MODELS}

    def latest(self) -> dict[str, int]:
        return {model.label: (series[-1][1] if (series := self.count_of(model)) else 0) for model in READ_MODELS}

    def count_of(self, model: ReadModel) -> list[tuple[float, int]]:
        urls = self.urls(model)
        readings = sorted((at, url, value) for url in urls for at, value in self.readings.get((model.label, url), []))
        latest: dict[str, int] = {}
        series = []
        for at, url, value in readings:
            latest[url] = value
            if len(latest) == len(urls):
                series.append((at, sum(latest.values()) - self.baseline.get(model.label, 0)))
        return series

    def reached(self, name: str, count: int) -> float | None:
        """When the read model's count first reached `count` (counted from the start of the load)."""
        if name not in self._highest:  # the highest count so far at each reading: a sorted list to bisect
            self._highest[name] = list(itertools.accumulate((value for _, value in self.counts[name]), max))
        index = bisect.bisect_left(self._highest[name], count)
        return self.counts[name][index][0] if index < len(self.counts[name]) else None

async def partitions_of(settings: ServiceSettings, topics: list[str]) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        return [TopicPartition(item["topic"], partition["partition"])
                for item in await admin.describe_topics(topics) for partition in item["partitions"]]
    finally:
        await admin.close()
