"""The national level as a flow on the real stack: three provinces' recommendations reach the national season.

Registration, submission and review run in-process with one injected clock, and stats beside them in the same
namespace. Shanghai and Shandong run their 2026 QC seasons on the platform (units submit, recommending units
recommend, the provincial review grades) and their organizers send graded entries of their choice to the
national season CAQ-2026-qc_group (feeds/examples/national-2026.json: by 2026-08-31, 2 per province, 3 for
Shanghai); Tibet sends its season by feed and its national recommendations by feed
(feeds/examples/tibet-2026-national.ndjson). A recommendation over the province's quota and one a second after
the deadline are refused naming the quota and the window, and store nothing. The national review takes the
national entries through formal review, judges, scores and grades like any other entry; stats counts per
province what was sent, accepted and graded; a national entry's audit history runs from its unit to the
national result; a rebuild of stats from offset 0 equals the live report.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest_asyncio

from infra.authorization import organizer_of
from infra.feeds import feed_aggregate_id
from qcp.demo import demo_registration
from qcp.feed_cli import post_feed, read_feed
from services.review.domain.national import national_entry_id
from services.stats.adapters.store import REPORT_FIELD, unpacked
from tests.harness import eventually
from tests.integration.test_feed_intake import EXAMPLES, clients, feed_token
from tests.integration.test_review_http import (
    CONFIRMATION,
    RUBRICS,
    Calendar,
    ReviewServices,
    judge_form,
    material,
    problem,
    recommendation_form,
    running_review,
)
from tests.integration.test_stats_season import SeasonWithStats, stats_beside
from tests.integration.test_submission_http import bearer, recommender_form, unit_token
from tests.unit.test_submission_forms import qc_form

CST = timezone(timedelta(hours=8))
REGISTERING = datetime(2026, 6, 15, 10, tzinfo=CST)
RECOMMENDING = datetime(2026, 7, 15, 10, tzinfo=CST)
REVIEWING = datetime(2026, 8, 5, 10, tzinfo=CST)
SENDING = datetime(2026, 8, 20, 10, tzinfo=CST)
ONE_SECOND_LATE = datetime(2026, 9, 1, 0, 0, 0, tzinfo=CST)  # the national window closes 2026-08-31 23:59:59
FEEDING = datetime(2026, 10, 10, 10, tzinfo=CST)  # after Tibet's provincial results were published (09-20)
NATIONAL_REVIEW = datetime(2026, 10, 12, 10, tzinfo=CST)

SH, SD, XZ, NATIONAL = "310000-2026-qc_group", "370000-2026-qc_group", "540000-2026-qc_group", "CAQ-2026-qc_group"
CAQ = bearer("organizer", "CAQ", "caq-secretariat")
VIEWER = bearer("national", "CAQ", "caq-viewer")  # the national association reads every season
ORGANIZERS = {SH: bearer("organizer", "310000", "staff-sh"), SD: bearer("organizer", "370000", "staff-sd")}
RECOMMENDERS = {SH: ("pudong", recommender_form("pudong", "浦东新区市场监督管理局", "district", region_code="310115")),
                SD: ("jinan", recommender_form("jinan", "济南市质量协会", "city", region_code="370100"))}
# entries of the two platform provinces: (season, unit, 课题类型, provincial 文审 total)
ENTRIES = {
    "SH-A": (SH, 0, "problem_solving", "93"), "SH-B": (SH, 1, "innovation", "84"),
    "SD-C": (SD, 3, "problem_solving", "88"), "SD-D": (SD, 4, "problem_solving", "82"),
    "SD-E": (SD, 3, "innovation", "76"),
}
# national 文审 totals of what reaches the national season (Tibet's XZ-2026-E003 fails formal review there)
NATIONAL_TOTALS = {"SH-B": "90", "SD-C": "88", "SD-E": "80", "XZ-2026-E001": "86"}


def tibet_entry(external_id: str) -> str:
    return str(feed_aggregate_id("entry", "540000", external_id))


def season_of(name: str) -> str:
    return XZ if name.startswith("XZ") else ENTRIES[name][0]


class NationalFlow(SeasonWithStats):
    entries: dict[str, str]  # name → provincial entry id
    judges: dict[str, list[str]]  # season → the judge ids that score
    refusals: dict[str, Any]

    def national_id(self, name: str) -> str:
        return national_entry_id(NATIONAL, season_of(name), self.entries[name])


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def flow(stack, tmp_path_factory) -> AsyncIterator[NationalFlow]:
    root = tmp_path_factory.mktemp("national-flow")
    calendar = Calendar(REGISTERING)
    async with running_review(stack, root, calendar) as running, stats_beside(stack, root, running) as stats:
        view = NationalFlow(running, stats.client, stats.database)
        view.entries, view.judges, view.refusals = {}, {}, {}
        await open_seasons(running, view)
        calendar.now = RECOMMENDING
        await submit_and_recommend(running, view)
        calendar.now = REVIEWING
        await provincial_review(running, view)
        calendar.now = SENDING
        await send_through_the_platform(running, view)
        calendar.now = FEEDING
        await send_by_feed(running, view)
        calendar.now = NATIONAL_REVIEW
        await national_review(running, view)
        yield view


# ---------------------------------------------------------------- the story


def example_seasons() -> dict[str, dict[str, Any]]:
    seasons = {f"{item['organizer']}-{item['year']}-{item['kind']}": item
               for item in json.loads((EXAMPLES / "seasons.json").read_text(encoding="utf-8"))}
    national = json.loads((EXAMPLES / "national-2026.json").read_text(encoding="utf-8"))
    # the platform provinces review on T/CAQ10201-2020's scoring forms; Shandong's units register here with the
    # platform's default forms, since the flow to CAQ is the subject (its own forms: test_shandong_seasons.py)
    shandong = {key: value for key, value in seasons[SD].items() if key != "profile"}
    shandong["windows"] = {"registration": seasons[SH]["windows"]["registration"]} | shandong["windows"]
    return {SH: seasons[SH] | {"rubrics": RUBRICS}, SD: shandong | {"rubrics": RUBRICS}, XZ: seasons[XZ],
            NATIONAL: national}


async def open_seasons(running: ReviewServices, view: NationalFlow) -> None:
    for season_id, body in example_seasons().items():
        headers = CAQ if season_id == NATIONAL else bearer("organizer", body["organizer"], "staff")
        await running.register("/seasons", body, headers)
    for season_id, (recommender_id, form) in RECOMMENDERS.items():
        await running.register(f"/seasons/{season_id}/recommenders", form, ORGANIZERS[season_id])
        units = sorted({unit for season, unit, _, _ in ENTRIES.values() if season == season_id})
        for unit in units:
            body = demo_registration(unit) | {"recommender_id": recommender_id, "member": True}
            await running.register(f"/seasons/{season_id}/registrations", body, unit_token(unit))
    # judges 0-2 score; judge 3 signs the provinces' 推荐表 (so never scores those entries); 4-6 are CAQ's experts
    for season_id, indexes in ((SH, range(4)), (SD, range(4)), (NATIONAL, range(4, 7))):
        headers = CAQ if season_id == NATIONAL else ORGANIZERS[season_id]
        view.judges[season_id] = [(await running.register(f"/seasons/{season_id}/judges", judge_form(index), headers))
                                  ["judge_id"] for index in indexes][:3]
    for season_id in (SH, SD, XZ, NATIONAL):
        await running.until(f"/seasons/{season_id}", headers=VIEWER)
        await eventually(lambda season_id=season_id: _known(running, f"/seasons/{season_id}"))
    for season_id in (SH, SD, NATIONAL):
        await running.until(f"/seasons/{season_id}/judges", lambda page: page["total"] >= 3, VIEWER)


async def _known(running: ReviewServices, path: str) -> bool:
    return (await running.submission.get(path, headers=VIEWER)).status_code == 200


async def submit_and_recommend(running: ReviewServices, view: NationalFlow) -> None:
    for rank, (name, (season_id, unit, qc_type, _)) in enumerate(ENTRIES.items(), start=1):
        form = qc_form(unit, qc_type=qc_type, topic=f"{name}课题：提高产品一次合格率", group_name=f"{name}QC小组")

        async def submitted(season_id: str = season_id, unit: int = unit, form: dict = form) -> Any:
            # submission learns of the unit's registration from registration's events; until then it refuses
            answer = await running.submission.post(f"/seasons/{season_id}/qc-achievements", json=form,
                                                   headers=unit_token(unit))
            return answer.json()["entry_id"] if answer.status_code == 201 else None

        entry_id = view.entries[name] = await eventually(submitted, timeout=60)
        if season_id == SH:  # Shanghai offers 单位通道: the unit confirms before it is recommended
            confirmed = await running.submission.post(f"/seasons/{season_id}/entries/{entry_id}/confirmation",
                                                      json=CONFIRMATION, headers=unit_token(unit))
            assert confirmed.status_code == 200, confirmed.text
        status = "confirmed" if season_id == SH else "submitted"
        await running.until(f"/seasons/{season_id}/entries/{entry_id}/submission",
                            lambda item, status=status: item["status"] == status, VIEWER)
        recommender_id = RECOMMENDERS[season_id][0]
        body = recommendation_form(rank, ["TGQ-2026-0004"], filled_on="2026-07-15",
                                   declaration={"accepted": True, "signer": "王芳", "signed_on": "2026-07-15"})
        await running.ok(f"/seasons/{season_id}/entries/{entry_id}/recommendation", body,
                         bearer("recommender", recommender_id, f"{recommender_id}-staff",
                                organizer=organizer_of(season_id)))


async def review_entry(running: ReviewServices, season_id: str, entry_id: str, total: str, judges: list[str],
                       organizer: dict[str, str]) -> dict[str, Any]:
    """Formal review passed, three judges assigned by hand, each scores `total` in 文审, graded."""
    path = f"/seasons/{season_id}/entries/{entry_id}"
    await running.until(path, lambda item: item["progress"] in ("recommended", "resubmitted"), VIEWER)
    await running.ok(f"{path}/formal-review", {"outcome": "passed"}, organizer)
    await running.until(path, lambda item: item["progress"] == "in_review", VIEWER)
    await running.ok(f"{path}/assignments", {"stage": "material_review", "judge_ids": judges}, organizer)
    for judge_id in judges:
        await running.ok(f"{path}/scores", material(total), bearer("judge", judge_id, f"judge-{judge_id}",
                                                                    organizer=organizer_of(season_id)))
    return await running.ok(f"{path}/grade", None, organizer)


async def provincial_review(running: ReviewServices, view: NationalFlow) -> None:
    for name, (season_id, _, _, total) in ENTRIES.items():
        await review_entry(running, season_id, view.entries[name], total, view.judges[season_id], ORGANIZERS[season_id])
    for name, (season_id, _, _, _) in ENTRIES.items():
        await running.until(f"/seasons/{season_id}/entries/{view.entries[name]}",
                            lambda item: item["progress"] == "graded", VIEWER)


async def recommend_nationally(running: ReviewServices, view: NationalFlow, name: str) -> Any:
    season_id = ENTRIES[name][0]
    return await running.post(f"/seasons/{season_id}/entries/{view.entries[name]}/national-recommendation",
                              {"national_season_id": NATIONAL, "note": "好中选优，推荐参加全国优秀质量管理小组评选"},
                              ORGANIZERS[season_id])


async def send_through_the_platform(running: ReviewServices, view: NationalFlow) -> None:
    """Shanghai sends its 优秀级 entry (not its top one: 好中选优); Shandong two, and a third over its quota;
    Shanghai's top entry a second after the national deadline."""
    for name in ("SH-B", "SD-C", "SD-E"):
        answer = await recommend_nationally(running, view, name)
        assert answer.status_code == 201, answer.text
        assert answer.json()["national_entry_id"] == view.national_id(name)
    before = running.stored()
    view.refusals["quota"] = await recommend_nationally(running, view, "SD-D")
    view.refusals["quota_stored"] = running.stored() - before
    running.calendar.now = ONE_SECOND_LATE
    before = running.stored()
    view.refusals["late"] = await recommend_nationally(running, view, "SH-A")
    view.refusals["late_stored"] = running.stored() - before


