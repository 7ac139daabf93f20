"""The national view on the real stack: the three example provincial feeds (Shanghai, Shandong, Tibet) posted
through registration, submission and review in-process, with stats' API and worker beside them in one namespace.

Stats' per-province totals match what each feed's batch report says was accepted (registrations and entries
through the feed and directly, the provinces' recommendations and results, the quarantine per season); two
provinces' recommending units file 统计表 through submission and the national table rolls them up with rates
re-derived from the sums; a fed entry's audit history shows its provincial provenance and its state the
province's recommendation and result; a rebuild from offset 0 equals the live reports and switches.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx
import pytest_asyncio

from qcp.demo import demo_registration
from qcp.feed_cli import post_feed, read_feed
from services.stats.adapters.store import REPORT_FIELD, unpacked
from tests.harness import eventually
from tests.integration.test_feed_intake import (
    EXAMPLES,
    SHANDONG,
    SHANGHAI,
    TIBET,
    _example,
    clients,
    feed_headers,
    feed_token,
    quarantine,
)
from tests.integration.test_review_http import AUDITOR, ORGANIZER, Calendar, ReviewServices, everything_on, running_review
from tests.integration.test_stats_season import OPS, SeasonWithStats, stats_beside
from tests.integration.test_submission_http import bearer, recommender_form, unit_token
from tests.unit.test_form_profiles import shandong_qc_statistics
from tests.unit.test_submission_forms import qc_statistics

NOW = datetime(2026, 11, 1, 2, tzinfo=UTC)  # after the example seasons' dates: the feeds' results are not in the future
REGISTRATION_OPEN = datetime(2026, 6, 15, 2, tzinfo=UTC)
RECOMMENDATION_OPEN = datetime(2026, 7, 15, 2, tzinfo=UTC)
FEEDS = {SHANGHAI: "shanghai-2026.ndjson", SHANDONG: "shandong-2026.ndjson", TIBET: "tibet-2026.ndjson.gz"}
SEASONS = ("310000-2026-qc_group", "370000-2026-qc_group", "370000-2026-team", "540000-2026-qc_group")
SH_QC, SD_QC = SEASONS[0], SEASONS[1]
# one recommending unit per province files its 统计表 through submission (the feeds carry none)
FILERS = {
    SH_QC: (recommender_form("pudong", "浦东新区市场监督管理局", "district", region_code="310115"), ORGANIZER,
            qc_statistics(participants=96_420, total_staff=412_000, registered_groups=12_850, groups_with_results=7_311)),
    # Shandong's own 统计表 (附件2): groups in 万个, 普及率 and 成果率 typed in
    SD_QC: (recommender_form("jinan", "济南市市场监督管理局", "city", region_code="370100"),
            bearer("organizer", SHANDONG, "staff-sd"),
            shandong_qc_statistics(registered_groups="0.4", participation_rate="60.0", achievement_rate="25.0")),
}


@dataclass
class NationalView(SeasonWithStats):
    """The platform (`season`: registration, submission, review), stats beside it, and each feed's batch report."""

    feed_reports: dict[str, dict[str, Any]] = field(default_factory=dict)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def national(stack, tmp_path_factory) -> AsyncIterator[NationalView]:
    root = tmp_path_factory.mktemp("national")
    calendar = Calendar(NOW)
    async with running_review(stack, root, calendar) as running, stats_beside(stack, root, running) as stats:
        view = NationalView(running, stats.client, stats.database)
        await open_the_seasons(running)
        calendar.now = REGISTRATION_OPEN
        await register_directly(running)
        calendar.now = RECOMMENDATION_OPEN
        await file_statistics(running)
        calendar.now = NOW
        for province, name in FEEDS.items():
            view.feed_reports[province] = await post_feed(read_feed(EXAMPLES / name), clients(running),
                                                          feed_token(province), wait_seconds=90)
        yield view


async def open_the_seasons(running: ReviewServices) -> None:
    for season in json.loads((EXAMPLES / "seasons.json").read_text(encoding="utf-8")):
        answer = await running.registration.post("/seasons", json=season,
                                                 headers=bearer("organizer", season["organizer"], "staff"))
        assert answer.status_code == 201, answer.text
    for season_id in SEASONS:
        await running.until(f"/seasons/{season_id}")
        await eventually(lambda season_id=season_id: _known(running.submission, f"/seasons/{season_id}"))


