"""The late rules of the source documents over HTTP on the real stack (Kafka, PostgreSQL, FerretDB).

Registration, submission and review (with its process managers, the cancellation one among them) and stats
(with its audit journal) run in-process in one namespace, as in test_review_http and test_audit:
- 取消推荐资格: the organizer cancels a recommending unit; review withdraws its recommendations by compensating
  events, frees its quota and refuses what it recommends next; the audit history shows it all;
- the direct channel takes only foreign-invested, 专精特新 or high-tech private member units;
- a team season that approves a further team name ending, limits entries per unit and asks for the 统计表 and
  工作总结 before recommending.
A province's feed records meet the same rules (quarantined with the rule). Owner and non-owner, careless and
hostile input; every refusal names its rule and stores nothing.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest_asyncio

from qcp.demo import demo_credit_code, demo_registration, demo_season
from tests.harness import TOKENS, eventually
from tests.integration.test_review_http import (
    AUDITOR,
    CONFIRMATION,
    NOW,
    ORGANIZER,
    PUDONG,
    QC,
    SHANDONG,
    XUHUI,
    Calendar,
    ReviewServices,
    judge_form,
    recommendation_form,
    running_review,
    set_up_season,
)
from tests.integration.test_stats_season import stats_beside
from tests.integration.test_submission_http import PUDONG_FORM, bearer, problem, unit_token
from tests.unit.test_submission_forms import qc_form, team_form, team_statistics, work_summary

TEAM = "310000-2026-team"
REASON = "向参与活动的企业收取评审费用，违反“不得以任何形式、任何名义收取任何费用”的要求"
STATE_OWNED_MEMBER = demo_registration(0) | {
    "credit_code": demo_credit_code(7), "unit_name": "上海新联电力设备有限公司", "short_name": "新联电力",
    "member": True, "unit_nature": "state_owned", "recommender_id": "direct",
}


@dataclass
class Platform:
    services: ReviewServices
    stats: httpx.AsyncClient

    def stored(self, service: str) -> int:
        """How many events the service's store holds (its API's application, reached through the test client)."""
        client = getattr(self.services, service)
        return client._transport.app.state.application.recorder.max_notification_id() or 0  # noqa: SLF001

    async def refused(self, service: str, call: Callable[[], Awaitable[httpx.Response]],
                      expected: tuple[int, str | None, str | None]) -> httpx.Response:
        before = self.stored(service)
        answer = await call()
        assert problem(answer) == expected, answer.text
        assert self.stored(service) == before, "a refused request stored something"
        return answer

    async def registration_post(self, path: str, body: Any, headers: dict[str, str] = ORGANIZER) -> httpx.Response:
        return await self.services.registration.post(path, json=body, headers=headers)

    async def submission_post(self, path: str, body: Any, headers: dict[str, str]) -> httpx.Response:
        return await self.services.submission.post(path, json=body, headers=headers)

    async def submission_until(self, path: str, check: Callable[[Any], bool], headers: dict[str, str] = ORGANIZER,
                               **params: Any) -> Any:
        async def probe() -> Any:
            answer = await self.services.submission.get(path, headers=headers, params=params)
            return answer.json() if answer.status_code == 200 and check(answer.json()) else None

        return await eventually(probe, timeout=90)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def platform(stack, tmp_path_factory) -> AsyncIterator[Platform]:
    root = tmp_path_factory.mktemp("source-rules")
    async with (
        running_review(stack, root, Calendar(NOW), assignment_worker=True) as running,
        stats_beside(stack, root, running) as stats,
    ):
        await set_up_season(running)
        yield Platform(running, stats.client)


# ---------------------------------------------------------------- 取消推荐资格


async def recommended_by_xuhui(platform: Platform) -> tuple[str, str]:
    """Unit 3's two achievements, recommended by xuhui; the first has passed formal review."""
    services = platform.services
    first = await services.submit(3, topic="降低沥青路面离析率", qc_type="problem_solving")
    second = await services.submit(3, topic="研制桥面铺装智能摊铺装置", qc_type="innovation", group_name="智能QC小组")
    for rank, entry_id in enumerate((first, second), start=1):
        await services.ok(f"/seasons/{QC}/entries/{entry_id}/recommendation",
                          recommendation_form(rank, ["TGQ-2026-0001"]), XUHUI)
    await services.ok(f"/seasons/{QC}/entries/{first}/formal-review", {"outcome": "passed"})
    await services.until(f"/seasons/{QC}/recommenders/xuhui/recommendations", lambda page: page["recommended"] == 2,
                         XUHUI)
    return first, second


