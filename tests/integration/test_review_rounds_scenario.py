"""A season whose 初审 is a gate to the 发表赛 and whose grade comes from both (Shandong 2024, seed 003: "通过初审的
成果可以参加发表赛 … 根据初审和发表赛成绩，综合认定成果等级"), over HTTP on the real stack.

Registration, submission and review run in-process (one injected clock) as in test_review_http, the review
worker with its assignment process manager, and stats beside them. The season is opened through
registration's API with its rounds on the demo calendar: 初审 (three judges, weight 0.4, a gate) from day 90
to day 110, the 发表赛 (three judges, weight 0.6) from day 105, overlapping it, to day 150. Four entries pass
formal review and get their 初审 judges from the assignment worker; the organizer lets the top three go on;
only those get 发表赛 judges; the fourth is recorded as not advanced with its reason and is not graded. A late
初审 score is refused naming the round and its window. Stats count the rounds, and a rebuild over a log that
also holds an older season's events (SeasonOpened version 2) equals the live reports.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest_asyncio
from aiokafka import AIOKafkaProducer

from benchmarks.stats_events import SeasonPlan, season_events
from qcp.demo import demo_season
from infra.windows import shown
from services.stats.adapters.store import REPORT_FIELD, unpacked
from tests.harness import eventually
from tests.integration.test_review_http import (
    GRADE_BANDS,
    NOW,
    ORGANIZER,
    PUDONG,
    QC,
    RUBRICS,
    XUHUI,
    AUDITOR,
    Calendar,
    ReviewServices,
    fill,
    problem,
    recommendation_form,
    running_review,
    set_up_season,
)
from tests.integration.test_stats_season import OPS, stats_beside
from tests.integration.test_submission_http import bearer

DAY = timedelta(days=1)
OLD_SEASON = SeasonPlan(season_no=31, organizer="540000", recommenders=1, units_per_recommender=1, entries_per_unit=1,
                        judges=3)


def window(start: int, end: int) -> dict[str, str]:
    return {"opens_at": (NOW + start * DAY).isoformat(), "closes_at": (NOW + end * DAY).isoformat()}


def gated_season() -> dict[str, Any]:
    return demo_season(2026, NOW) | {
        "title": "2026年质量管理小组成果初审与发表赛（演示）",
        "rubrics": RUBRICS, "grade_bands": GRADE_BANDS,
        "rounds": [
            {"code": "initial_review", "label": "初审", "review_form": "material", "judges_per_entry": 3,
             "weight": "0.4", "window": window(90, 110), "gate": {}},
            {"code": "presentation", "label": "发表赛", "review_form": "presentation", "judges_per_entry": 3,
             "weight": "0.6", "window": window(105, 150)},
        ],
    }


@dataclass
class GatedSeason:
    running: ReviewServices
    stats: Any
    entries: dict[str, str]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def gated(stack, tmp_path_factory) -> AsyncIterator[GatedSeason]:
    root = tmp_path_factory.mktemp("review-rounds")
    async with running_review(stack, root, Calendar(NOW), assignment_worker=True) as running, \
            stats_beside(stack, root, running) as stats:
        await publish_an_older_season(running)
        await set_up_season(running, season=gated_season())
        yield GatedSeason(running, stats, {})


async def publish_an_older_season(running: ReviewServices) -> None:
    """An older season's registration events (SeasonOpened version 2 …) on the log, as a platform upgraded
    from before review rounds holds them."""
    producer = AIOKafkaProducer(bootstrap_servers=running.settings.kafka_bootstrap, linger_ms=5)
    await producer.start()
    try:
        for topic, envelope in season_events(OLD_SEASON):
            if topic != "registration.events":
                continue
            await producer.send(running.settings.topic(topic), json.dumps(envelope).encode(),
                                key=envelope["aggregate_id"].encode(), headers=[("type", envelope["type"].encode())])
        await producer.flush()
    finally:
        await producer.stop()


async def judges_of(running: ReviewServices, entry_id: str, stage: str) -> list[str]:
    page = await running.until(
        f"/seasons/{QC}/entries/{entry_id}/scores",
        lambda page: any(item["stage"] == stage and item["status"] == "assigned" for item in page["assignments"]),
    )
    return next(item["judge_ids"] for item in page["assignments"] if item["stage"] == stage)


async def scored(running: ReviewServices, entry_id: str, stage: str, total: str) -> None:
    rubric = RUBRICS[0] if stage == "initial_review" else RUBRICS[1]
    for judge_id in await judges_of(running, entry_id, stage):
        await running.ok(f"/seasons/{QC}/entries/{entry_id}/scores",
                         {"stage": stage, "judge_id": judge_id, "criteria": fill(rubric, total)})


INITIAL = {"A": "92", "B": "85", "C": "70", "D": "88"}
CONTEST = {"A": "94", "B": "80", "D": "90"}


def combined(name: str) -> str:
    value = Decimal(INITIAL[name]) * Decimal("0.4") + Decimal(CONTEST[name]) * Decimal("0.6")
    return str(value.quantize(Decimal("0.01")))


async def test_the_initial_review_gates_the_contest_and_the_grade_comes_from_both(gated: GatedSeason) -> None:
    season, entries = gated.running, gated.entries
    rounds = await season.until(f"/seasons/{QC}/rounds")
    assert [(item["code"], item["label"], item["gate"] is not None) for item in rounds["rounds"]] == [
        ("initial_review", "初审", True), ("presentation", "发表赛", False)]

    # ---- four entries recommended and past formal review: the assignment worker gives each its 初审 judges
    entries |= {
        "A": await season.submit(0, topic="降低变压器装配不良率", qc_type="problem_solving"),
        "B": await season.submit(0, topic="智能巡检机器人研制", qc_type="innovation", group_name="创新QC小组"),
        "C": await season.submit(1, topic="提高灌装一次合格率", qc_type="problem_solving"),
        "D": await season.submit(3, topic="降低沥青路面离析率", qc_type="problem_solving"),
    }
    for rank, name in enumerate("ABC", start=1):
        await season.ok(f"/seasons/{QC}/entries/{entries[name]}/recommendation",
                        recommendation_form(rank, ["TGQ-2026-0008"]), PUDONG)
    await season.ok(f"/seasons/{QC}/entries/{entries['D']}/recommendation",
                    recommendation_form(1, ["TGQ-2026-0009"]), XUHUI)
    season.calendar.now = NOW + 100 * DAY
    for name in "ABCD":
        await season.ok(f"/seasons/{QC}/entries/{entries[name]}/formal-review", {"outcome": "passed"})
    for name in "ABCD":
        await scored(season, entries[name], "initial_review", INITIAL[name])

    # ---- a late score in the closed 初审 is refused, naming the round and its window
    season.calendar.now = NOW + 111 * DAY
    judge_id = (await judges_of(season, entries["C"], "initial_review"))[0]
    late = await season.post(f"/seasons/{QC}/entries/{entries['C']}/score-revisions",
                             {"stage": "initial_review", "judge_id": judge_id, "criteria": fill(RUBRICS[0], "90"),
                              "reason": "复核后更正"})
    assert problem(late) == (409, "season_id", "season.window.round")
    assert late.json()["detail"] == (
        f"the 初审 (initial_review) window of season {QC} is closed: it runs from {shown(NOW + 90 * DAY)} to "
        f"{shown(NOW + 110 * DAY)} Asia/Shanghai (now {shown(NOW + 111 * DAY)})")

    # ---- the gate: the top three go on, C is recorded as not advanced with its reason
    decided = await season.ok(f"/seasons/{QC}/rounds/initial_review/advance", {"method": "top_n", "top_n": 3})
    assert sorted(decided["advanced"]) == sorted(entries[name] for name in "ABD")
    assert decided["not_advanced"] == [{"entry_id": entries["C"], "reason": "gate.top_n.below",
                                        "message": "ranked 4 in 初审 with 70.00; the top 3 go on"}]
    again = await season.post(f"/seasons/{QC}/rounds/initial_review/advance", {"method": "top_n", "top_n": 4})
    assert problem(again) == (409, "round_code", "gate.decided")
    outcomes = await season.until(f"/seasons/{QC}/rounds/initial_review",
                                  lambda page: len(page["advanced"]) == 3 and len(page["not_advanced"]) == 1)
    stopped = outcomes["not_advanced"][0]
    assert (stopped["entry_id"], stopped["reason"], stopped["rank"], stopped["score"]) == (
        entries["C"], "gate.top_n.below", 4, "70.00")

    # ---- the 发表赛: only the advanced entries get judges; graded from both rounds by the season's weights
    season.calendar.now = NOW + 120 * DAY
    for name in "ABD":
        await scored(season, entries[name], "presentation", CONTEST[name])
    for name in "ABD":
        graded = await season.ok(f"/seasons/{QC}/entries/{entries[name]}/grade")
        assert graded["combined_score"] == combined(name)
    not_graded = await season.post(f"/seasons/{QC}/entries/{entries['C']}/grade")
    assert problem(not_graded) == (409, "entry_id", "grade.entry.not_advanced")
    c_page = await season.get(f"/seasons/{QC}/entries/{entries['C']}/scores")
    assert [item["stage"] for item in c_page["assignments"]] == ["initial_review"], "no 发表赛 judges for C"
    assert c_page["progress"] == "not_advanced"


async def test_a_rounds_window_changes_with_its_reason(gated: GatedSeason) -> None:
    season = gated.running
    changed = await season.registration.put(
        f"/seasons/{QC}/rounds/presentation/window",
        json=window(105, 152) | {"reason": "发表赛延期两天"}, headers=ORGANIZER)
    assert changed.status_code == 200, changed.text
    page = await season.until(f"/seasons/{QC}/rounds", lambda page: page["rounds"][1]["window"]["closes_at"].startswith(
        (NOW + 152 * DAY).date().isoformat()))
    assert page["rounds"][1]["label"] == "发表赛"
    unknown = await season.registration.put(f"/seasons/{QC}/rounds/video/window",
                                            json=window(105, 152) | {"reason": "典型经验视频"}, headers=ORGANIZER)
    assert problem(unknown) == (404, "round_code", "season.rounds.unknown")


async def test_stats_count_the_rounds_and_a_rebuild_over_old_and_new_events_equals_the_live_reports(
    gated: GatedSeason,
) -> None:
    stats = gated.stats.client

    async def overview() -> Any:
        answer = await stats.get(f"/seasons/{QC}/overview", headers=ORGANIZER)
        page = answer.json() if answer.status_code == 200 else None
        rows = {row["round"]: row for row in (page or {}).get("review_rounds") or []}
        graded = {row["stage"]: row["count"] for row in (page or {}).get("review_progress") or []}.get("graded")
        done = rows.get("presentation", {}).get("scored") == 3 and rows["initial_review"]["not_advanced"] == 1
        return page if done and graded == 3 else None  # the last events of the scenario are folded

    page = await eventually(overview, timeout=90)
    rows = {row["round"]: row for row in page["review_rounds"]}
    assert (rows["initial_review"]["assigned"], rows["initial_review"]["advanced"]) == (4, 3)
    assert rows["initial_review"]["not_advanced_reasons"] == [{"reason": "gate.top_n.below", "count": 1}]
    assert rows["presentation"]["assigned"] == 3 and rows["presentation"]["gate"] is False
    old = await eventually(lambda: _report(stats, f"/seasons/{OLD_SEASON.season_id}/overview"), timeout=60)
    assert [row["round"] for row in old["review_rounds"]] == ["material_review", "presentation"]

    database = gated.stats.database
    generation = (await database["generations"].find_one({"_id": "active"}))["generation"]
    before = {item["_id"]: unpacked(item[REPORT_FIELD]) async for item in database[f"reports_{generation}"].find({})}
    started = await stats.post("/rebuilds", headers=OPS)
    assert started.status_code == 202, started.text
    rebuild_id = started.json()["rebuild_id"]

    async def finished() -> Any:
        view = (await stats.get(f"/rebuilds/{rebuild_id}", headers=OPS)).json()
        return view if view["status"] not in ("requested", "running") else None

    outcome = await eventually(finished, timeout=120, interval=0.2)
    assert outcome["status"] == "switched" and outcome["differences"] == [], outcome
    after = {item["_id"]: unpacked(item[REPORT_FIELD]) async for item in database[f"reports_r{rebuild_id}"].find({})}
    assert after == before


async def _report(client: Any, path: str) -> Any:
    answer = await client.get(path, headers=AUDITOR)
    return answer.json() if answer.status_code == 200 else None


async def test_a_season_whose_rounds_contradict_themselves_is_refused_naming_the_field(gated: GatedSeason) -> None:
    season = gated.running
    rounds = gated_season()["rounds"]
    cases = [
        ({"rounds": [rounds[0]]}, (422, "rounds.0.gate", "season.rounds.gate_last")),
        ({"rounds": [rounds[1], rounds[0] | {"gate": None}]}, (422, "rounds.1.window.opens_at", "season.rounds.order")),
        ({"stage_weights": {"presentation": "1"}}, (422, "stage_weights", "season.rounds.with_stage_fields")),
        ({"rounds": [rounds[0] | {"code": "formal_review"}, rounds[1]]},
         (422, "rounds.0.code", "season.rounds.code_reserved")),
    ]
    for change, expected in cases:
        answer = await season.registration.post("/seasons", json=gated_season() | {"year": 2027} | change,
                                                headers=ORGANIZER)
        assert problem(answer) == expected, answer.text
    hostile = await season.registration.post(
        "/seasons", json=gated_season() | {"year": 2027, "rounds": [rounds[0] | {"code": "初审; drop"}]},
        headers=ORGANIZER)
    assert hostile.status_code == 422


async def test_only_the_seasons_organizer_advances_a_gate(gated: GatedSeason) -> None:
    season = gated.running
    for headers, expected in ((PUDONG, 403), (bearer("organizer", "370000", "staff-sd"), 404)):
        answer = await season.post(f"/seasons/{QC}/rounds/initial_review/advance", {"method": "top_n", "top_n": 1},
                                   headers)
        assert answer.status_code == expected, answer.text
    unknown = await season.post(f"/seasons/{QC}/rounds/video/advance", {"method": "top_n", "top_n": 1})
    assert problem(unknown) == (404, "round_code", "review_round.unknown")
    careless = await season.post(f"/seasons/{QC}/rounds/initial_review/advance", {"method": "top_n", "top_n": -1})
    assert careless.status_code == 422