async def register_directly(running: ReviewServices) -> None:
    """Each filing province's recommending unit, and one Shanghai unit registered on the platform, not by feed."""
    for season_id, (form, organizer, _) in FILERS.items():
        await running.register(f"/seasons/{season_id}/recommenders", form, organizer)
    body = demo_registration(0) | {"recommender_id": "pudong", "member": True}
    await running.register(f"/seasons/{SH_QC}/registrations", body, unit_token(0))


async def file_statistics(running: ReviewServices) -> None:
    for season_id, (form, _, statistics) in FILERS.items():
        recommender_id = form["recommender_id"]
        path = f"/seasons/{season_id}/recommenders/{recommender_id}/qc-statistics"
        headers = bearer("recommender", recommender_id, f"{recommender_id}-staff",
                         organizer=season_id.split("-", 1)[0]) | {
            "Idempotency-Key": f"{recommender_id}-statistics"}

        async def filed(path: str = path, headers: dict[str, str] = headers, statistics: dict = statistics) -> Any:
            # submission learns of the recommending unit from registration's events; until then it refuses
            answer = await running.submission.post(path, json=statistics, headers=headers)
            return answer.json() if answer.status_code == 201 else None

        await eventually(filed, timeout=60)


async def _known(client: httpx.AsyncClient, path: str) -> bool:
    return (await client.get(path, headers=bearer("national", "CAQ", "caq"))).status_code == 200


def taken(report: dict[str, Any], record_type: str) -> int:
    """The distinct records a batch report says were taken: accepted versions less the amendments among them."""
    counts = report["by_type"].get(record_type) or {"accepted": 0, "amendments": 0}
    return counts["accepted"] - counts["amendments"]


def summed_by_province(overview: dict[str, Any]) -> dict[str, Counter]:
    totals: dict[str, Counter] = {}
    for row in overview["provinces"]:
        totals.setdefault(row["organizer"], Counter()).update(
            {key: value for key, value in row.items() if isinstance(value, int)})
    return totals


async def quarantine_by_province(view: NationalView) -> dict[str, Counter]:
    """The feeds' refused records that name a known season, open and resolved, as the services list them."""
    counts: dict[str, Counter] = {province: Counter() for province in FEEDS}
    for service in ("registration", "submission", "review"):
        for province in FEEDS:
            page = await quarantine(view.season, service, province=province)
            assert page["total"] <= page["limit"], "one page holds a province's quarantine"
            for item in page["items"]:
                if item.get("season_id") in SEASONS:
                    counts[item["season_id"][:6]]["quarantined_resolved" if item["resolved"] else "quarantined_open"] += 1
    return counts


