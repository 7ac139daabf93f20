"""Submission over HTTP on the real stack (Kafka, PostgreSQL, FerretDB).

Registration's API and worker run in-process beside submission's, in one namespace: seasons,
recommending units and units are registered through registration's API, relayed to Kafka, and
projected into submission's read model, which is all submission knows of them. Entries,
confirmations, statistics and work summaries are submitted over submission's API, stored as
events, relayed and projected back; every refusal names its field and rule and stores nothing,
and no input gives a 500.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import pytest_asyncio

from infra.bootstrap import build_api, build_worker
from qcp.demo import demo_registration, demo_season
from qcp.services import definition
from qcp.stack import StackConfig
from services.submission.application import SubmissionApplication
from tests.harness import bearer, command_status, eventually, isolated_settings, new_namespace
from tests.unit.test_submission_forms import (
    attachment,
    qc_form,
    qc_statistics,
    team_form,
    team_statistics,
    work_summary,
)

NOW = datetime(2026, 3, 1, 2, tzinfo=UTC)
QC, TEAM = "310000-2026-qc_group", "310000-2026-team"
SD_QC = "370000-2026-qc_group"



def unit_token(index: int) -> dict[str, str]:
    return bearer("unit", demo_registration(index)["credit_code"], f"promoter-{index}")


ORGANIZER = bearer("organizer", "310000", "staff-1")
SHANDONG = bearer("organizer", "370000", "staff-sd")
PUDONG = bearer("recommender", "pudong", "pudong-staff")
XUHUI = bearer("recommender", "xuhui", "xuhui-staff")
# Shandong's association chose the id `pudong` for one of its own recommending units too
SHANDONG_PUDONG = bearer("recommender", "pudong", "sd-pudong-staff", organizer="370000")
JUDGE = bearer("judge", "j-1", "judge-1")
NATIONAL = bearer("national", "CAQ", "caq-staff")
AUDITOR = bearer("auditor", "CAQ", "auditor-1")
FEED = bearer("feed", "310000", "feed-310000")
SHANDONG_FEED = bearer("feed", "370000", "feed-370000")


def recommender_form(recommender_id: str, name: str, category: str, **changes: Any) -> dict[str, Any]:
    return {
        "recommender_id": recommender_id, "name": name, "category": category,
        "contacts": [{"name": "王芳", "department": "质量科", "title": "科长", "mobile": "13916001234",
                      "email": "wangfang@example.gov.cn"}],
    } | changes


PUDONG_FORM = recommender_form("pudong", "浦东新区市场监督管理局", "district", region_code="310115")
XUHUI_FORM = recommender_form("xuhui", "徐汇区市场监督管理局", "district", region_code="310104")
DIRECT_FORM = recommender_form("direct", "其他-市质协会员与质量推进部", "direct")
SD_PUDONG_FORM = recommender_form("pudong", "济南市历下区市场监督管理局", "district", region_code="370102")
SHANDONG_SEASON = {"organizer": "370000", "organizer_name": "山东省质量管理协会",
                   "title": "2026年山东省质量管理小组活动（演示）"}


class Calendar:
    """The injected clock of both APIs: tests move it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Services:
    registration: httpx.AsyncClient
    submission: httpx.AsyncClient
    application: SubmissionApplication
    calendar: Calendar
    known: set[tuple[str, str]] = field(default_factory=set)

    def stored(self) -> int:
        return self.application.recorder.max_notification_id() or 0

    async def get(self, path: str, headers: dict[str, str] = ORGANIZER, **params: Any) -> Any:
        answer = await self.submission.get(path, headers=headers, params=params)
        return answer.json() if answer.status_code == 200 else None

    async def until(self, path: str, check: Callable[[Any], bool], headers: dict[str, str] = ORGANIZER,
                    **params: Any) -> Any:
        """Poll submission's projection until the answer passes the check."""

        async def probe() -> Any:
            answer = await self.get(path, headers, **params)
            return answer if answer is not None and check(answer) else None

        return await eventually(probe, timeout=90)

    async def register(self, path: str, body: dict[str, Any], headers: dict[str, str] = ORGANIZER) -> dict[str, Any]:
        answer = await self.registration.post(path, json=body, headers=headers)
        assert answer.status_code == command_status(path), answer.text
        return answer.json()

    async def until_known(self, season_id: str, *, units: list[int] = (), recommenders: list[str] = (),
                          headers: dict[str, str] = ORGANIZER) -> None:
        """Wait until submission's projection knows the season, these units and recommending units."""
        await self.until(f"/seasons/{season_id}", lambda _: True, headers)
        for index in units:
            await self.until(f"/seasons/{season_id}/units/{demo_registration(index)['credit_code']}", lambda _: True,
                             headers)
        await self.until(
            f"/seasons/{season_id}/recommenders",
            lambda page: set(recommenders) <= {item["recommender_id"] for item in page["items"]}, headers,
        )