async def test_a_cancelled_recommender_loses_its_recommendations_and_its_quota(platform: Platform) -> None:
    services = platform.services
    first, second = await recommended_by_xuhui(platform)
    path = f"/seasons/{QC}/recommenders/xuhui/cancellation"

    await platform.refused("registration", lambda: platform.registration_post(path, {"reason": REASON}, XUHUI),
                           (403, "authorization", "authorization.role"))
    await platform.refused("registration", lambda: platform.registration_post(path, {"reason": REASON}, SHANDONG),
                           (404, None, None))
    await platform.refused("registration", lambda: platform.registration_post(path, {"reason": "x"}),
                           (422, "reason", "string_too_short"))
    await platform.refused("registration", lambda: platform.registration_post(path, {}), (422, "reason", "missing"))
    await platform.refused(
        "registration",
        lambda: platform.registration_post(f"/seasons/{QC}/recommenders/direct/cancellation", {"reason": REASON}),
        (422, "recommender_id", "recommender.cancel.direct"),
    )
    unknown = await platform.registration_post(f"/seasons/{QC}/recommenders/nobody/cancellation", {"reason": REASON})
    assert unknown.status_code == 404

    cancelled = await platform.registration_post(path, {"reason": REASON})
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["event"] == "RecommenderCancelled"
    await platform.refused("registration", lambda: platform.registration_post(path, {"reason": REASON}),
                           (409, "recommender_id", "recommender.cancel.already"))

    for entry_id, before in ((first, "in_review"), (second, "recommended")):
        review = await services.until(f"/seasons/{QC}/entries/{entry_id}", lambda item: item["progress"] == "withdrawn")
        assert review["progress_label"] == "推荐无效（推荐单位被取消推荐资格）"
        assert review["withdrawal"]["reason"] == REASON and review["withdrawal"]["previous_progress"] == before
        assert review["withdrawal"]["actor"]["role"] == "system"
    quota = await services.until(f"/seasons/{QC}/recommenders/xuhui/recommendations",
                                 lambda page: page["cancellation"] is not None, XUHUI)
    assert quota["recommended"] == 0 and quota["units"] == [], "the quota is freed"
    assert quota["cancellation"]["reason"] == REASON

    third = await services.submit(3, topic="缩短沥青拌合站换料时间", qc_type="problem_solving", group_name="拌合QC小组")
    answer = await platform.refused(
        "review",
        lambda: services.post(f"/seasons/{QC}/entries/{third}/recommendation", recommendation_form(3, ["TGQ-2026-0001"]),
                              XUHUI),
        (409, "recommender_id", "recommendation.recommender.cancelled"),
    )
    assert REASON in answer.json()["errors"][0]["message"]


async def test_the_audit_history_shows_the_cancellation_and_the_withdrawal(platform: Platform) -> None:
    services = platform.services
    page = await services.until(f"/seasons/{QC}/entries", lambda page: page["total"] >= 2, progress="withdrawn")
    entry_id = page["items"][0]["entry_id"]

    async def history() -> dict[str, Any] | None:
        answer = await platform.stats.get(f"/audit/entries/{entry_id}/history", headers=AUDITOR)
        body = answer.json() if answer.status_code == 200 else {}
        types = [item["type"] for item in body.get("events", [])]
        return body if {"RecommenderCancelled", "RecommendationWithdrawn"} <= set(types) else None

    body = await eventually(history, timeout=90)
    labels = {item["type"]: item["type_label"] for item in body["events"]}
    assert labels["RecommenderCancelled"] == "取消推荐资格"
    assert labels["RecommendationWithdrawn"] == "推荐无效（推荐单位被取消推荐资格）"
    types = [item["type"] for item in body["events"]]
    assert types.index("EntryRecommended") < types.index("RecommenderCancelled") < types.index("RecommendationWithdrawn")
    cancellation = next(item for item in body["events"] if item["type"] == "RecommenderCancelled")
    withdrawal = next(item for item in body["events"] if item["type"] == "RecommendationWithdrawn")
    assert withdrawal["payload"]["cause_event_id"] == cancellation["event_id"]
    assert cancellation["actor"]["role"] == "organizer" and withdrawal["actor"]["role"] == "system"

    now = datetime.now(UTC).isoformat()
    state = await platform.stats.get(f"/audit/entries/{entry_id}/state", headers=AUDITOR, params={"as_of": now})
    assert state.status_code == 200, state.text
    assert state.json()["state"]["recommendation"]["withdrawn"]["reason"] == REASON
    foreign = await platform.stats.get(f"/audit/entries/{entry_id}/history", headers=SHANDONG)
    assert foreign.status_code == 404, "another province's entry is not known to its organizer"