async def send_by_feed(running: ReviewServices, view: NationalFlow) -> None:
    view.refusals["tibet"] = await post_feed(read_feed(EXAMPLES / "tibet-2026.ndjson.gz"), clients(running),
                                             feed_token("540000"), wait_seconds=90)
    view.refusals["tibet_national"] = await post_feed(read_feed(EXAMPLES / "tibet-2026-national.ndjson"),
                                                      clients(running), feed_token("540000"), wait_seconds=90)
    for external_id in ("XZ-2026-E001", "XZ-2026-E003"):
        view.entries[external_id] = tibet_entry(external_id)


async def national_review(running: ReviewServices, view: NationalFlow) -> None:
    judges = view.judges[NATIONAL]
    for name, total in NATIONAL_TOTALS.items():
        await review_entry(running, NATIONAL, view.national_id(name), total, judges, CAQ)
    failing = f"/seasons/{NATIONAL}/entries/{view.national_id('XZ-2026-E003')}"
    await running.until(failing, lambda item: item["progress"] == "recommended", VIEWER)
    await running.ok(f"{failing}/formal-review", {"outcome": "failed", "reasons": ["成果报告缺少效果检查部分"]}, CAQ)


# ---------------------------------------------------------------- what it shows


async def test_a_recommendation_over_the_provinces_quota_is_refused_and_stores_nothing(flow: NationalFlow) -> None:
    answer = flow.refusals["quota"]
    assert problem(answer) == (409, "national_season_id", "national.quota.per_province"), answer.text
    assert "全国推荐名额 2" in answer.json()["detail"]
    assert flow.refusals["quota_stored"] == 0
    assert await flow.season.get(f"/seasons/{NATIONAL}/entries/{flow.national_id('SD-D')}", VIEWER) is None