@asynccontextmanager
async def running_services(stack: StackConfig, root: Path, calendar: Calendar) -> AsyncIterator[Services]:
    """Registration's and submission's APIs (injected clock) and workers, in one fresh namespace."""
    namespace = new_namespace()
    apis, workers = {}, []
    stop = asyncio.Event()
    for service in ("registration", "submission"):
        settings = isolated_settings(stack, service, root / service, namespace)
        apis[service] = build_api(definition(service), settings, clock=calendar)
        workers.append(asyncio.create_task(build_worker(definition(service), settings).run(stop)))
    try:
        async with (
            httpx.AsyncClient(transport=httpx.ASGITransport(app=apis["registration"]), base_url="http://registration",
                              timeout=30) as registration,
            httpx.AsyncClient(transport=httpx.ASGITransport(app=apis["submission"]), base_url="http://submission",
                              timeout=30) as submission,
        ):
            yield Services(registration, submission, apis["submission"].state.application, calendar)
    finally:
        stop.set()
        await asyncio.gather(*workers)
        for api in apis.values():
            await api.state.mongo.close()
            api.state.application.close()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def services(stack, tmp_path_factory) -> AsyncIterator[Services]:
    """Two seasons (QC and team) with their recommending units and registered units, known to submission."""
    calendar = Calendar(NOW)
    async with running_services(stack, tmp_path_factory.mktemp("submission-http"), calendar) as running:
        for kind in ("qc_group", "team"):
            await running.register("/seasons", demo_season(2026, NOW) | {"kind": kind})
        for season_id in (QC, TEAM):
            for form in (PUDONG_FORM, XUHUI_FORM, DIRECT_FORM):
                await running.register(f"/seasons/{season_id}/recommenders", form)
        for index, recommender_id in ((0, "pudong"), (1, "pudong"), (2, "direct")):
            body = demo_registration(index) | {"recommender_id": recommender_id}
            await running.register(f"/seasons/{QC}/registrations", body, unit_token(index))
        await running.register(f"/seasons/{TEAM}/registrations", demo_registration(0) | {"recommender_id": "pudong"},
                               unit_token(0))
        await running.register("/seasons", demo_season(2026, NOW) | SHANDONG_SEASON, SHANDONG)
        await running.register(f"/seasons/{SD_QC}/recommenders", SD_PUDONG_FORM, SHANDONG)
        await running.register(f"/seasons/{SD_QC}/registrations", demo_registration(3) | {"recommender_id": "pudong"},
                               unit_token(3))
        await running.until_known(QC, units=[0, 1, 2], recommenders=["pudong", "xuhui", "direct"])
        await running.until_known(TEAM, units=[0], recommenders=["pudong", "xuhui", "direct"])
        await running.until_known(SD_QC, units=[3], recommenders=["pudong"], headers=SHANDONG)
        yield running


def problem(answer: httpx.Response) -> tuple[int, str, str]:
    body = answer.json()
    error = (body.get("errors") or [{}])[0]
    return answer.status_code, error.get("field"), error.get("rule")


async def refused_and_nothing_stored(
    services: Services, call: Callable[[], Awaitable[httpx.Response]], expected: tuple[int, str, str]
) -> httpx.Response:
    before = services.stored()
    answer = await call()
    assert problem(answer) == expected, answer.text
    assert services.stored() == before, "a refused request stored something"
    return answer


# ---------------------------------------------------------------- a team experience, end to end


async def test_a_team_experience_is_submitted_once_and_reaches_the_projection(services: Services) -> None:
    client = services.submission
    body = team_form(0, team_name="冲压工段")
    headers = unit_token(0) | {"Idempotency-Key": "team-0-stamping", "X-Trace-Id": "trace-team-0"}
    before = services.stored()
    first = await client.post(f"/seasons/{TEAM}/team-experiences", json=body, headers=headers)
    assert first.status_code == 201, first.text
    assert first.json()["event"] == "EntrySubmitted" and first.json()["version"] == 1
    retried = await client.post(f"/seasons/{TEAM}/team-experiences", json=body, headers=headers)
    assert retried.status_code == 201 and retried.headers["Idempotent-Replayed"] == "true"
    assert retried.json() == first.json()
    assert services.stored() == before + 2, "the entry and its key record, nothing for the retry"
    reused = await client.post(
        f"/seasons/{TEAM}/team-experiences", json=team_form(0, team_name="化验室"), headers=headers
    )
    assert problem(reused) == (422, "Idempotency-Key", "idempotency.key_reused")

    entry_id = first.json()["entry_id"]
    mine = await services.until(
        f"/units/{body['credit_code']}/entries", lambda page: page["total"] >= 1, unit_token(0), season_id=TEAM
    )
    (entry,) = [item for item in mine["items"] if item["entry_id"] == entry_id]
    assert entry["status"] == "submitted" and entry["status_label"] == "已申报"
    assert entry["recommender_id"] == "pudong", "taken from the registration"
    assert entry["name"] == "冲压工段" and entry["kind"] == "team"
    assert entry["form"]["metrics"]["quality_cost"] == "12.3456", "money stays an exact decimal"
    assert entry["submitted"]["channel"] == "group" and entry["submitted"]["actor"]["id"] == "promoter-0"
    assert entry["form"]["promoter"]["mobile"] == "13912345670", "the unit sees its own contacts"

    assert (await client.get(f"/seasons/{TEAM}/entries/{entry_id}", headers=JUDGE)).status_code == 403, \
        "a judge reads its assigned entries in review"
    national = await services.get(f"/seasons/{TEAM}/entries/{entry_id}", NATIONAL)
    assert national["form"]["promoter"]["mobile"] == "139****5670"
    assert national["form"]["promoter"]["email"] == "q***@example.com"
    inbox = await services.get(f"/seasons/{TEAM}/recommenders/pudong/entries", PUDONG, status="submitted")
    (in_inbox,) = [item for item in inbox["items"] if item["entry_id"] == entry_id]
    assert in_inbox["form"]["promoter"]["mobile"] == "13912345670", "its recommending unit sees them"
    assert {item["status"]: item["count"] for item in inbox["by_status"]}["submitted"] >= 1
    assert (await services.submission.get(f"/seasons/{TEAM}/recommenders/pudong/entries", headers=unit_token(0))).status_code == 403
    others = await services.get(f"/units/{body['credit_code']}/entries", bearer("recommender", "xuhui"), season_id=TEAM)
    assert others["total"] == 0, "another recommending unit sees none of them"


