"""The visibility benchmark's season and its pools, set up before the timed load: recommending units with their
units, judges, and the entries that the load's recommendations and scores act on (each command acts once)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx

from qcp.chaos.load import qc_achievement, unit_form
from qcp.demo import DEMO_QC_RUBRICS, SHANGHAI_OFFSET
from qcp.services import local_tokens

ORGANIZER = "310000"
ROUND = "material_review"
JUDGES_PER_ENTRY = 3  # each entry of the score pool is assigned to every scoring judge: one score command each
ENTRIES_PER_UNIT = 40  # under the season's quota of 50 recommendations per unit
SETUP_IN_FLIGHT = 16
POOL_UNIT_NUMBERS = 800_000  # the pool units' credit codes and entries' numbers, apart from the load's (from 1,000)
POOL_ENTRY_NUMBERS = 5_000_000
TTL = 3600
# a judge of the season named on each 推荐表 (a judge named there never scores the entry: a conflict of interest)
PANEL_CERTIFICATE = "TGQ-2026-0900"
SCORE_POINTS = {"topic": "12", "process": "38", "effect": "20", "report": "12"}  # 82 on the demo's 文审 rubric


def benchmark_season(now: datetime) -> dict[str, Any]:
    """A QC season in the middle of its year: registration, submission and recommendation open, and its 文审 round
    open for scores at the same time (windows may overlap; a later stage never opens before an earlier one).
    Judges are assigned by hand; 50 recommendations per unit, of any type, so a few units carry the pools."""

    def window(start_days: int, end_days: int) -> dict[str, str]:
        return {"opens_at": (now + timedelta(days=start_days)).isoformat(),
                "closes_at": (now + timedelta(days=end_days)).isoformat()}

    return {
        "organizer": ORGANIZER,
        "organizer_name": "上海市质量协会",
        "year": now.year,
        "kind": "qc_group",
        "title": f"{now.year}年上海市质量管理小组活动（性能测试）",
        "windows": {"registration": window(-30, 60), "submission": window(-30, 60), "recommendation": window(-1, 90),
                    "review": window(-1, 150), "notice": window(150, 160), "publication": window(160, 170)},
        "channels": ["group", "recommender"],  # no 单位通道: an entry is recommended without its unit's confirmation
        "quota": {"per_unit_max": 50},
        "rubrics": DEMO_QC_RUBRICS,
        "rounds": [{"code": ROUND, "label": "文审", "review_form": "material", "judges_per_entry": JUDGES_PER_ENTRY,
                    "assign_on_entry": False}],
    }


def recommender_form(number: int) -> dict[str, Any]:
    return {"recommender_id": f"bench-{number}", "name": f"浦东新区质量推进第{number}工作站", "category": "district",
            "region_code": "310115",
            "contacts": [{"name": "王芳", "department": "质量科", "title": "科长", "mobile": "13916001234",
                          "email": "wangfang@example.gov.cn"}]}


def judge_form(number: int, certificate_no: str) -> dict[str, Any]:
    return {"name": f"评委{number}", "work_unit": f"上海质量管理科学研究院第{number}研究室",
            "certificate_no": certificate_no, "address": "上海市长宁区泰安路74号",
            "email": f"judge{number}@example.org", "mobile": f"1380000{number:04d}"}


def recommendation_form(rank: int, today: str) -> dict[str, Any]:
    """The 推荐表's line of one entry."""
    return {
        "conformance": "符合T/CAQ10201-2020的程序要求，数据完整", "features": "统计方法运用得当，效果经顾客确认",
        "shortcomings": "巩固期偏短", "score": "86.5", "rank": rank, "opinion": "同意推荐",
        "judges": [{"name": "蒋华", "work_unit": "浦东新区质量技术服务中心", "certificate_no": PANEL_CERTIFICATE,
                    "email": "jianghua@example.org", "mobile": "13800000007"}],
        "declaration": {"accepted": True, "signer": "王芳", "signed_on": today},
        "filled_by": "王芳", "phone": "021-58881234", "filled_on": today,
    }


def score_form() -> dict[str, Any]:
    return {"stage": ROUND, "criteria": SCORE_POINTS, "comment": "选题恰当，过程完整"}


@dataclass
class PoolEntry:
    entry_id: str
    credit_code: str
    recommender_id: str