async def test_a_recommendation_after_the_national_deadline_is_refused_naming_the_window(flow: NationalFlow) -> None:
    answer = flow.refusals["late"]
    assert problem(answer) == (409, "national_season_id", "season.window.recommendation"), answer.text
    assert "2026-08-31 23:59:59" in answer.json()["detail"] and NATIONAL in answer.json()["detail"]
    assert flow.refusals["late_stored"] == 0


async def test_tibets_feed_sends_two_and_a_third_without_its_provincial_recommendation_is_quarantined(
        flow: NationalFlow) -> None:
    counts = flow.refusals["tibet_national"]["by_type"]["national_recommendation"]
    assert (counts["accepted"], counts["quarantined"]) == (2, 1)
    page = (await flow.season.review.get("/feeds/quarantine", headers=VIEWER,
                                         params={"province": "540000", "record_type": "national_recommendation"})).json()
    assert [item["reasons"][0]["rule"] for item in page["items"]] == ["feed.national.not_recommended"]


async def test_the_national_season_counts_per_province_what_was_sent_accepted_and_graded(flow: NationalFlow) -> None:
    report = await flow.report(f"/seasons/{NATIONAL}/provinces",
                               lambda page: page["total"]["graded"] == 4 and page["total"]["sent"] == 5)
    rows = {row["province"]: {key: row[key] for key in ("sent", "via_platform", "via_feed", "accepted", "graded",
                                                        "quota", "remaining")} for row in report["provinces"]}
    assert rows == {
        "310000": {"sent": 1, "via_platform": 1, "via_feed": 0, "accepted": 1, "graded": 1, "quota": 3, "remaining": 2},
        "370000": {"sent": 2, "via_platform": 2, "via_feed": 0, "accepted": 2, "graded": 2, "quota": 2, "remaining": 0},
        "540000": {"sent": 2, "via_platform": 0, "via_feed": 2, "accepted": 1, "graded": 1, "quota": 2, "remaining": 0},
    }
    grades = {row["province"]: {grade["code"]: grade["count"] for grade in row["grades"]} for row in report["provinces"]}
    assert grades == {"310000": {"national_excellent": 1}, "370000": {"national_excellent": 1, "none": 1},
                      "540000": {"national_excellent": 1}}
    assert report["total"] == {"provinces": 3, "sent": 5, "via_platform": 3, "via_feed": 2, "accepted": 4,
                                    "graded": 4}
    csv = await flow.stats.get(f"/seasons/{NATIONAL}/provinces", headers=CAQ, params={"format": "csv"})
    assert csv.status_code == 200 and "报送数" in csv.content.decode("utf-8-sig")

    # the national view shows the same beside each province's own season
    overview = await flow.report("/national/2026/overview", lambda page: page["total"].get("national_graded") == 4)
    sent = {row["organizer"]: (row["national_sent"], row["national_accepted"], row["national_graded"])
            for row in overview["provinces"]}
    assert sent == {"310000": (1, 1, 1), "370000": (2, 2, 2), "540000": (2, 1, 1)}