async def test_per_province_totals_match_what_each_feed_accepted(national: NationalView) -> None:
    expected: dict[str, dict[str, int]] = {}
    for province, report in national.feed_reports.items():
        total = report["total"]
        assert total["in"] == total["accepted"] + total["duplicates"] + total["quarantined"], report
        direct = 1 if province == SHANGHAI else 0
        recommendations, results = taken(report, "recommendation"), taken(report, "result")
        expected[province] = {
            "registrations": taken(report, "registration") + direct, "fed_registrations": taken(report, "registration"),
            "direct_registrations": direct, "entries": taken(report, "entry"), "fed_entries": taken(report, "entry"),
            "direct_entries": 0, "recommended": recommendations, "platform_recommended": 0,
            "provincial_recommended": recommendations, "graded": results, "provincial_results": results,
            "published": results,
        }
        assert recommendations > 0 and results > 0, f"the example feed of {province} carries recommendations and results"

    def matches(overview: dict[str, Any]) -> bool:
        got = summed_by_province(overview)
        return all({key: got.get(province, Counter())[key] for key in wanted} == wanted
                   for province, wanted in expected.items())

    try:
        overview = await national.report("/national/2026/overview", matches)
    except AssertionError:
        answer = await national.stats.get("/national/2026/overview", headers=AUDITOR)
        raise AssertionError(f"expected {expected}, stats says {answer.text}") from None
    assert sorted({row["organizer"] for row in overview["provinces"]}) == [SHANGHAI, SHANDONG, TIBET]
    assert overview["total"]["provincial_recommended"] == sum(item["provincial_recommended"] for item in expected.values())
    assert overview["total"]["recommended"] == overview["total"]["provincial_recommended"], "no platform recommendation"

    quarantined = await quarantine_by_province(national)
    got = summed_by_province(overview)
    for province in FEEDS:
        assert (got[province]["quarantined_open"], got[province]["quarantined_resolved"]) == (
            quarantined[province]["quarantined_open"], quarantined[province]["quarantined_resolved"]), province
    assert sum(item["quarantined_open"] for item in quarantined.values()) > 0

    # the provinces' grades, labelled as theirs, in their season's grade distribution
    season = await national.report(f"/seasons/{SH_QC}/overview")
    provincial = [row for row in season["grades"] if row["by"] == "province"]
    assert provincial and all(row["label"].endswith("（省级评定）") for row in provincial)
    shanghai = [row for row in overview["provinces"] if row["season_id"] == SH_QC][0]
    assert sum(row["count"] for row in provincial) == shanghai["provincial_results"]
    assert season["feeds"]["fed_registrations"] == shanghai["fed_registrations"]
    csv = await national.stats.get("/national/2026/overview", headers=AUDITOR, params={"format": "csv"})
    assert csv.status_code == 200 and "其中省级推荐" in csv.content.decode("utf-8-sig")


async def test_a_corrected_record_moves_from_open_to_resolved_and_counts(national: NationalView) -> None:
    before = summed_by_province(await national.report("/national/2026/overview"))[SHANGHAI]
    record = _example("shanghai-2026.ndjson", "SH-2026-E007")  # quarantined: its QC group has no 组长
    corrected = record | {"version": 2}
    corrected["data"] = record["data"] | {"members": [
        {"name": "邓超", "role": "leader", "job_title": "班长"}, *record["data"]["members"]]}
    answer = await national.season.submission.post(
        "/feeds/batches", content=json.dumps(corrected, ensure_ascii=False).encode(), headers=feed_headers(SHANGHAI),
        params={"batch_id": "national-correction"})
    assert answer.json()["total"]["accepted"] == 1, answer.text

    def moved(overview: dict[str, Any]) -> bool:
        now = summed_by_province(overview)[SHANGHAI]
        return (now["quarantined_open"], now["quarantined_resolved"], now["fed_entries"], now["entries"]) == (
            before["quarantined_open"] - 1, before["quarantined_resolved"] + 1, before["fed_entries"] + 1,
            before["entries"] + 1)

    await national.report("/national/2026/overview", moved)


async def test_the_national_statistics_table_rolls_the_provinces_up(national: NationalView) -> None:
    statistics = await national.report("/national/2026/statistics", lambda page: any(
        table["kind"] == "qc_group" and sum(row["recommenders"] for row in table["provinces"]) == 2
        for table in page["tables"]))
    table = next(table for table in statistics["tables"] if table["kind"] == "qc_group")
    provinces = {row["organizer"]: row for row in table["provinces"]}
    assert provinces[SHANGHAI]["figures"]["participants"] == 96_420 and provinces[SHANDONG]["recommenders"] == 1
    assert provinces[TIBET]["recommenders"] == 0, "Tibet filed no statistics table"
    # Shandong counts its groups in 万个: the nation counts them in 个
    assert provinces[SHANDONG]["figures"]["registered_groups"] == 4_000
    assert table["total"]["figures"]["registered_groups"] == 12_850 + 4_000
    # Shandong typed its rates in (no figures behind them): shown as typed, left out of the nation's derivation
    assert provinces[SHANDONG]["rates"]["participation_rate"].items() >= {"value": "60.0", "typed": True}.items()
    rate = table["total"]["rates"]["participation_rate"]
    assert (rate["numerator"], rate["denominator"]) == (96_420, 412_000)
    assert rate["value"] == str((Decimal(96_420) * 100 / Decimal(412_000)).quantize(Decimal("0.01"), ROUND_HALF_UP))
    averaged = (Decimal(provinces[SHANGHAI]["rates"]["participation_rate"]["value"])
                + Decimal(provinces[SHANDONG]["rates"]["participation_rate"]["value"])) / 2
    assert Decimal(rate["value"]) != averaged.quantize(Decimal("0.01")), "re-derived from the figures, not averaged"
    achievement = table["total"]["rates"]["achievement_rate"]
    assert (achievement["numerator"], achievement["denominator"]) == (7_311, 12_850)