@dataclass
class Pools:
    """What the load's recommendations and scores act on, each once: entries submitted but not recommended, and
    (entry, judge) pairs of entries recommended, past formal review and assigned to the judge."""

    season_id: str
    recommendations: int
    scores: int
    urls: Callable[[str], str]  # service → its base URL
    organizer: dict[str, str]
    to_recommend: list[PoolEntry] = field(default_factory=list)
    to_score: list[tuple[str, str]] = field(default_factory=list)  # (entry id, judge id)
    judge_ids: list[str] = field(default_factory=list)
    recommenders: list[str] = field(default_factory=list)
    units: list[dict[str, Any]] = field(default_factory=list)
    ranks: dict[str, int] = field(default_factory=dict)  # the last rank each recommending unit gave
    tokens: Any = field(default_factory=local_tokens)
    headers: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)

    @property
    def score_entries(self) -> int:
        return math.ceil(self.scores / JUDGES_PER_ENTRY)

    @property
    def entries(self) -> int:
        return self.recommendations + self.score_entries

    def path(self, service: str, path: str) -> str:
        return f"{self.urls(service)}/seasons/{self.season_id}{path}"

    def token(self, role: str, org: str) -> dict[str, str]:
        """A header of a person of the role and organization (a unit, a recommending unit, a judge), minted once."""
        if (role, org) not in self.headers:
            organizer = ORGANIZER if role in ("recommender", "judge") else None
            token = self.tokens.mint(f"{org}-person", role, org, TTL, organizer=organizer)
            self.headers[(role, org)] = {"Authorization": f"Bearer {token}"}
        return self.headers[(role, org)]

    def next_rank(self, recommender_id: str) -> int:
        self.ranks[recommender_id] = self.ranks.get(recommender_id, 0) + 1
        return self.ranks[recommender_id]

    @staticmethod
    def today() -> str:
        return datetime.now(SHANGHAI_OFFSET).date().isoformat()

    # ------------------------------------------------------------ set up, outside the timed window

    async def register(self, client: httpx.AsyncClient, first_number: int) -> None:
        """The scoring judges and the panel's judge, one recommending unit per pool unit, and the pool units."""
        for number in range(JUDGES_PER_ENTRY):
            answer = await ok(client.post(self.path("registration", "/judges"), headers=self.organizer,
                                          json=judge_form(number, f"TGQ-2026-{number + 1:04d}")), "a judge")
            self.judge_ids.append(answer["judge_id"])
        await ok(client.post(self.path("registration", "/judges"), headers=self.organizer,
                             json=judge_form(900, PANEL_CERTIFICATE)), "the panel's judge")
        count = max(1, math.ceil(self.entries / ENTRIES_PER_UNIT))
        for number in range(1, count + 1):
            await ok(client.post(self.path("registration", "/recommenders"), headers=self.organizer,
                                 json=recommender_form(number)), "a recommending unit")
            self.recommenders.append(f"bench-{number}")
        for number, recommender_id in enumerate(self.recommenders, start=first_number):
            unit = unit_form(number) | {"recommender_id": recommender_id}
            await ok(client.post(self.path("registration", "/registrations"), json=unit, headers=self.organizer),
                     "a pool unit")
            self.units.append(unit)

    async def submit(self, client: httpx.AsyncClient, first_number: int) -> list[PoolEntry]:
        """The pools' entries, spread over the units (so consecutive recommendations go to different recommending
        units and never collide on one's quota)."""
        async def one(index: int) -> PoolEntry:
            unit = self.units[index % len(self.units)]
            answer = await ok(client.post(self.path("submission", "/qc-achievements"),
                                          json=qc_achievement(unit, first_number + index),
                                          headers=self.token("unit", unit["credit_code"])), "a pool entry")
            return PoolEntry(answer["entry_id"], unit["credit_code"], unit["recommender_id"])

        return await bounded(one(index) for index in range(self.entries))

    async def put_in_review(self, client: httpx.AsyncClient, entries: list[PoolEntry]) -> None:
        """Each entry of the score pool recommended, past formal review and assigned to every scoring judge; one
        recommending unit's recommendations one after another (its quota is one aggregate)."""
        by_recommender: dict[str, list[PoolEntry]] = {}
        for entry in entries:
            by_recommender.setdefault(entry.recommender_id, []).append(entry)

        async def one_recommender(recommender_id: str, items: list[PoolEntry]) -> None:
            for entry in items:
                await ok(client.post(self.path("review", f"/entries/{entry.entry_id}/recommendation"),
                                     json=recommendation_form(self.next_rank(recommender_id), self.today()),
                                     headers=self.token("recommender", recommender_id)), "a pool recommendation")
                await ok(client.post(self.path("review", f"/entries/{entry.entry_id}/formal-review"),
                                     json={"outcome": "passed"}, headers=self.organizer), "a formal review")
                await ok(client.post(self.path("review", f"/entries/{entry.entry_id}/assignments"),
                                     json={"stage": ROUND, "judge_ids": self.judge_ids}, headers=self.organizer),
                         "an assignment")

        await asyncio.gather(*(one_recommender(key, items) for key, items in by_recommender.items()))

    async def set_up(self, client: httpx.AsyncClient,
                     until_known: Callable[[str, list[str]], Awaitable[None]]) -> None:
        """Everything the load's recommendations and scores need, known to the services that check it."""
        await self.register(client, POOL_UNIT_NUMBERS)
        await until_known("submission", [f"/units/{unit['credit_code']}" for unit in self.units])
        await until_known("review", [f"/recommenders/{key}/recommendations" for key in self.recommenders])
        entries = await self.submit(client, POOL_ENTRY_NUMBERS)
        await until_known("review", [f"/entries/{entry.entry_id}/submission" for entry in entries])
        in_review, self.to_recommend = entries[:self.score_entries], entries[self.score_entries:]
        await self.put_in_review(client, in_review)
        self.to_score = [(entry.entry_id, judge_id) for entry in in_review for judge_id in self.judge_ids][:self.scores]

    def baseline(self, entry_units: int) -> dict[str, int]:
        """What each count in the observer reads once the setup is projected everywhere (the load counts on top)."""
        units = entry_units + len(self.units)
        return {"registration: registrations": units, "review: units": units, "stats: overview: registrations": units,
                "submission: entries": self.entries, "stats: overview: entries": self.entries,
                "review: entries": self.score_entries, "stats: overview: recommended": self.score_entries,
                "review: judges' queues, scored": 0, "stats: judge workload, scored": 0}


async def ok(request: Awaitable[httpx.Response], what: str) -> dict[str, Any]:
    answer = await request
    if not 200 <= answer.status_code < 300:
        raise RuntimeError(f"{what} was refused in the setup: {answer.status_code} {answer.text[:300]}")
    return answer.json()


async def bounded(calls: Iterable[Awaitable[Any]], in_flight: int = SETUP_IN_FLIGHT) -> list[Any]:
    slots = asyncio.Semaphore(in_flight)

    async def one(call: Awaitable[Any]) -> Any:
        async with slots:
            return await call

    return list(await asyncio.gather(*(one(call) for call in calls)))