async def test_a_national_entrys_audit_history_runs_from_the_unit_to_the_national_result(flow: NationalFlow) -> None:
    auditor = bearer("auditor", "audit", "auditor-1")
    national_id = flow.national_id("SH-B")

    async def complete() -> Any:
        answer = await flow.stats.get(f"/audit/entries/{national_id}/history", headers=auditor)
        if answer.status_code != 200:
            return None
        body = answer.json()
        return body if [item["type"] for item in body["events"]][-1:] == ["EntryGraded"] and any(
            item["type"] == "EntrySubmitted" for item in body["events"]) else None

    history = await eventually(complete, timeout=90)
    assert [step["season_id"] for step in history["path"]] == [SH, NATIONAL]
    path = [(item["type"], item["season_id"]) for item in history["events"]
            if item["type"] not in ("ScoreRecorded", "JudgesAssigned")]
    assert path == [
        ("EntrySubmitted", SH), ("UnitConfirmed", SH), ("EntryRecommended", SH), ("FormalReviewPassed", SH),
        ("EntryGraded", SH), ("NationalRecommendationMade", SH), ("NationalEntryReceived", NATIONAL),
        ("FormalReviewPassed", NATIONAL), ("EntryGraded", NATIONAL),
    ]
    received = next(item for item in history["events"] if item["type"] == "NationalEntryReceived")
    assert received["source"]["province"] == "310000" and received["source"]["external_id"] == flow.entries["SH-B"]
    assert received["payload"]["provincial_grade"] == "excellent" and received["actor"]["org"] == "310000"
    assert history["events"][-1]["payload"]["grade"] == "national_excellent"