# ---------------------------------------------------------------- refusals


REFUSALS: list[tuple[str, str, dict[str, Any], dict[str, str] | None, tuple[int, str, str]]] = [
    ("team name ending in 班组", f"/seasons/{TEAM}/team-experiences", team_form(0, team_name="装配二班组"), None,
     (422, "team_name", "entry.team_name.suffix")),
    ("attachment name", f"/seasons/{TEAM}/team-experiences",
     team_form(0, team_name="装配三班", attachments=[attachment("申报材料.docx")]), None,
     (422, "attachments.0.file_name", "entry.attachment.name")),
    ("unit name not as registered", f"/seasons/{TEAM}/team-experiences",
     team_form(0, team_name="装配四班", unit_name="申达电气"), None, (422, "unit_name", "entry.unit_name.registered")),
    ("accident in the last three years", f"/seasons/{TEAM}/team-experiences",
     team_form(0, team_name="装配五班", accidents_last_three_years={"quality": 0, "safety": 1, "environmental": 0}),
     None, (422, "accidents_last_three_years.safety", "entry.team.accident_free")),
    ("a commitment not given", f"/seasons/{TEAM}/team-experiences",
     team_form(0, team_name="装配六班", commitments=team_form()["commitments"] | {"no_state_secrets": False}), None,
     (422, "commitments.no_state_secrets", "entry.commitments")),
    ("percentage above 100", f"/seasons/{TEAM}/team-experiences",
     team_form(0, team_name="装配七班", metrics=team_form()["metrics"] | {"first_pass_rate": 100.5}), None,
     (422, "metrics.first_pass_rate", "metric.percentage")),
    ("negative count", f"/seasons/{TEAM}/team-experiences",
     team_form(0, team_name="装配八班", metrics=team_form()["metrics"] | {"customer_complaints": -2}), None,
     (422, "metrics.customer_complaints", "metric.count")),
    ("a team form in a QC season", f"/seasons/{QC}/team-experiences", team_form(0), None,
     (422, "kind", "entry.kind")),
    ("a unit not registered for the season", f"/seasons/{QC}/qc-achievements", qc_form(3), unit_token(3),
     (409, "credit_code", "entry.unit.registered")),
    ("a QC group without its leader", f"/seasons/{QC}/qc-achievements",
     qc_form(0, members=[{"name": "李秀英", "role": "member"}]), None, (422, "members", "entry.qc.leader")),
    ("an unknown field", f"/seasons/{QC}/qc-achievements", qc_form(0) | {"favourite": 1}, None,
     (422, "favourite", "extra_forbidden")),
    ("a typed-in rate", f"/seasons/{QC}/recommenders/pudong/qc-statistics",
     qc_statistics(participation_rate="23.4"), PUDONG, (422, "participation_rate", "stats.rate.derived")),
    ("a rate above its bound", f"/seasons/{QC}/recommenders/pudong/qc-statistics",
     qc_statistics(participants=500_000), PUDONG, (422, "participants", "stats.participation.bounds")),
    ("a short work summary", f"/seasons/{QC}/recommenders/pudong/work-summaries", work_summary(2999), PUDONG,
     (422, "body", "summary.length")),
    ("an unregistered recommending unit", f"/seasons/{QC}/recommenders/minhang/qc-statistics", qc_statistics(),
     bearer("recommender", "minhang"), (409, "recommender_id", "stats.recommender.registered")),
]


@pytest.mark.parametrize(("path", "body", "headers", "expected"), [item[1:] for item in REFUSALS],
                         ids=[item[0] for item in REFUSALS])
async def test_a_refusal_names_its_field_and_rule_and_stores_nothing(
    services: Services, path: str, body: dict[str, Any], headers: dict[str, str] | None, expected: tuple[int, str, str]
) -> None:
    answer = await refused_and_nothing_stored(
        services, lambda: services.submission.post(path, json=body, headers=headers or unit_token(0)), expected
    )
    assert answer.json()["detail"]