async def test_the_reports_and_registration_show_the_cancellation(platform: Platform) -> None:
    async def overview() -> dict[str, Any] | None:
        answer = await platform.stats.get(f"/seasons/{QC}/overview", headers=ORGANIZER)
        if answer.status_code != 200:
            return None
        progress = {row["stage"]: row["count"] for row in answer.json()["review_progress"]}
        return answer.json() if progress.get("recommendation_withdrawn") == 2 else None

    report = await eventually(overview, timeout=90)
    xuhui = next(row for row in report["recommenders"] if row["recommender_id"] == "xuhui")
    assert xuhui["recommended"] == 0 and xuhui["remaining"] == xuhui["quota"], "the quota is freed in the reports too"

    async def registered() -> dict[str, Any] | None:
        answer = await platform.services.registration.get(f"/seasons/{QC}/recommenders/xuhui", headers=XUHUI)
        return answer.json() if answer.status_code == 200 and answer.json().get("cancellation") else None

    recommender = await eventually(registered, timeout=90)
    assert recommender["cancellation"]["reason"] == REASON and recommender["cancellation"]["cancelled_by"]["org"] == "310000"


# ---------------------------------------------------------------- the direct channel


async def test_the_direct_channel_takes_eligible_member_units_only(platform: Platform) -> None:
    services = platform.services
    for body in (demo_registration(4) | {"recommender_id": "direct"}, STATE_OWNED_MEMBER):
        answer = await platform.registration_post(f"/seasons/{QC}/registrations", body)
        assert answer.status_code == 201, answer.text
    await services.until(f"/seasons/{QC}", lambda season: season["units_registered"] >= 6)
    specialized = await services.submit(4, topic="提高精密主轴一次装配合格率", qc_type="problem_solving")
    state_owned_form = qc_form(0, credit_code=STATE_OWNED_MEMBER["credit_code"], unit_name=STATE_OWNED_MEMBER["unit_name"],
                               topic="降低配电柜返修率")
    submitted = await services.submission.post(f"/seasons/{QC}/qc-achievements", json=state_owned_form, headers=ORGANIZER)
    assert submitted.status_code == 201, submitted.text
    state_owned = submitted.json()["entry_id"]
    confirmed = await services.submission.post(f"/seasons/{QC}/entries/{state_owned}/confirmation", json=CONFIRMATION,
                                               headers=bearer("unit", STATE_OWNED_MEMBER["credit_code"]))
    assert confirmed.status_code == 200, confirmed.text
    await services.until(f"/seasons/{QC}/entries/{state_owned}/submission", lambda item: item["status"] == "confirmed")

    opinion = {"opinion": "市质协会员单位，经秘书处确认直接申报"}
    await platform.refused("review", lambda: services.post(f"/seasons/{QC}/entries/{state_owned}/direct-acceptance",
                                                           opinion), (409, "entry_id", "recommendation.direct.eligibility"))
    await platform.refused(
        "review",
        lambda: services.post(f"/seasons/{QC}/entries/{state_owned}/direct-acceptance",
                              opinion | {"eligibility": "high_tech_private"}),
        (409, "eligibility", "recommendation.direct.eligibility"),
    )
    await platform.refused(
        "review",
        lambda: services.post(f"/seasons/{QC}/entries/{state_owned}/direct-acceptance", opinion | {"eligibility": "rich"}),
        (422, "eligibility", "enum"),
    )
    not_owner = await services.post(f"/seasons/{QC}/entries/{specialized}/direct-acceptance", opinion, SHANDONG)
    assert not_owner.status_code == 404
    accepted = await services.ok(f"/seasons/{QC}/entries/{specialized}/direct-acceptance", opinion)
    assert accepted["event"] == "EntryAcceptedDirectly"
    review = await services.until(f"/seasons/{QC}/entries/{specialized}", lambda item: item["progress"] == "recommended")
    assert review["recommendation"]["eligibility"] == "specialized_private"