async def test_a_fed_entry_shows_its_provincial_provenance_in_its_audit_history(national: NationalView) -> None:
    topic = national.season.settings.own_topic
    results = [item for item in await everything_on(national.season.settings.kafka_bootstrap, topic)
               if item["type"] == "ProvincialResultRecorded"]
    assert results
    result = results[0]
    entry_id = result["payload"]["entry_id"]

    async def history() -> Any:
        answer = await national.stats.get(f"/audit/entries/{entry_id}/history", headers=AUDITOR)
        page = answer.json() if answer.status_code == 200 else {}
        types = [item["type"] for item in page.get("events", [])]
        return page if {"EntrySubmitted", "ProvincialRecommendationRecorded", "ProvincialResultRecorded"} <= set(types) \
            else None

    page = await eventually(history, timeout=90)
    events = page["events"]
    submitted = next(item for item in events if item["type"] == "EntrySubmitted")
    for item in events:
        source = item["source"]
        assert source["system"] == "feed" and source["province"] == result["payload"]["province"], item
        assert source["external_id"] and source["version"] >= 1 and source["batch_id"], item
        assert item["channel"]["code"] == "feed" and item["actor"]["role"] == "feed", item
    assert submitted["source"]["external_id"] == result["payload"]["entry"], "the province's id of the entry"
    recorded = next(item for item in events if item["type"] == "ProvincialResultRecorded")
    assert recorded["type_label"] == "省级评审结果（数据接口）"

    def instant_of(item: dict[str, Any]) -> datetime:
        return datetime.fromisoformat(item["recorded_at"]["utc"].replace("Z", "+00:00"))

    async def state_at(instant: datetime) -> dict[str, Any]:
        answer = await national.stats.get(f"/audit/entries/{entry_id}/state", headers=AUDITOR,
                                          params={"as_of": instant.isoformat()})
        assert answer.status_code == 200, answer.text
        return answer.json()["state"]

    before = await state_at(instant_of(submitted))
    assert before["provincial_recommendation"] is None and before["provincial_result"] is None
    now = await state_at(max(instant_of(item) for item in events) + timedelta(seconds=1))
    assert now["provincial_recommendation"]["province"] == result["payload"]["province"]
    assert now["provincial_recommendation"]["source"]["system"] == "feed"
    assert (now["provincial_result"]["grade"], now["provincial_result"]["grade_label"]) == (
        result["payload"]["grade"], result["payload"]["grade_label"])

    line = await national.report(f"/seasons/{result['season_id']}/entries/{entry_id}")
    assert line["fed"] and line["provincial_result"]["grade"] == result["payload"]["grade"]


async def test_a_rebuild_with_the_fed_events_equals_the_live_reports_and_switches(national: NationalView) -> None:
    await national.report("/national/2026/overview", lambda page: page["total"]["provincial_results"] > 0)
    started = await national.stats.post("/rebuilds", headers=OPS)
    assert started.status_code == 202, started.text
    rebuild_id = started.json()["rebuild_id"]

    async def done() -> Any:
        view = (await national.stats.get(f"/rebuilds/{rebuild_id}", headers=OPS)).json()
        return view if view["status"] not in ("requested", "running") else None

    outcome = await eventually(done, timeout=180, interval=0.2)
    assert outcome["status"] == "switched" and outcome["differences"] == [], outcome
    pointer = await national.database["generations"].find_one({"_id": "active"})
    assert pointer["generation"] == f"r{rebuild_id}"
    rebuilt = await national.database[f"reports_r{rebuild_id}"].find_one({"_id": "national/2026/overview"})
    overview = unpacked(rebuilt[REPORT_FIELD])
    assert overview["total"]["provincial_results"] > 0 and overview["total"]["fed_entries"] > 0
    live = await national.report("/national/2026/overview")
    assert live == overview