async def test_who_may_submit_is_checked_before_anything_is_stored(services: Services) -> None:
    client, before = services.submission, services.stored()
    path = f"/seasons/{QC}/qc-achievements"
    assert (await client.post(path, json=qc_form(0))).status_code == 401
    assert (await client.post(path, json=qc_form(0), headers=unit_token(1))).status_code == 403, "another unit's form"
    assert (await client.post(path, json=qc_form(0), headers=PUDONG)).status_code == 403, "a recommending unit"
    assert (await client.post(path, json=qc_form(0), headers=SHANDONG)).status_code == 404, \
        "another organizer's season is missing to it"
    unknown = await client.post("/seasons/310000-1999-qc_group/qc-achievements", json=qc_form(0), headers=unit_token(0))
    assert unknown.status_code == 404 and "310000-1999-qc_group" in unknown.json()["detail"]
    for entry_id in ("not-a-uuid", "6f1c1a52-8a7e-4f57-9d0b-5d3e7f6a2c11"):
        answer = await client.post(f"/seasons/{QC}/entries/{entry_id}/withdrawal", json={"reason": "撤回"},
                                   headers=unit_token(0))
        assert answer.status_code == 404 and entry_id in answer.json()["detail"]
    assert services.stored() == before


# ---------------------------------------------------------------- an entry's life over HTTP


async def test_amend_confirm_and_withdraw_over_http(services: Services) -> None:
    client = services.submission
    submitted = await client.post(f"/seasons/{QC}/qc-achievements", json=qc_form(1), headers=unit_token(1))
    assert submitted.status_code == 201, submitted.text
    entry_id = submitted.json()["entry_id"]

    amended = await client.post(
        f"/seasons/{QC}/qc-achievements/{entry_id}/amendments",
        json=qc_form(1, topic="提高生物制剂灌装一次合格率", qc_type="innovation"), headers=unit_token(1),
    )
    assert amended.status_code == 200, amended.text
    assert (amended.json()["event"], amended.json()["changed"]) == ("EntryAmended", ["qc_type", "topic"])
    await refused_and_nothing_stored(
        services,
        lambda: client.post(f"/seasons/{QC}/qc-achievements/{entry_id}/amendments",
                            json=qc_form(1, topic="提高生物制剂灌装一次合格率", qc_type="innovation"),
                            headers=unit_token(1)),
        (422, "body", "entry.unchanged"),
    )
    before = services.stored()
    another_units = await client.post(f"/seasons/{QC}/entries/{entry_id}/withdrawal", json={"reason": "不是我的"},
                                      headers=unit_token(0))
    assert (another_units.status_code, another_units.json()) == (
        404, {"detail": f"entry {entry_id} of season {QC} not found"}), "another unit's entry is missing to it"
    assert services.stored() == before

    confirmation = {"self_evaluation": "对标T/CAQ10201-2020自评：程序规范，效果明显。", "self_score": 86,
                    "opinion": "同意推荐申报。", "sealed_form": attachment("浦江生物推荐意见表.pdf", "sealed_form"),
                    "sealed_on": "2026-03-01"}
    confirmed = await client.post(f"/seasons/{QC}/entries/{entry_id}/confirmation", json=confirmation,
                                  headers=unit_token(1))
    assert confirmed.status_code == 200 and confirmed.json()["event"] == "UnitConfirmed"
    projected = await services.until(f"/seasons/{QC}/entries/{entry_id}", lambda item: item["status"] == "confirmed",
                                     unit_token(1))
    assert projected["confirmation"]["channel"] == "unit", "单位通道"
    assert projected["confirmation"]["self_score"] == "86" and projected["topic"] == "提高生物制剂灌装一次合格率"
    assert projected["last_amendment"]["changed"] == ["qc_type", "topic"] and projected["version"] == 3

    withdrawn = await client.post(f"/seasons/{QC}/entries/{entry_id}/withdrawal", json={"reason": "课题调整"},
                                  headers=unit_token(1))
    assert withdrawn.status_code == 200 and withdrawn.json()["event"] == "EntryWithdrawn"
    await refused_and_nothing_stored(
        services,
        lambda: client.post(f"/seasons/{QC}/entries/{entry_id}/confirmation", json=confirmation, headers=unit_token(1)),
        (409, "entry_id", "entry.withdrawn"),
    )
    listed = await services.until(f"/seasons/{QC}/entries", lambda page: page["total"] >= 1, status="withdrawn",
                                  credit_code=demo_registration(1)["credit_code"])
    assert listed["items"][0]["withdrawal"]["reason"] == "课题调整"


async def test_the_organizer_submits_for_the_direct_channel_and_filters_find_it(services: Services) -> None:
    client = services.submission
    answer = await client.post(f"/seasons/{QC}/qc-achievements", json=qc_form(2, qc_type="innovation"),
                               headers=ORGANIZER)
    assert answer.status_code == 201, answer.text
    entry_id = answer.json()["entry_id"]
    found = await services.until(
        f"/seasons/{QC}/entries", lambda page: entry_id in [item["entry_id"] for item in page["items"]],
        kind="qc_group", qc_type="innovation", recommender_id="direct", status="submitted",
    )
    (entry,) = [item for item in found["items"] if item["entry_id"] == entry_id]
    assert entry["submitted"]["channel"] == "direct" and entry["submitted"]["actor"]["role"] == "organizer"
    page = await services.get(f"/seasons/{QC}/entries", skip=0, limit=1)
    assert page["limit"] == 1 and len(page["items"]) == 1 and page["total"] >= 2
    nothing = await services.get(f"/seasons/{QC}/entries", kind="team")
    assert nothing["total"] == 0
    assert (await client.get(f"/seasons/{QC}/entries", params={"status": "lost"}, headers=ORGANIZER)).status_code == 422
    foreign = await client.get(f"/seasons/{QC}/entries", headers=SHANDONG)
    assert foreign.status_code == 404, "another organizer's season is missing to it"


