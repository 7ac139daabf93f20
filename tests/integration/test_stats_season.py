"""A whole QC season driven through registration, submission and review in-process (the scenario of
test_review_season_scenario), with stats' worker and API alongside in the same namespace: stats'
reports say what happened; a rebuild from offset 0 equals every live report, the pointer switches,
and the live API answers throughout."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest_asyncio

from infra.bootstrap import build_api, build_worker
from qcp.services import definition
from services.stats.adapters.store import REPORT_FIELD, unpacked
from infra.authorization import organizer_of
from tests.harness import bearer, eventually, isolated_settings
from tests.integration.test_review_http import NOW, QC, ORGANIZER, Calendar, ReviewServices, running_review, set_up_season
from tests.integration.test_review_season_scenario import test_a_season_from_recommendation_to_publication as drive_season


NATIONAL = bearer("national", "CAQ", "national-1")
OPS = bearer("ops", "platform", "ops-1")


def reader_of(path: str) -> dict[str, str]:
    """Who reads a report here: the national association the national view, a season's organizer's staff the
    season's reports (as given, unmasked)."""
    if path.startswith("/national/"):
        return NATIONAL
    return bearer("organizer", organizer_of(path.split("/")[2]), "staff")


@dataclass
class SeasonWithStats:
    season: ReviewServices
    stats: httpx.AsyncClient
    database: Any

    async def report(self, path: str, check: Any = lambda _: True, **params: Any) -> dict[str, Any]:
        async def probe() -> Any:
            answer = await self.stats.get(path, headers=reader_of(path), params=params)
            return answer.json() if answer.status_code == 200 and check(answer.json()) else None

        return await eventually(probe, timeout=90)


@dataclass
class RunningStats:
    """Stats' API (an in-process client) and worker in the namespace of running services."""

    client: httpx.AsyncClient
    api: Any
    settings: Any

    @property
    def database(self) -> Any:
        return self.api.state.mongo[self.settings.database_name]


@asynccontextmanager
async def stats_beside(stack: Any, root: Path, running: ReviewServices) -> AsyncIterator[RunningStats]:
    """Stats' API and worker (with its journal) beside registration, submission and review, reading their topics."""
    settings = isolated_settings(stack, "stats", root / "stats", running.settings.topic_prefix)
    api = build_api(definition("stats"), settings)
    stop = asyncio.Event()
    worker = asyncio.create_task(build_worker(definition("stats"), settings).run(stop))
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://stats", timeout=30)
    try:
        yield RunningStats(client, api, settings)
    finally:
        await client.aclose()
        stop.set()
        await worker
        await api.state.mongo.close()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def season(stack, tmp_path_factory) -> AsyncIterator[SeasonWithStats]:
    root = tmp_path_factory.mktemp("stats-season")
    async with running_review(stack, root, Calendar(NOW)) as running, stats_beside(stack, root, running) as stats:
        await set_up_season(running)
        await drive_season(running)
        yield SeasonWithStats(running, stats.client, stats.database)


def counts(rows: list[dict[str, Any]], key: str) -> dict[Any, int]:
    return {row[key]: row["count"] for row in rows if row["count"]}


async def test_the_live_reports_say_what_happened_in_the_season(season: SeasonWithStats) -> None:
    overview = await season.report(f"/seasons/{QC}/overview", lambda page: page["certificates"] == 4
                                   and counts(page["review_progress"], "stage").get("national") == 2)
    assert overview["registrations"] == 4 and overview["entries"] == 7, "six recommended entries and one over quota"
    quotas = {row["recommender_id"]: row for row in overview["recommenders"]}
    assert (quotas["pudong"]["units"], quotas["pudong"]["quota"], quotas["pudong"]["recommended"]) == (2, 4, 4)
    assert (quotas["xuhui"]["quota"], quotas["xuhui"]["recommended"], quotas["xuhui"]["remaining"]) == (2, 1, 1)
    assert quotas["direct"]["accepted_directly"] == 1
    progress = counts(overview["review_progress"], "stage")
    assert progress["recommended"] == progress["formal_review_passed"] == progress["graded"] == 6
    assert progress["material_review_scored"] == progress["presentation_scored"] == 6
    assert (progress["published"], progress["result_withdrawn"], progress["national"]) == (4, 1, 2), \
        "D and the regraded A go to the national season (好中选优)"
    assert counts(overview["grades"], "label") == {"标杆级": 1, "优秀级": 3, "未达等级": 1}, "C's result was withdrawn"

    summary = await season.report(f"/seasons/{QC}/recommendation-summary", recommender="pudong")
    assert len(summary["entries"]) == 4 and summary["total_size"] == 12, "班组人数总计 as review counts it"
    assert [row["rank"] for row in summary["entries"]] == [1, 2, 3, 4]
    workload = await season.report(f"/seasons/{QC}/judge-workload")
    judge_4 = next(row for row in workload["judges"] if row["judge_id"] == season.season.judge(4))
    assert judge_4["stages"]["material_review"] == {"assigned": 6, "scored": 6} and judge_4["revisions"] == 1
    assert judge_4["stages"]["presentation"] == {"assigned": 6, "scored": 6} and judge_4["to_score"] == 0
    # each report document is written in its own round, about once a second: wait for this one too
    national = await season.report("/national/2026/overview", lambda page: page["provinces"][0]["published"] == 4)
    assert national["provinces"][0]["organizer"] == "310000"


async def test_a_rebuild_equals_every_live_report_and_switches_over(season: SeasonWithStats) -> None:
    reports = season.database[f"reports_{(await season.database['generations'].find_one({'_id': 'active'}))['generation']}"]

    async def settled() -> dict[str, Any] | None:
        """The live reports once two readings two seconds apart agree (they are written about once a second,
        and the national season's reports follow the provincial events that feed them)."""
        first = {item["_id"]: unpacked(item[REPORT_FIELD]) async for item in reports.find({})}
        await asyncio.sleep(2)
        second = {item["_id"]: unpacked(item[REPORT_FIELD]) async for item in reports.find({})}
        return second if first == second else None

    before = await eventually(settled, timeout=60)
    assert len(before) >= 6
    started = await season.stats.post("/rebuilds", headers=OPS)
    assert started.status_code == 202, started.text
    rebuild_id = started.json()["rebuild_id"]
    answered = []

    views = []

    async def done() -> Any:
        live = await season.stats.get(f"/seasons/{QC}/overview", headers=ORGANIZER)
        answered.append(live.status_code)
        views.append((await season.stats.get(f"/rebuilds/{rebuild_id}", headers=OPS)).json())
        return views[-1] if views[-1]["status"] not in ("requested", "running") else None

    try:
        outcome = await eventually(done, timeout=120, interval=0.1)
    except AssertionError as error:
        raise AssertionError(f"the rebuild did not finish: {views[-1] if views else None}") from error
    assert outcome["status"] == "switched" and outcome["differences"] == [], outcome
    assert set(answered) == {200}, "the live reports answered during the rebuild"
    pointer = await season.database["generations"].find_one({"_id": "active"})
    assert pointer["generation"] == f"r{rebuild_id}" and pointer["rebuild_id"] == rebuild_id
    after = {item["_id"]: unpacked(item[REPORT_FIELD]) async for item in season.database[f"reports_r{rebuild_id}"].find({})}
    assert after == before, "every rebuilt report equals the live one"