# ---------------------------------------------------------------- a team season with the new settings


async def open_team_season(platform: Platform) -> None:
    body = demo_season(2026, NOW) | {
        "kind": "team", "title": "2024年上海市“质量信得过班组”建设活动（演示）",
        "filings_before_recommending": True, "entries_per_unit_max": 3,
    }
    refused = await platform.registration_post("/seasons", body | {"entries_per_unit_max": 1})
    assert problem(refused) == (422, "entries_per_unit_max", "season.entries_per_unit.below_quota_min")
    opened = await platform.registration_post("/seasons", body)
    assert opened.status_code == 201, opened.text
    for path, item in ((f"/seasons/{TEAM}/recommenders", PUDONG_FORM), (f"/seasons/{TEAM}/judges", judge_form(0)),
                       (f"/seasons/{TEAM}/registrations", demo_registration(0) | {"recommender_id": "pudong"})):
        answer = await platform.registration_post(path, item)
        assert answer.status_code == 201, answer.text
    await platform.submission_until(f"/seasons/{TEAM}/units/{demo_registration(0)['credit_code']}", bool)
    await platform.services.until(f"/seasons/{TEAM}", lambda season: season["units_registered"] == 1)


async def submit_team(platform: Platform, name: str) -> httpx.Response:
    return await platform.submission_post(f"/seasons/{TEAM}/team-experiences", team_form(0, team_name=name),
                                          unit_token(0))


async def test_a_team_season_approves_a_further_team_name_ending(platform: Platform) -> None:
    await open_team_season(platform)
    path = f"/seasons/{TEAM}/team-name-suffixes"
    body = {"suffix": "车间", "reason": "集团公司以车间为最基础的正式组织单元"}
    await platform.refused("submission", lambda: submit_team(platform, "总装车间"),
                           (422, "team_name", "entry.team_name.suffix"))
    await platform.refused("registration", lambda: platform.registration_post(path, body, unit_token(0)),
                           (403, "authorization", "authorization.role"))
    await platform.refused("registration", lambda: platform.registration_post(path, body, SHANDONG), (404, None, None))
    await platform.refused("registration", lambda: platform.registration_post(path, body | {"suffix": "质量班组"}),
                           (422, "suffix", "season.team_name_suffix.banzu"))
    await platform.refused("registration", lambda: platform.registration_post(path, body | {"suffix": "<b>"}),
                           (422, "suffix", "string_pattern_mismatch"))
    await platform.refused("registration", lambda: platform.registration_post(path, body | {"suffix": "组"}),
                           (409, "suffix", "season.team_name_suffix.duplicate"))
    await platform.refused(
        "registration", lambda: platform.registration_post(f"/seasons/{QC}/team-name-suffixes", body),
        (422, "suffix", "season.team_name_suffix.team_only"),
    )
    approved = await platform.registration_post(path, body)
    assert approved.status_code == 200 and approved.json()["event"] == "TeamNameSuffixApproved", approved.text

    async def projected() -> dict[str, Any] | None:
        answer = await platform.services.registration.get(f"/seasons/{TEAM}", headers=ORGANIZER)
        return (answer.json().get("team_name_suffixes") or {}).get("车间")

    assert (await eventually(projected, timeout=90))["reason"] == body["reason"]

    await platform.submission_until(f"/seasons/{TEAM}", lambda item: "车间" in (item.get("team_name_suffixes") or {}))
    accepted = await submit_team(platform, "总装车间")
    assert accepted.status_code == 201, accepted.text
    await platform.refused("submission", lambda: submit_team(platform, "总装车间班组"),
                           (422, "team_name", "entry.team_name.suffix"))


async def test_a_team_season_limits_entries_per_unit_and_a_withdrawal_frees_a_place(platform: Platform) -> None:
    """Unit 0 has one entry (总装车间, from the test before); the season takes 3 per unit."""
    entry_ids = []
    for name in ("装配一班", "质检组"):
        answer = await submit_team(platform, name)
        assert answer.status_code == 201, answer.text
        entry_ids.append(answer.json()["entry_id"])
    answer = await platform.refused("submission", lambda: submit_team(platform, "理化实验室"),
                                    (409, "credit_code", "entry.per_unit.limit"))
    assert "at most 3" in answer.json()["errors"][0]["message"]
    withdrawn = await platform.submission_post(f"/seasons/{TEAM}/entries/{entry_ids[-1]}/withdrawal",
                                               {"reason": "班组调整，撤回申报"}, unit_token(0))
    assert withdrawn.status_code == 200, withdrawn.text
    again = await submit_team(platform, "理化实验室")
    assert again.status_code == 201, again.text


