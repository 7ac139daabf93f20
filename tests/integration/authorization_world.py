"""A small world in two provinces for the authorization matrix: the four services in-process, seeded over HTTP.

Shanghai (310000) and Shandong (370000) each run their 2026 QC season with a recommending unit of the SAME id
(`pudong`), one unit with its registration and one confirmed, recommended entry that passed formal review,
and judges registered from the same certificate (a judge's id is derived from its season, so the two ids
differ). Only in Shanghai is a judge assigned to the entry. Stats reads the same topics beside them.

The national association's own objects, where it acts as an organizer, are the national season's (opened
here, with nothing in it). Each province's objects are one set of parameter values (`Side`): the caller's own (Shanghai's) and another's
(Shandong's), named by the path and query parameters the routes use.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from contracts.builtin_profiles import builtin_profiles
from qcp.demo import demo_registration
from tests.harness import bearer, eventually
from tests.integration.test_national_view import FILERS, SH_QC
from tests.integration.test_national_flow import RECOMMENDING, REGISTERING, REVIEWING, SD, SH, example_seasons
from tests.integration.test_review_http import (
    CONFIRMATION,
    Calendar,
    ReviewServices,
    judge_form,
    recommendation_form,
    running_review,
)
from tests.integration.test_stats_season import stats_beside
from tests.integration.test_submission_http import recommender_form, unit_token
from tests.unit.test_submission_forms import qc_form

SERVICES = ("registration", "submission", "review", "stats")
NATIONAL = bearer("national", "CAQ", "caq-viewer")
NATIONAL_SEASON = "CAQ-2026-qc_group"  # where the national association acts as an organizer
ORGANIZERS = {SH: bearer("organizer", "310000", "staff-sh"), SD: bearer("organizer", "370000", "staff-sd")}
RECOMMENDER_ID = "pudong"
# the unit of each province (demo units; Shandong's is another unit than Shanghai's)
UNITS = {SH: 0, SD: 3}
# judges registered in both seasons from the same certificates; index 0 scores (assigned in Shanghai only),
# index 3 signs the 推荐表 (so it is never assigned to that entry)
JUDGES = (0, 3)


@dataclass
class Side:
    """One province's objects, by the parameter names the routes use."""

    season_id: str
    credit_code: str
    entry_id: str
    recommender_id: str
    judge_id: str
    batch_id: str = ""  # the province feed's batch (one unreadable line, quarantined) in each service
    aggregate_ids: dict[str, str] = field(default_factory=dict)  # service -> an aggregate of this season's

    @property
    def organizer(self) -> str:
        return self.season_id.split("-")[0]

    def params(self, service: str) -> dict[str, str]:
        values = {
            "season_id": self.season_id, "credit_code": self.credit_code, "entry_id": self.entry_id,
            "recommender_id": self.recommender_id, "recommender": self.recommender_id, "judge_id": self.judge_id,
            "year": self.season_id.split("-")[1], "province": self.organizer, "batch_id": self.batch_id,
        }
        if service in self.aggregate_ids:
            values["aggregate_id"] = self.aggregate_ids[service]
        return values


@dataclass
class World:
    apps: dict[str, FastAPI]
    clients: dict[str, httpx.AsyncClient]
    own: Side      # Shanghai's: the callers' own
    other: Side    # Shandong's: another province's, another unit's, another recommending unit's, another judge's
    national: Side  # the national season's: the national association's own where it acts as an organizer
    stranger: Side  # what a filter names that is not the caller's: Shandong's, and Shanghai's `xuhui`
    # parameters that do not depend on ownership (a round, a window's stage, a built-in profile...)
    common: dict[str, str] = field(default_factory=dict)

    def tokens(self) -> dict[str, dict[str, str]]:
        """A token of every role but SYSTEM, all of Shanghai (recommender and judge tokens name organizer 310000)."""
        return {
            "organizer": ORGANIZERS[SH],
            "unit": unit_token(UNITS[SH]),
            "recommender": bearer("recommender", RECOMMENDER_ID, "pudong-staff", organizer="310000"),
            "judge": bearer("judge", self.own.judge_id, "judge-sh", organizer="310000"),
            "national": NATIONAL,
            "feed": bearer("feed", "310000", "feed-sh"),
            "auditor": bearer("auditor", "audit", "auditor-1"),
            "ops": bearer("ops", "ops", "ops-1"),
        }