# ---------------------------------------------------------------- recommending units' filings


async def test_statistics_and_a_work_summary_are_filed_with_derived_rates(services: Services) -> None:
    client = services.submission
    headers = PUDONG | {"Idempotency-Key": "pudong-qc-table-2026"}
    filed = await client.post(f"/seasons/{QC}/recommenders/pudong/qc-statistics", json=qc_statistics(), headers=headers)
    assert filed.status_code == 201, filed.text
    derived = filed.json()["derived"]
    assert derived["participation_rate"]["value"] == "23.40"
    assert derived["achievement_rate"] == {"value": "56.89", "unit": "%", "numerator": 7311, "denominator": 12850,
                                           "formula": "本年度QC小组成果率=取得成果小组数/QC小组注册数×100%"}
    replayed = await client.post(f"/seasons/{QC}/recommenders/pudong/qc-statistics", json=qc_statistics(),
                                 headers=headers)
    assert replayed.headers.get("Idempotent-Replayed") == "true" and replayed.json() == filed.json()
    amended = await client.post(f"/seasons/{QC}/recommenders/pudong/qc-statistics",
                                json=qc_statistics(participants=103_000), headers=PUDONG)
    assert amended.status_code == 200 and amended.json()["event"] == "StatisticsAmended"
    assert amended.json()["derived"]["participation_rate"]["value"] == "25.00"
    wrong_kind = await client.post(f"/seasons/{QC}/recommenders/pudong/team-statistics", json=team_statistics(),
                                   headers=PUDONG)
    assert problem(wrong_kind) == (422, "kind", "stats.kind")
    assert (await client.post(f"/seasons/{QC}/recommenders/xuhui/qc-statistics", json=qc_statistics(),
                              headers=PUDONG)).status_code == 404

    summary = await client.post(f"/seasons/{QC}/recommenders/pudong/work-summaries", json=work_summary(3000),
                                headers=PUDONG)
    assert summary.status_code == 201 and summary.json()["characters"] == 3000

    tables = await services.until(
        f"/seasons/{QC}/recommenders/pudong/statistics", lambda page: page["total"] == 1 and page["items"][0]["version"] == 2,
        PUDONG,
    )
    table = tables["items"][0]
    assert table["derived"]["participation_rate"]["value"] == "25.00" and table["period"] == "2023-07..2024-06"
    assert table["form"]["economic_benefit"] == "65210.5" and table["amended"]["channel"] == "recommender"
    summaries = await services.until(f"/seasons/{QC}/recommenders/pudong/work-summaries",
                                     lambda page: page["total"] == 1, PUDONG)
    assert summaries["items"][0]["characters"] == 3000
    assert (await client.get(f"/seasons/{QC}/recommenders/pudong/statistics", headers=JUDGE)).status_code == 403


async def test_a_team_statistics_table_in_the_team_season(services: Services) -> None:
    answer = await services.submission.post(f"/seasons/{TEAM}/recommenders/pudong/team-statistics",
                                            json=team_statistics(), headers=PUDONG)
    assert answer.status_code == 201, answer.text
    assert answer.json()["derived"] == {}


# ---------------------------------------------------------------- the window, with the injected clock


async def test_after_the_window_closes_every_entry_command_is_refused_naming_it(services: Services) -> None:
    client = services.submission
    open_entry = await client.post(f"/seasons/{QC}/qc-achievements", json=qc_form(0, topic="缩短换型时间"),
                                   headers=unit_token(0))
    assert open_entry.status_code == 201, open_entry.text
    entry_id = open_entry.json()["entry_id"]
    closes = NOW + timedelta(days=60)
    services.calendar.now = closes + timedelta(seconds=1)
    try:
        shown = closes.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")
        for call in (
            lambda: client.post(f"/seasons/{QC}/qc-achievements", json=qc_form(0, topic="迟到的课题"),
                                headers=unit_token(0)),
            lambda: client.post(f"/seasons/{QC}/qc-achievements/{entry_id}/amendments",
                                json=qc_form(0, topic="缩短换型时间", qc_type="innovation"), headers=unit_token(0)),
            lambda: client.post(f"/seasons/{QC}/entries/{entry_id}/withdrawal", json={"reason": "迟了"},
                                headers=unit_token(0)),
        ):
            answer = await refused_and_nothing_stored(services, call, (409, "season_id", "season.window.submission"))
            assert f"{shown} Asia/Shanghai" in answer.json()["detail"]
    finally:
        services.calendar.now = NOW


# ---------------------------------------------------------------- no input gives a 500


