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
from tests.harness import TOKENS, bearer, command_status, eventually, isolated_settings, new_namespace
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



def unit_token(index: int) -> dict[str, str]:
    return bearer("unit", demo_registration(index)["credit_code"], f"promoter-{index}")


ORGANIZER = bearer("organizer", "310000", "staff-1")
SHANDONG = bearer("organizer", "370000", "staff-sd")
PUDONG = bearer("recommender", "pudong", "pudong-staff")
JUDGE = bearer("judge", "j-1", "judge-1")


def recommender_form(recommender_id: str, name: str, category: str, **changes: Any) -> dict[str, Any]:
    return {
        "recommender_id": recommender_id, "name": name, "category": category,
        "contacts": [{"name": "王芳", "department": "质量科", "title": "科长", "mobile": "13916001234",
                      "email": "wangfang@example.gov.cn"}],
    } | changes


PUDONG_FORM = recommender_form("pudong", "浦东新区市场监督管理局", "district", region_code="310115")
XUHUI_FORM = recommender_form("xuhui", "徐汇区市场监督管理局", "district", region_code="310104")
DIRECT_FORM = recommender_form("direct", "其他-市质协会员与质量推进部", "direct")


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

    async def until_known(self, season_id: str, *, units: list[int] = (), recommenders: list[str] = ()) -> None:
        """Wait until submission's projection knows the season, these units and recommending units."""
        await self.until(f"/seasons/{season_id}", lambda _: True)
        for index in units:
            await self.until(f"/seasons/{season_id}/units/{demo_registration(index)['credit_code']}", lambda _: True)
        await self.until(
            f"/seasons/{season_id}/recommenders",
            lambda page: set(recommenders) <= {item["recommender_id"] for item in page["items"]},
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
        await running.until_known(QC, units=[0, 1, 2], recommenders=["pudong", "xuhui", "direct"])
        await running.until_known(TEAM, units=[0], recommenders=["pudong", "xuhui", "direct"])
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

    judged = await services.get(f"/seasons/{TEAM}/entries/{entry_id}", JUDGE)
    assert judged["form"]["promoter"]["mobile"] == "139****5670"
    assert judged["form"]["promoter"]["email"] == "q***@example.com"
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
    assert (await client.post(path, json=qc_form(0), headers=SHANDONG)).status_code == 403, "another organizer"
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
    await refused_and_nothing_stored(
        services,
        lambda: client.post(f"/seasons/{QC}/entries/{entry_id}/withdrawal", json={"reason": "不是我的"},
                            headers=unit_token(0)),
        (403, "entry_id", "entry.owner"),
    )

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
    foreign = await services.get(f"/seasons/{QC}/entries", SHANDONG)
    assert foreign["total"] == 0, "another organizer's scope holds none of them"


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
                              headers=PUDONG)).status_code == 403

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
    assert (await client.get(f"/seasons/{'x' * 500}/entries", headers=ORGANIZER)).status_code == 422
    long_id = await client.post(f"/seasons/{QC}/entries/{'9' * 500}/withdrawal", json={"reason": "撤回"},
                                headers=unit_token(0))
    assert long_id.status_code == 422
    assert services.stored() == before