@asynccontextmanager
async def authorization_world(stack: Any, root: Path) -> AsyncIterator[World]:
    calendar = Calendar(REGISTERING)
    async with running_review(stack, root, calendar) as running, stats_beside(stack, root, running) as stats:
        judges = await _open_seasons(running)
        calendar.now = RECOMMENDING
        entries = {season_id: await _submit_and_recommend(running, season_id) for season_id in (SH, SD)}
        for season_id in (SH, SD):
            await _file_statistics(running, season_id)
        calendar.now = REVIEWING
        for season_id in (SH, SD):
            path = f"/seasons/{season_id}/entries/{entries[season_id]}"
            await running.ok(f"{path}/formal-review", {"outcome": "passed"}, ORGANIZERS[season_id])
            await running.until(path, lambda item: item["progress"] == "in_review", NATIONAL)
        path = f"/seasons/{SH}/entries/{entries[SH]}"
        await running.ok(f"{path}/assignments", {"stage": "material_review", "judge_ids": [judges[SH]]}, ORGANIZERS[SH])
        judge = bearer("judge", judges[SH], "judge-sh", organizer="310000")
        await running.until(f"/judges/{judges[SH]}/queue", lambda queue: entries[SH] in str(queue), judge)
        sides = {season_id: Side(season_id, demo_registration(UNITS[season_id])["credit_code"], entries[season_id],
                                 RECOMMENDER_ID, judges[season_id]) for season_id in (SH, SD)}
        clients = {"registration": running.registration, "submission": running.submission,
                   "review": running.review, "stats": stats.client}
        for season_id in (SH, SD):
            sides[season_id].batch_id = await _post_feed_batch(clients, season_id.split("-")[0])
        for season_id in (SH, SD):
            await _stats_knows(stats.client, season_id, entries[season_id])
            sides[season_id].aggregate_ids = await _aggregates(clients, season_id)
        # the national season holds nothing here: Shanghai's objects named under it (digests and feed batches,
        # read platform-wide, are never the national season's own)
        national = dataclasses.replace(sides[SH], season_id=NATIONAL_SEASON)
        apps = {name: client._transport.app for name, client in clients.items()}  # noqa: SLF001
        profile_id, _, version = next(iter(builtin_profiles())).partition("@v")
        common = {"stage": "review", "round_code": "material_review", "objection_id": "o1", "profile_id": profile_id,
                  "version": version, "job_id": "no-such-job", "rebuild_id": "no-such-rebuild"}
        stranger = dataclasses.replace(sides[SD], recommender_id="xuhui")
        yield World(apps, clients, sides[SH], sides[SD], national, stranger, common)


async def _open_seasons(running: ReviewServices) -> dict[str, str]:
    """Both seasons with `pudong`, one unit each and the judges; the scoring judge's id per season."""
    seasons = example_seasons()
    await running.register("/seasons", seasons[NATIONAL_SEASON], bearer("organizer", "CAQ", "caq-secretariat"))
    scoring: dict[str, str] = {}
    for season_id in (SH, SD):
        headers = ORGANIZERS[season_id]
        await running.register("/seasons", seasons[season_id], headers)
        region = "310115" if season_id == SH else "370112"
        await running.register(f"/seasons/{season_id}/recommenders",
                               recommender_form(RECOMMENDER_ID, "浦东新区市场监督管理局", "district", region_code=region), headers)
        body = demo_registration(UNITS[season_id]) | {"recommender_id": RECOMMENDER_ID, "member": True}
        await running.register(f"/seasons/{season_id}/registrations", body, unit_token(UNITS[season_id]))
        ids = [(await running.register(f"/seasons/{season_id}/judges", judge_form(index), headers))["judge_id"]
               for index in JUDGES]
        scoring[season_id] = ids[0]
    for season_id in (SH, SD):
        await _until(running.review, f"/seasons/{season_id}/judges", lambda page: page["total"] == len(JUDGES))
    return scoring


async def _until(client: httpx.AsyncClient, path: str, check: Any, headers: dict[str, str] = NATIONAL,
                 **params: Any) -> Any:
    """Poll until the answer is 200 and passes the check; the last answer is in the error otherwise."""
    last: list[str] = []

    async def probe() -> Any:
        answer = await client.get(path, headers=headers, params=params)
        last[:] = [f"{answer.status_code} {answer.text[:400]}"]
        return answer.json() if answer.status_code == 200 and check(answer.json()) else None

    try:
        return await eventually(probe, timeout=90)
    except AssertionError as error:
        raise AssertionError(f"{path}: {last}") from error