GARBAGE = [b"", b"null", b"[]", b"{", b"\xff\xfe", json.dumps({"metrics": {"quality_cost": "1e999999"}}).encode(),
           json.dumps({"team_size": 10**30}).encode(), json.dumps({"period": None, "kind": "team"}).encode()]


async def test_no_input_gives_a_500(services: Services) -> None:
    client, before = services.submission, services.stored()
    paths = [
        f"/seasons/{TEAM}/team-experiences", f"/seasons/{QC}/qc-achievements",
        f"/seasons/{QC}/qc-achievements/x/amendments", f"/seasons/{QC}/entries/x/withdrawal",
        f"/seasons/{QC}/entries/x/confirmation", f"/seasons/{QC}/recommenders/pudong/qc-statistics",
        f"/seasons/{TEAM}/recommenders/pudong/team-statistics", f"/seasons/{QC}/recommenders/pudong/work-summaries",
    ]
    for path in paths:
        for body in GARBAGE:
            answer = await client.post(path, content=body, headers=ORGANIZER | {"Content-Type": "application/json"})
            assert 400 <= answer.status_code < 500, (path, body, answer.status_code, answer.text)
    huge = team_form(0, team_name="装配九班", metrics=team_form()["metrics"] | {"quality_cost": "1e999999"})
    answer = await client.post(f"/seasons/{TEAM}/team-experiences", json=huge, headers=unit_token(0))
    assert problem(answer) == (422, "metrics.quality_cost", "metric.amount")
    for query in ({"skip": -1}, {"limit": 0}, {"limit": 10_000}, {"kind": "x"}):
        assert (await client.get(f"/seasons/{QC}/entries", params=query, headers=ORGANIZER)).status_code == 422
    assert (await client.get("/units/%E2%80%8B/entries", headers=ORGANIZER)).status_code == 200
    assert (await client.get(f"/seasons/{QC}/entries/not-an-id", headers=ORGANIZER)).status_code == 404
    # the policy runs first: an organizer's scope already leaves such a season out; a national reader's does not
    assert (await client.get(f"/seasons/{'x' * 500}/entries", headers=ORGANIZER)).status_code == 404
    assert (await client.get(f"/seasons/{'x' * 500}/entries", headers=NATIONAL)).status_code == 422
    long_id = await client.post(f"/seasons/{QC}/entries/{'9' * 500}/withdrawal", json={"reason": "撤回"},
                                headers=unit_token(0))
    assert long_id.status_code == 422
    assert services.stored() == before


# ---------------------------------------------------------------- each caller sees only its own


def masked_contact(entry: dict[str, Any]) -> tuple[str, str]:
    contact = entry["form"]["contact"]
    return contact["mobile"], contact["email"]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def shanghai_entry(services: Services) -> dict[str, Any]:
    """Unit 0's QC achievement in Shanghai's season, recommended by Shanghai's pudong, once projected."""
    answer = await services.submission.post(f"/seasons/{QC}/qc-achievements",
                                            json=qc_form(0, topic="降低注塑件飞边率"), headers=unit_token(0))
    assert answer.status_code == 201, answer.text
    entry_id = answer.json()["entry_id"]
    return await services.until(f"/seasons/{QC}/entries/{entry_id}", lambda _: True)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def shandong_entry(services: Services) -> dict[str, Any]:
    """Unit 3's QC achievement in Shandong's season, recommended by Shandong's pudong, once projected."""
    answer = await services.submission.post(f"/seasons/{SD_QC}/qc-achievements",
                                            json=qc_form(3, topic="降低炼钢工序能耗"), headers=unit_token(3))
    assert answer.status_code == 201, answer.text
    entry_id = answer.json()["entry_id"]
    return await services.until(f"/seasons/{SD_QC}/entries/{entry_id}", lambda _: True, SHANDONG)


async def test_a_judge_reads_no_entries_at_submission(services: Services, shanghai_entry: dict[str, Any]) -> None:
    """Submission does not know judges' assignments (review does): a judge's role is named on none of its reads."""
    client = services.submission
    for path in (f"/seasons/{QC}/entries", f"/seasons/{QC}/entries/{shanghai_entry['entry_id']}",
                 f"/units/{shanghai_entry['credit_code']}/entries", f"/seasons/{QC}/units/{shanghai_entry['credit_code']}"):
        answer = await client.get(path, headers=JUDGE)
        assert answer.status_code == 403, (path, answer.text)


async def test_a_feed_reads_only_its_own_provinces_entries(
    services: Services, shanghai_entry: dict[str, Any], shandong_entry: dict[str, Any]
) -> None:
    client = services.submission
    own = await services.get(f"/seasons/{QC}/entries", FEED, limit=500)
    assert shanghai_entry["entry_id"] in [item["entry_id"] for item in own["items"]]
    assert {item["organizer"] for item in own["items"]} == {"310000"}
    assert masked_contact(next(item for item in own["items"] if item["entry_id"] == shanghai_entry["entry_id"])) == (
        "139****5670", "q***@example.com"), "a feed is not the owner of the contacts"
    for path in (f"/seasons/{SD_QC}/entries", f"/seasons/{SD_QC}/entries/{shandong_entry['entry_id']}"):
        answer = await client.get(path, headers=FEED)
        assert answer.status_code == 404, (path, answer.text)
    across = await services.get(f"/units/{shandong_entry['credit_code']}/entries", FEED)
    assert across["total"] == 0, "another province's entries of a unit are not in a feed's scope"
    sd_own = await services.get(f"/seasons/{SD_QC}/entries", SHANDONG_FEED)
    assert [item["entry_id"] for item in sd_own["items"]] == [shandong_entry["entry_id"]]