async def test_a_fed_national_entrys_history_shows_the_provinces_records(flow: NationalFlow) -> None:
    auditor = bearer("auditor", "audit", "auditor-1")
    national_id = flow.national_id("XZ-2026-E001")

    async def graded() -> Any:
        answer = await flow.stats.get(f"/audit/entries/{national_id}/history", headers=auditor)
        body = answer.json() if answer.status_code == 200 else {"events": []}
        return body if any(item["type"] == "EntryGraded" for item in body["events"]) else None

    history = await eventually(graded, timeout=90)
    sources = [(item["type"], item["source"]["system"], item["source"].get("external_id")) for item in history["events"]
               if item["type"] in ("EntrySubmitted", "ProvincialRecommendationRecorded", "NationalEntryReceived")]
    assert sources == [("EntrySubmitted", "feed", "XZ-2026-E001"),
                       ("ProvincialRecommendationRecorded", "feed", "XZ-2026-R001"),
                       ("NationalEntryReceived", "feed", "XZ-2026-N001")]
    state = await flow.stats.get(f"/audit/entries/{national_id}/state", headers=auditor,
                                 params={"as_of": "2026-12-31T00:00:00+08:00"})
    national = state.json()["state"]["national_entry"]
    assert (national["province"], national["via"], national["provincial_season_id"]) == ("540000", "feed", XZ)


async def test_a_rebuild_from_offset_0_equals_the_live_national_season_report(flow: NationalFlow) -> None:
    auditor = bearer("auditor", "audit", "auditor-1")
    live = await flow.report(f"/seasons/{NATIONAL}/provinces", lambda page: page["total"]["graded"] == 4)
    started = await flow.stats.post("/rebuilds", headers=auditor)
    assert started.status_code == 202, started.text
    rebuild_id = started.json()["rebuild_id"]

    async def done() -> Any:
        view = (await flow.stats.get(f"/rebuilds/{rebuild_id}", headers=auditor)).json()
        return view if view["status"] not in ("requested", "running") else None

    outcome = await eventually(done, timeout=180, interval=0.2)
    assert outcome["status"] == "switched" and outcome["differences"] == [], outcome
    rebuilt = await flow.database[f"reports_r{rebuild_id}"].find_one({"_id": f"season/{NATIONAL}/provinces"})
    assert unpacked(rebuilt[REPORT_FIELD]) == live