async def _submit_and_recommend(running: ReviewServices, season_id: str) -> str:
    unit = UNITS[season_id]
    form = qc_form(unit, qc_type="problem_solving", topic="提高产品一次合格率", group_name="攻关QC小组")

    async def submitted() -> Any:
        # submission learns of the unit's registration from registration's events; until then it refuses
        answer = await running.submission.post(f"/seasons/{season_id}/qc-achievements", json=form,
                                               headers=unit_token(unit))
        return answer.json()["entry_id"] if answer.status_code == 201 else None

    entry_id = await eventually(submitted, timeout=60)
    status = "submitted"
    if season_id == SH:  # Shanghai offers 单位通道: the unit confirms before it is recommended
        confirmed = await running.submission.post(f"/seasons/{season_id}/entries/{entry_id}/confirmation",
                                                  json=CONFIRMATION, headers=unit_token(unit))
        assert confirmed.status_code == 200, confirmed.text
        status = "confirmed"
    await running.until(f"/seasons/{season_id}/entries/{entry_id}/submission",
                        lambda item: item["status"] == status, NATIONAL)
    body = recommendation_form(1, ["TGQ-2026-0004"], filled_on="2026-07-15",
                               declaration={"accepted": True, "signer": "王芳", "signed_on": "2026-07-15"})
    await running.ok(f"/seasons/{season_id}/entries/{entry_id}/recommendation", body,
                     bearer("recommender", RECOMMENDER_ID, "pudong-staff", organizer=season_id.split("-")[0]))
    await running.until(f"/seasons/{season_id}/entries/{entry_id}", lambda item: item["progress"] == "recommended",
                        NATIONAL)
    return entry_id


async def _file_statistics(running: ReviewServices, season_id: str) -> None:
    """`pudong`'s 统计表 of the season (the platform's default form in both), for stats' statistics report."""
    assert SH_QC == SH
    statistics = FILERS[SH][2]
    path = f"/seasons/{season_id}/recommenders/{RECOMMENDER_ID}/qc-statistics"
    headers = bearer("recommender", RECOMMENDER_ID, "pudong-staff", organizer=season_id.split("-")[0])

    async def filed() -> Any:
        answer = await running.submission.post(path, json=statistics, headers=headers)
        return answer.status_code == 201 or answer.text

    assert await eventually(filed, timeout=30) is True


async def _post_feed_batch(clients: dict[str, httpx.AsyncClient], province: str) -> str:
    """The province's feed posts one batch to each service: a line that is not JSON, quarantined."""
    batch_id = f"authorization-{province}"
    headers = bearer("feed", province, f"feed-{province}")
    for service in ("registration", "submission", "review"):
        answer = await clients[service].post("/feeds/batches", content=b"not json at all\n", headers=headers,
                                             params={"batch_id": batch_id})
        assert answer.status_code == 200, answer.text
        await _until(clients[service], f"/feeds/batches/{batch_id}", lambda _: True, province=province)
        await _until(clients[service], "/feeds/quarantine", lambda page: page["total"] == 1, province=province)
    return batch_id


async def _stats_knows(client: httpx.AsyncClient, season_id: str, entry_id: str) -> None:
    async def probe() -> bool:
        line = await client.get(f"/seasons/{season_id}/entries/{entry_id}", headers=NATIONAL)
        overview = await client.get(f"/seasons/{season_id}/overview", headers=NATIONAL)
        statistics = await client.get(f"/seasons/{season_id}/statistics", params={"recommender": RECOMMENDER_ID},
                                      headers=NATIONAL)
        return (line.status_code == overview.status_code == statistics.status_code == 200
                and overview.json().get("entries", 0) >= 1)

    await eventually(probe, timeout=90)


async def _aggregates(clients: dict[str, httpx.AsyncClient], season_id: str) -> dict[str, str]:
    """One aggregate of the season in each service's digest chains (stats: its journal's)."""
    found: dict[str, str] = {}
    for service in SERVICES:
        answer = await clients[service].get("/audit/digests", params={"season_id": season_id}, headers=NATIONAL)
        if answer.status_code == 200 and answer.json().get("aggregates"):
            found[service] = answer.json()["aggregates"][0]["aggregate_id"]
    return found