async def test_a_query_parameter_narrows_a_callers_entries_never_widens_them(
    services: Services, shanghai_entry: dict[str, Any]
) -> None:
    """A filter naming another unit or recommending unit is checked like a path naming it: 404, no data."""
    client, other_unit = services.submission, demo_registration(1)["credit_code"]
    asked = {
        "another unit's credit code": (unit_token(0), f"/seasons/{QC}/entries", {"credit_code": other_unit}),
        "another recommending unit's id": (XUHUI, f"/seasons/{QC}/entries", {"recommender_id": "pudong"}),
        "another unit's path": (unit_token(0), f"/units/{other_unit}/entries", {}),
    }
    answers = {what: (await client.get(path, headers=headers, params=params)).status_code
               for what, (headers, path, params) in asked.items()}
    assert answers == dict.fromkeys(asked, 404)
    narrowed = await services.get(f"/seasons/{QC}/entries", XUHUI, credit_code=shanghai_entry["credit_code"])
    assert narrowed["total"] == 0, "a unit pudong recommends is not xuhui's"
    own = await services.get(f"/seasons/{QC}/entries", unit_token(0), limit=500)
    assert own["total"] >= 1 and {item["credit_code"] for item in own["items"]} == {shanghai_entry["credit_code"]}


async def test_another_units_entry_is_missing_to_a_unit(services: Services, shanghai_entry: dict[str, Any]) -> None:
    client, entry_id = services.submission, shanghai_entry["entry_id"]
    missing = "6f1c1a52-8a7e-4f57-9d0b-5d3e7f6a2c11"
    another = await client.get(f"/seasons/{QC}/entries/{entry_id}", headers=unit_token(1))
    absent = await client.get(f"/seasons/{QC}/entries/{missing}", headers=unit_token(1))
    assert (another.status_code, absent.status_code) == (404, 404)
    assert another.json()["detail"] == f"entry {entry_id} of season {QC} not found"
    assert absent.json()["detail"] == f"entry {missing} of season {QC} not found"
    before = services.stored()
    amended = await client.post(f"/seasons/{QC}/qc-achievements/{entry_id}/amendments",
                                json=qc_form(1, topic="降低注塑件飞边率"), headers=unit_token(1))
    assert amended.status_code == 404, amended.text
    assert services.stored() == before


async def test_another_provinces_season_is_missing_to_its_organizer(services: Services,
                                                                     shandong_entry: dict[str, Any]) -> None:
    client, entry_id = services.submission, shandong_entry["entry_id"]
    for path in (f"/seasons/{SD_QC}", f"/seasons/{SD_QC}/entries", f"/seasons/{SD_QC}/entries/{entry_id}",
                 f"/seasons/{SD_QC}/units/{shandong_entry['credit_code']}", f"/seasons/{SD_QC}/recommenders",
                 "/seasons/370000-1999-qc_group"):
        answer = await client.get(path, headers=ORGANIZER)
        assert answer.status_code == 404, (path, answer.text)
        assert answer.json()["detail"].endswith("not found")
    before = services.stored()
    answer = await client.post(f"/seasons/{SD_QC}/entries/{entry_id}/withdrawal", json={"reason": "越权"},
                               headers=ORGANIZER)
    assert answer.status_code == 404
    assert services.stored() == before


async def test_a_registered_unit_is_read_by_its_owners_only(services: Services) -> None:
    """The unit itself, the recommending unit its registration names, its organizer's staff and feed; national and
    auditor read; another unit, another recommending unit, another province and a judge do not."""
    client = services.submission
    pudong_unit = demo_registration(0)["credit_code"]   # recommended by Shanghai's pudong
    direct_unit = demo_registration(2)["credit_code"]   # recommended by the direct channel
    path = f"/seasons/{QC}/units/{pudong_unit}"
    expected = {
        "the unit itself": (unit_token(0), 200), "its recommending unit": (PUDONG, 200),
        "its organizer's staff": (ORGANIZER, 200), "the national association": (NATIONAL, 200),
        "an auditor": (AUDITOR, 200), "another unit": (unit_token(1), 404), "another recommending unit": (XUHUI, 404),
        "another province's organizer": (SHANDONG, 404), "another province's pudong": (SHANDONG_PUDONG, 404),
        "its province's feed": (FEED, 200), "another province's feed": (SHANDONG_FEED, 404), "a judge": (JUDGE, 403),
    }
    answers = {who: (await client.get(path, headers=headers)).status_code for who, (headers, _) in expected.items()}
    assert answers == {who: status for who, (_, status) in expected.items()}
    not_its_own = await client.get(f"/seasons/{QC}/units/{direct_unit}", headers=PUDONG)
    missing = await client.get(f"/seasons/{QC}/units/91310000MA1K000000", headers=PUDONG)
    assert (not_its_own.status_code, missing.status_code) == (404, 404), "a unit pudong does not recommend"
    assert (await services.get(path, PUDONG))["recommender_id"] == "pudong"


