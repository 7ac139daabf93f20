"""Stats on the real stack: envelopes of two seasons on the topics become live reports equal to the pure
reports of the same events (JSON, CSV, XLSX); malformed messages go to stats.dlq while the reports keep
flowing; unknown things are 404s naming them; a rebuild replays from offset 0, equals the live reports,
switches the pointer and the API answers throughout."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio
from openpyxl import load_workbook

from benchmarks.stats_events import SeasonPlan, season_events
from infra.authorization import organizer_of
from services.stats.adapters.store import StatsStore
from services.stats.domain.comparison import differences
from tests.harness import eventually, read_topic
from tests.integration.stats_stack import RunningStats, running_stats
from tests.integration.test_submission_http import bearer

ORGANIZER = bearer("organizer", "310000", "staff-1")
AUDITOR = bearer("auditor", "audit", "auditor-1")
NATIONAL = bearer("national", "CAQ", "national-1")
OPS = bearer("ops", "platform", "ops-1")
SHANGHAI = SeasonPlan(season_no=11, recommenders=3, units_per_recommender=2, entries_per_unit=2, judges=7)
SHANDONG = SeasonPlan(season_no=12, organizer="370000", recommenders=2, units_per_recommender=2, entries_per_unit=1,
                      judges=5, province_feed=True)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stats(stack, tmp_path_factory) -> AsyncIterator[RunningStats]:
    async with running_stats(stack, tmp_path_factory.mktemp("stats")) as running:
        for plan in (SHANGHAI, SHANDONG):
            for topic, envelope in season_events(plan):
                await running.publish(topic, envelope)
        yield running


async def all_reports_equal_expected(stats: RunningStats) -> None:
    expected = stats.expected()
    for key, report in expected.items():
        _, scope, name = key.split("/", 2)
        if name.startswith("entries/"):
            for entry_id, line in report["entries"].items():
                assert await stats.report(f"/seasons/{scope}/entries/{entry_id}", lambda page, line=line: page == line,
                                          headers=bearer("organizer", organizer_of(scope), "staff"))
            continue
        params = {}
        # each season's reports as its organizer's staff read them (personal data unmasked), the national view
        # as the national association does
        headers = NATIONAL if key.startswith("national/") else bearer("organizer", organizer_of(scope), "staff")
        if key.startswith("national/"):
            path = f"/national/{scope}/{name}"
        elif name.startswith("recommendation-summary/"):
            path, params = f"/seasons/{scope}/recommendation-summary", {"recommender": name.split("/")[1]}
        else:
            path = f"/seasons/{scope}/{name}"
        answer = await stats.get(path, headers, **params)
        for _ in range(100):
            if answer.status_code == 200 and answer.json() == report:
                break
            await asyncio.sleep(0.3)
            answer = await stats.get(path, headers, **params)
        assert answer.status_code == 200, (key, answer.text)
        assert differences({key: answer.json()}, {key: report}) == [], key


async def test_live_reports_equal_the_pure_reports_of_the_same_events(stats: RunningStats) -> None:
    overview = await stats.report(f"/seasons/{SHANGHAI.season_id}/overview", lambda page: page["certificates"] > 0)
    assert overview["registrations"] == 6 and overview["entries"] == 12
    await all_reports_equal_expected(stats)
    national = await stats.report("/national/2026/overview", lambda page: page["total"]["provinces"] == 2,
                                  headers=NATIONAL)
    assert [row["organizer"] for row in national["provinces"]] == ["310000", "370000"]


async def test_an_entrys_line_in_the_reports(stats: RunningStats) -> None:
    line = await stats.report(f"/seasons/{SHANGHAI.season_id}/entries/e0000000", lambda page: page["certificate_no"])
    assert (line["recommender_id"], line["channel"], line["formal_review"]) == ("r000", "recommended", "passed")
    assert line["stages"]["material_review"] == {"judges": 5, "scored": 5, "blocked": None}
    assert set(line["progress"]) >= {"confirmed", "graded", "published"}


async def test_csv_and_xlsx_with_chinese_headers(stats: RunningStats) -> None:
    await stats.report(f"/seasons/{SHANGHAI.season_id}/statistics", lambda page: len(page["recommenders"]) == 3)
    csv = await stats.get(f"/seasons/{SHANGHAI.season_id}/statistics", format="csv")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert csv.content.startswith(b"\xef\xbb\xbf") and "本年度QC小组成果率" in csv.content.decode("utf-8-sig")
    xlsx = await stats.api.get(f"/seasons/{SHANGHAI.season_id}/recommendation-summary", params={"recommender": "r001"},
                               headers=ORGANIZER | {"Accept": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"})
    assert xlsx.status_code == 200, xlsx.text
    workbook = load_workbook(io.BytesIO(xlsx.content))
    rows = [[cell.value for cell in row] for row in workbook["推荐表"].iter_rows()]
    assert rows[2] == ["企业名称", "小组/班组名称", "人数", "材料评价（符合标准程度/特色/不足之处）", "打分", "排序", "评委", "推荐意见"]
    assert rows[-1][1:3] == ["人数总计", 20]
    single = await stats.get(f"/seasons/{SHANGHAI.season_id}/statistics", recommender="r000", format="xlsx")
    sheet = load_workbook(io.BytesIO(single.content))["统计表"]
    assert [cell.value for cell in sheet[3]] == ["序号", "统计项目", "单位", "数量"]


async def test_unknown_things_are_404s_naming_them(stats: RunningStats) -> None:
    for path, params, detail in (
        ("/seasons/310000-1999-qc_group/overview", {}, "season 310000-1999-qc_group is not known to stats"),
        ("/seasons/310000-1999-qc_group/judge-workload", {"format": "csv"}, "season 310000-1999-qc_group is not known to stats"),
        (f"/seasons/{SHANGHAI.season_id}/recommendation-summary", {"recommender": "nobody"},
         f"recommending unit nobody in season {SHANGHAI.season_id} is not known to stats"),
        (f"/seasons/{SHANGHAI.season_id}/statistics", {"recommender": "nobody"},
         f"a statistics table of recommending unit nobody in season {SHANGHAI.season_id} is not known to stats"),
        ("/national/2001/statistics", {}, "a province's season of 2001 is not known to stats"),
        (f"/seasons/{SHANGHAI.season_id}/entries/nothing", {}, f"entry nothing in season {SHANGHAI.season_id} is not known to stats"),
        ("/seasons/310000-1999-qc_group/entries/e1", {}, "season 310000-1999-qc_group is not known to stats"),
    ):
        answer = await stats.get(path, NATIONAL if path.startswith("/national/") else ORGANIZER, **params)
        assert (answer.status_code, answer.json()["detail"]) == (404, detail)
    answer = await stats.get("/rebuilds/doesnotexist", OPS)
    assert (answer.status_code, answer.json()["detail"]) == (404, "rebuild doesnotexist is not known to stats")
    refused = await stats.get(f"/seasons/{SHANGHAI.season_id}/overview", format="pdf")
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"].endswith("format")


async def test_malformed_messages_are_dead_lettered_and_the_reports_keep_flowing(stats: RunningStats) -> None:
    topic = stats.settings.topic("registration.events")
    await stats.producer.send_and_wait(topic, b"{not json", key=b"k1")
    _, valid = next(season_events(SeasonPlan(season_no=13, organizer="540000")))
    invalid = valid | {"payload": valid["payload"] | {"year": "not a year"}, "aggregate_id": "6f1d3c2e-0000-4000-8000-000000000001"}
    await stats.producer.send_and_wait(topic, json.dumps(invalid).encode(), key=b"k2")
    await stats.publish("registration.events", valid)
    dead = await read_topic(stats.settings.kafka_bootstrap, stats.settings.dead_letter_topic, expect=2)
    headers = [dict(message.headers) for message in dead]
    assert len(dead) == 2 and {item["reason"] for item in headers} == {b"unreadable"}
    errors = sorted(item["error"].decode() for item in headers)
    assert any("Invalid JSON" in error for error in errors) and any("year" in error for error in errors), errors
    overview = await stats.report("/seasons/540000-2026-qc_group/overview", headers=bearer("organizer", "540000", "staff"))
    assert overview["organizer"] == "540000"


async def test_a_rebuild_equals_the_live_reports_and_switches_while_the_api_answers(stats: RunningStats) -> None:
    await all_reports_equal_expected(stats)
    refused = await stats.api.post("/rebuilds", headers=bearer("unit", "x"))
    assert refused.status_code == 403
    started = await stats.api.post("/rebuilds", headers=OPS)
    assert started.status_code == 202, started.text
    rebuild_id = started.json()["rebuild_id"]
    answered = 0

    async def done() -> Any:
        nonlocal answered
        overview = await stats.get(f"/seasons/{SHANGHAI.season_id}/overview")
        assert overview.status_code == 200, "the live reports answer during the rebuild"
        answered += 1
        view = (await stats.get(f"/rebuilds/{rebuild_id}", OPS)).json()
        return view if view["status"] not in ("requested", "running") else None

    outcome = await eventually(done, timeout=120, interval=0.1)
    assert outcome["status"] == "switched", outcome
    assert outcome["differences"] == [] and outcome["reports_compared"] >= 10
    assert outcome["counts"]["dead_lettered"] == 2 and outcome["events_read"] == len(stats.envelopes) + 2
    assert answered >= 1
    database = api_database(stats)
    pointer = await database["generations"].find_one({"_id": "active"})
    assert pointer["generation"] == f"r{rebuild_id}"
    await all_reports_equal_expected(stats)
    # the live path goes on in the new generation
    extra = SeasonPlan(season_no=14, organizer="370000", year=2027, recommenders=1, units_per_recommender=1,
                       entries_per_unit=0, judges=1)
    for topic, envelope in season_events(extra):
        await stats.publish(topic, envelope)
    aggregates = {item["aggregate_id"] for item in stats.envelopes}

    async def every_record_written() -> Any:
        records = await StatsStore(database).load_records(f"r{rebuild_id}")
        return records if {record["_id"] for record in records} >= aggregates else None

    # the overview answers once the season is opened; its other aggregates' records follow
    records = await eventually(every_record_written, timeout=60)
    assert len(records) == len(aggregates), "every aggregate's record, once"


def api_database(stats: RunningStats) -> Any:
    transport = stats.api._transport  # noqa: SLF001 - the in-process app's own client
    return transport.app.state.mongo[stats.settings.database_name]