async def test_a_provinces_feed_records_meet_the_same_team_name_and_per_unit_rules(platform: Platform) -> None:
    """Unit 0 has 3 live entries by now; unit 1 none. The feed's records are checked as the web form is."""
    registered = await platform.registration_post(f"/seasons/{TEAM}/registrations",
                                                  demo_registration(1) | {"recommender_id": "pudong"})
    assert registered.status_code == 201, registered.text
    await platform.submission_until(f"/seasons/{TEAM}/units/{demo_registration(1)['credit_code']}", bool)
    records = [
        {"record_type": "entry", "province": "310000", "external_id": external_id, "version": 1, "season": TEAM,
         "data": team_form(index, team_name=name)}
        for external_id, index, name in (("SH-T-1", 1, "冲压车间"), ("SH-T-2", 1, "检验队"), ("SH-T-3", 0, "焊接车间"))
    ]
    body = "\n".join(json.dumps(record, ensure_ascii=False) for record in records).encode()
    feed = {"Authorization": f"Bearer {TOKENS.mint('feed-310000', 'feed', '310000')}"}
    answer = await platform.services.submission.post("/feeds/batches", content=body, headers=feed,
                                                     params={"batch_id": "source-rules-1"})
    assert answer.status_code == 200, answer.text
    assert (answer.json()["total"]["in"], answer.json()["total"]["accepted"]) == (3, 1), answer.text

    async def quarantined() -> dict[str, Any] | None:
        page = await platform.services.submission.get("/feeds/quarantine", headers=feed,
                                                      params={"province": "310000", "record_type": "entry"})
        items = page.json().get("items", []) if page.status_code == 200 else []
        return {item["external_id"]: item["reasons"][0]["rule"] for item in items} if len(items) >= 2 else None

    assert await eventually(quarantined, timeout=90) == {"SH-T-2": "entry.team_name.suffix", "SH-T-3": "entry.per_unit.limit"}


async def test_a_team_season_takes_recommendations_once_the_statistics_and_summary_are_filed(platform: Platform) -> None:
    services = platform.services
    mine = await platform.submission_until(
        f"/units/{demo_registration(0)['credit_code']}/entries",
        lambda page: any(item["name"] == "总装车间" for item in page["items"]), unit_token(0), season_id=TEAM,
    )
    entry_id = next(item["entry_id"] for item in mine["items"] if item["name"] == "总装车间")
    confirmed = await platform.submission_post(f"/seasons/{TEAM}/entries/{entry_id}/confirmation", CONFIRMATION,
                                               unit_token(0))
    assert confirmed.status_code == 200, confirmed.text
    await services.until(f"/seasons/{TEAM}/entries/{entry_id}/submission", lambda item: item["status"] == "confirmed")
    await services.until(f"/seasons/{TEAM}/judges", lambda page: page["total"] == 1)
    path = f"/seasons/{TEAM}/entries/{entry_id}/recommendation"
    form = recommendation_form(1, ["TGQ-2026-0001"])

    answer = await platform.refused("review", lambda: services.post(path, form, PUDONG),
                                    (409, "recommender_id", "recommendation.preconditions.filings"))
    assert "统计表 and 工作总结" in answer.json()["errors"][0]["message"]
    filed = await platform.submission_post(f"/seasons/{TEAM}/recommenders/pudong/team-statistics", team_statistics(),
                                           PUDONG)
    assert filed.status_code == 201, filed.text

    async def only_the_summary_missing() -> bool:
        answer = await services.post(path, form, PUDONG)
        message = (answer.json().get("errors") or [{}])[0].get("message", "")
        return answer.status_code == 409 and "统计表" not in message and "工作总结" in message

    await eventually(only_the_summary_missing, timeout=90)
    summary = await platform.submission_post(f"/seasons/{TEAM}/recommenders/pudong/work-summaries", work_summary(),
                                             PUDONG)
    assert summary.status_code == 201, summary.text

    async def recommended() -> dict[str, Any] | None:
        answer = await services.post(path, form, PUDONG)
        return answer.json() if answer.status_code == 201 else None

    assert (await eventually(recommended, timeout=90))["event"] == "EntryRecommended"