async def test_a_recommender_token_acts_only_in_its_own_organizers_season(
    services: Services, shandong_entry: dict[str, Any]
) -> None:
    """Shanghai's `pudong` neither reads nor files anything of Shandong's `pudong`."""
    client, entry_id = services.submission, shandong_entry["entry_id"]
    sd_unit = shandong_entry["credit_code"]
    for path in (f"/seasons/{SD_QC}/recommenders/pudong/entries", f"/seasons/{SD_QC}/recommenders/pudong/statistics",
                 f"/seasons/{SD_QC}/recommenders/pudong/work-summaries", f"/seasons/{SD_QC}/units/{sd_unit}",
                 f"/seasons/{SD_QC}/entries/{entry_id}", f"/seasons/{SD_QC}/entries", f"/seasons/{SD_QC}"):
        answer = await client.get(path, headers=PUDONG)
        assert answer.status_code == 404, (path, answer.text)
    before = services.stored()
    for kind, body in (("qc-statistics", qc_statistics()), ("work-summaries", work_summary(3000))):
        answer = await client.post(f"/seasons/{SD_QC}/recommenders/pudong/{kind}", json=body, headers=PUDONG)
        assert answer.status_code == 404, answer.text
    assert services.stored() == before
    across = await services.get(f"/units/{sd_unit}/entries", PUDONG)
    assert across["total"] == 0

    inbox = await services.get(f"/seasons/{SD_QC}/recommenders/pudong/entries", SHANDONG_PUDONG)
    assert [item["entry_id"] for item in inbox["items"]] == [entry_id]
    assert masked_contact(inbox["items"][0]) == ("13912345670", "qc0@example.com"), "its own unit's contacts"
    assert (await services.get(f"/seasons/{QC}/recommenders/pudong/entries", SHANDONG_PUDONG)) is None
    assert (await client.get(f"/seasons/{QC}/units/{demo_registration(0)['credit_code']}",
                             headers=SHANDONG_PUDONG)).status_code == 404


async def test_an_entrys_contacts_are_seen_by_its_owners_and_the_organizers_staff_only(
    services: Services, shanghai_entry: dict[str, Any]
) -> None:
    entry_id, credit_code = shanghai_entry["entry_id"], shanghai_entry["credit_code"]
    as_given, hidden = ("13912345670", "qc0@example.com"), ("139****5670", "q***@example.com")
    seen = {
        "the unit": (await services.get(f"/seasons/{QC}/entries/{entry_id}", unit_token(0))),
        "its recommending unit": (await services.get(f"/seasons/{QC}/entries/{entry_id}", PUDONG)),
        "the organizer's staff": (await services.get(f"/seasons/{QC}/entries/{entry_id}", ORGANIZER)),
        "the national association": (await services.get(f"/seasons/{QC}/entries/{entry_id}", NATIONAL)),
        "an auditor": (await services.get(f"/seasons/{QC}/entries/{entry_id}", AUDITOR)),
        "the province's feed": (await services.get(f"/seasons/{QC}/entries/{entry_id}", FEED)),
    }
    assert {who: masked_contact(entry) for who, entry in seen.items()} == {
        "the unit": as_given, "its recommending unit": as_given, "the organizer's staff": as_given,
        "the national association": hidden, "an auditor": hidden, "the province's feed": hidden,
    }
    assert {who: entry.get("masked", False) for who, entry in seen.items()} == {
        "the unit": False, "its recommending unit": False, "the organizer's staff": False,
        "the national association": True, "an auditor": True, "the province's feed": True,
    }
    listed = await services.get(f"/units/{credit_code}/entries", NATIONAL, season_id=QC)
    (item,) = [item for item in listed["items"] if item["entry_id"] == entry_id]
    assert masked_contact(item) == hidden, "lists follow the same policy"


async def test_a_recommending_units_filings_are_masked_for_everyone_but_it_and_its_organizer(
    services: Services,
) -> None:
    answer = await services.submission.post(f"/seasons/{TEAM}/recommenders/xuhui/team-statistics",
                                            json=team_statistics(), headers=XUHUI)
    assert answer.status_code == 201, answer.text
    path = f"/seasons/{TEAM}/recommenders/xuhui/statistics"
    own = await services.until(path, lambda page: page["total"] == 1, XUHUI)
    staff = await services.get(path, ORGANIZER)
    national = await services.get(path, NATIONAL)
    contacts = [page["items"][0]["form"]["contact"] for page in (own, staff, national)]
    assert [(item["mobile"], item["email"], item["address"]) for item in contacts] == [
        ("13812345678", "zhoumin@example.com", "上海市长宁区泰安路74号"),
        ("13812345678", "zhoumin@example.com", "上海市长宁区泰安路74号"),
        ("138****5678", "z***@example.com", "上海市长宁区****"),
    ]
    assert (await services.submission.get(path, headers=PUDONG)).status_code == 404, "another recommending unit"
    assert (await services.submission.get(path, headers=unit_token(0))).status_code == 403
