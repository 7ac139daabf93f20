"""Registration over HTTP on the real stack: seasons, windows, units, recommending units and judges are
stored as events, relayed to Kafka and projected into FerretDB by the worker; every refusal names its
field and rule and stores nothing; no input gives a 500."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import pytest_asyncio

from infra.bootstrap import build_api, build_worker
from qcp.demo import demo_registration, demo_season
from qcp.services import definition
from services.registration.application import RegistrationApplication
from tests.harness import bearer, eventually, isolated_settings, new_namespace

NOW = datetime(2026, 3, 1, 2, tzinfo=UTC)
QC, TEAM = "310000-2026-qc_group", "310000-2026-team"



ORGANIZER = bearer("organizer", "310000", "staff-1")
SHANDONG = bearer("organizer", "370000", "staff-sd")
UNIT0 = bearer("unit", demo_registration(0)["credit_code"], "promoter-0")
UNIT1 = bearer("unit", demo_registration(1)["credit_code"], "promoter-1")
XUHUI = bearer("recommender", "xuhui", "xuhui-staff")
JUDGE = bearer("judge", "j-someone", "judge-1")
NATIONAL = bearer("national", "CAQ", "caq")


def contact(**changes: Any) -> dict[str, Any]:
    return {"name": "王芳", "department": "质量科", "title": "科长", "mobile": "13916001234",
            "email": "wangfang@example.gov.cn", "phone": "021-64870000"} | changes


XUHUI_FORM = {"recommender_id": "xuhui", "name": "徐汇区市场监督管理局", "category": "district",
              "region_code": "310104", "contacts": [contact()], "address": "上海市徐汇区南丹东路80号", "postcode": "200030"}
DIRECT_FORM = {"recommender_id": "direct", "name": "其他-市质协会员与质量推进部", "category": "direct",
               "contacts": [contact(name="杨瑾", mobile="18917180961", email="yangjin@example.org", phone="021-52588838")]}
JUDGE_FORM = {"name": "李明", "work_unit": "上海电气集团股份有限公司", "certificate_no": "TGQ-2019-0012",
              "address": "上海市长宁区泰安路74号", "email": "liming@example.com", "mobile": "13812345678"}


@dataclass
class Service:
    client: httpx.AsyncClient
    application: RegistrationApplication

    def stored(self) -> int:
        return self.application.recorder.max_notification_id() or 0

    async def get(self, path: str, headers: dict[str, str] = ORGANIZER, **params: Any) -> dict[str, Any] | None:
        answer = await self.client.get(path, headers=headers, params=params)
        return answer.json() if answer.status_code == 200 else None


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def service(stack, tmp_path_factory) -> AsyncIterator[Service]:
    """The registration API in-process with a fixed clock, and its worker relaying and projecting."""
    settings = isolated_settings(stack, "registration", tmp_path_factory.mktemp("registration"), new_namespace())
    api = build_api(definition("registration"), settings, clock=lambda: NOW)
    worker = build_worker(definition("registration"), settings)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://registration") as client:
        service = Service(client, api.state.application)
        for kind in ("qc_group", "team"):
            opened = await client.post("/seasons", json=demo_season(2026, NOW) | {"kind": kind}, headers=ORGANIZER)
            assert opened.status_code == 201, opened.text
        yield service
    stop.set()
    await running
    await api.state.mongo.close()
    api.state.application.close()


async def test_recommenders_units_and_judges_reach_the_projection(service: Service) -> None:
    client = service.client
    for body in (XUHUI_FORM, DIRECT_FORM):
        answer = await client.post(f"/seasons/{QC}/recommenders", json=body, headers=ORGANIZER)
        assert answer.status_code == 201, answer.text
    assert (await client.post(f"/seasons/{TEAM}/recommenders", json=XUHUI_FORM, headers=ORGANIZER)).status_code == 201
    raised = await client.put(
        f"/seasons/{TEAM}/recommenders/xuhui/quota", json={"per_unit_max": 5, "reason": "建设“质量工匠创新工作室”成效突出"},
        headers=ORGANIZER,
    )
    assert raised.status_code == 200 and raised.json()["quota"]["per_unit_max"] == 5

    unit0 = demo_registration(0) | {"recommender_id": "direct"}  # a member unit through the direct channel
    unit1 = demo_registration(1) | {"recommender_id": "xuhui", "key_industries": ["biomedicine", "other"],
                                    "key_industry_other": "医疗器械"}
    assert (await client.post(f"/seasons/{QC}/registrations", json=unit0, headers=UNIT0)).status_code == 201
    assert (await client.post(f"/seasons/{QC}/registrations", json=unit1, headers=UNIT1)).status_code == 201
    team = demo_registration(0) | {"recommender_id": "xuhui", "intents": ["continuing_no_submission", "submitting"]}
    assert (await client.post(f"/seasons/{TEAM}/registrations", json=team, headers=UNIT0)).status_code == 201
    for index in (2, 3, 4):
        answer = await client.post(f"/seasons/{QC}/registrations", json=demo_registration(index), headers=ORGANIZER)
        assert answer.status_code == 201, answer.text

    by_organizer = await client.post(f"/seasons/{QC}/judges", json=JUDGE_FORM, headers=ORGANIZER)
    by_xuhui = await client.post(
        f"/seasons/{QC}/judges", json=JUDGE_FORM | {"name": "赵强", "certificate_no": "TGQ-2020-0456"}, headers=XUHUI
    )
    assert by_organizer.status_code == by_xuhui.status_code == 201, by_xuhui.text

    # the recommending units, with the raised quota and contacts for those who may see them
    listed = await eventually(
        lambda: _when(service.get(f"/seasons/{QC}/recommenders"), lambda page: page["total"] == 2)
    )
    assert [item["recommender_id"] for item in listed["items"]] == ["direct", "xuhui"]
    assert listed["items"][1]["labels"]["category"] == "区" and listed["items"][1]["contacts"][0]["mobile"] == "13916001234"
    seen_by_unit = await service.get(f"/seasons/{QC}/recommenders", headers=UNIT0)
    assert seen_by_unit["items"][1]["contacts"][0]["mobile"] == "139****1234"
    team_xuhui = await eventually(
        lambda: _when(service.get(f"/seasons/{TEAM}/recommenders/xuhui"), lambda item: item["quota_raised"])
    )
    assert team_xuhui["quota"]["per_unit_max"] == 5 and team_xuhui["quota_raise"]["previous"]["per_unit_max"] == 3
    assert (await service.get(f"/seasons/{QC}/recommenders/xuhui"))["quota"]["per_unit_max"] == 2  # the season's

    # a season's registrations with filters and pagination
    everything = await eventually(
        lambda: _when(service.get(f"/seasons/{QC}/registrations"), lambda page: page["total"] == 5)
    )
    assert [item["credit_code"] for item in everything["items"]] == sorted(item["credit_code"] for item in everything["items"])
    page = await service.get(f"/seasons/{QC}/registrations", skip=1, limit=2)
    assert page["total"] == 5 and [item["credit_code"] for item in page["items"]] == [
        item["credit_code"] for item in everything["items"][1:3]
    ]
    state_owned = await service.get(f"/seasons/{QC}/registrations", unit_nature="state_owned")
    assert {item["unit_name"] for item in state_owned["items"]} == {"上海申达电气设备有限公司", "上海市第一建筑工程有限公司"}
    assert (await service.get(f"/seasons/{QC}/registrations", key_domain="specialized_sme"))["total"] == 1
    by_xuhui_units = await service.get(f"/seasons/{QC}/registrations", recommender_id="xuhui")
    assert [item["credit_code"] for item in by_xuhui_units["items"]] == [unit1["credit_code"]]
    biomedicine = (await service.get(f"/seasons/{QC}/registrations", key_industry="biomedicine"))["items"]
    assert biomedicine[0]["labels"]["key_industries"] == [
        {"code": "biomedicine", "label": "生物医药", "group": "leading", "group_label": "先导产业"},
        {"code": "other", "label": "其他", "group": "other", "group_label": "其他"},
    ]
    assert biomedicine[0]["key_industry_other"] == "医疗器械"

    # the recommending unit sees its units' contacts, the national association sees them masked
    mine = await service.get(f"/seasons/{QC}/registrations/{unit1['credit_code']}", headers=XUHUI)
    assert mine["promoter"]["mobile"] == unit1["promoter"]["mobile"]
    masked = await service.get(f"/seasons/{QC}/registrations/{unit1['credit_code']}", headers=NATIONAL)
    assert masked["promoter"]["mobile"] != unit1["promoter"]["mobile"] and masked["masked"] is True

    # one unit across seasons, its code in any case
    across = await eventually(
        lambda: _when(service.get(f"/units/{unit0['credit_code'].lower()}/registrations"),
                      lambda page: page["total"] == 2)
    )
    assert (await service.get(f"/units/{unit0['credit_code']}/registrations", headers=UNIT0))["total"] == 2
    assert [item["season_id"] for item in across["items"]] == [QC, TEAM]
    assert across["items"][1]["labels"]["intents"][0]["label"] == "持续参加活动，暂无建设经验申报"
    assert across["items"][0]["labels"]["intents"][0]["label"] == "参加活动申报质量管理小组成果"

    # judges: the organizer and the nominating recommender see contacts, the national association masked
    judges = await eventually(lambda: _when(service.get(f"/seasons/{QC}/judges"), lambda page: page["total"] == 2))
    assert {item["certificate_no"] for item in judges["items"]} == {"TGQ-2019-0012", "TGQ-2020-0456"}
    assert next(item for item in judges["items"] if item["name"] == "赵强")["recommender_id"] == "xuhui"
    for_xuhui = await service.get(f"/seasons/{QC}/judges", headers=XUHUI, recommender_id="xuhui")
    assert for_xuhui["total"] == 1 and for_xuhui["items"][0]["mobile"] == "13812345678"
    for_national = await service.get(f"/seasons/{QC}/judges", headers=NATIONAL)
    assert all(item["mobile"] == "138****5678" and item["address"] == "上海市长宁区****" for item in for_national["items"])


async def test_a_window_change_is_an_event_with_its_reason(service: Service) -> None:
    body = {"opens_at": "2026-01-30T10:00:00+08:00", "closes_at": "2026-04-30T22:00:00+08:00",
            "reason": "申报截止时间延长至4月30日22:00"}
    changed = await service.client.put(f"/seasons/{QC}/windows/submission", json=body, headers=ORGANIZER)
    assert changed.status_code == 200, changed.text
    assert changed.json()["event"] == "SeasonWindowChanged"
    stored = service.stored()
    again = await service.client.put(f"/seasons/{QC}/windows/submission", json=body, headers=ORGANIZER)
    assert again.status_code == 200 and again.json()["event"] is None and service.stored() == stored

    season = await eventually(
        lambda: _when(service.get(f"/seasons/{QC}"), lambda item: item.get("last_window_change"))
    )
    assert season["windows"]["submission"]["closes_at"] == "2026-04-30T14:00:00Z"
    assert season["last_window_change"]["reason"] == body["reason"]
    assert season["last_window_change"]["changed_by"]["id"] == "staff-1"
    assert season["quota"]["per_type_max"] == {"problem_solving": 1, "innovation": 1}
    assert season["labels"]["stages"]["submission"] == "申报"


def refusals() -> list[tuple[str, str, str, dict[str, Any], dict[str, str], int, str, str]]:
    """(name, method, path, body, headers, status, field, rule)"""
    unit = demo_registration(0)
    season = demo_season(2026, NOW)
    return [
        ("season opened twice", "POST", "/seasons", season, ORGANIZER, 409, "season_id", "season.unique"),
        ("window without registration", "POST", "/seasons",
         season | {"year": 2027, "windows": {k: v for k, v in season["windows"].items() if k != "registration"}},
         ORGANIZER, 422, "windows.registration", "season.windows.registration_required"),
        ("grade bands out of order", "POST", "/seasons",
         season | {"year": 2027, "grade_bands": [{"code": "b", "label": "推进级", "min_score": 70},
                                                  {"code": "a", "label": "标杆级", "min_score": 90}]},
         ORGANIZER, 422, "grade_bands.1.min_score", "season.grade_bands.order"),
        ("rubric without points", "POST", "/seasons",
         season | {"year": 2027, "rubrics": [{"code": "r", "label": "评分表", "criteria": [
             {"code": "topic", "label": "选题", "max_points": -5}]}]},
         ORGANIZER, 422, "rubrics.0.criteria.0.max_points", "season.rubric.max_points_positive"),
        ("window closing before it opens", "PUT", f"/seasons/{QC}/windows/review",
         {"opens_at": "2026-07-01T00:00:00+08:00", "closes_at": "2026-06-01T00:00:00+08:00", "reason": "调整"},
         ORGANIZER, 422, "body", "season.window.closes_after_opens"),
        ("window out of order", "PUT", f"/seasons/{QC}/windows/recommendation",
         {"opens_at": "2026-01-01T00:00:00+08:00", "closes_at": "2026-06-01T00:00:00+08:00", "reason": "调整"},
         ORGANIZER, 422, "windows.recommendation.opens_at", "season.windows.order"),
        ("window change without reason", "PUT", f"/seasons/{QC}/windows/review",
         {"opens_at": "2026-06-01T00:00:00+08:00", "closes_at": "2026-07-31T00:00:00+08:00"},
         ORGANIZER, 422, "reason", "missing"),
        ("unknown recommender", "POST", f"/seasons/{QC}/registrations", unit | {"recommender_id": "nobody"},
         UNIT0, 422, "recommender_id", "registration.recommender.unknown"),
        ("parent prefix", "POST", f"/seasons/{QC}/registrations", unit | {"unit_name": "上海电气集团-上海申达电气设备有限公司"},
         UNIT0, 422, "unit_name", "registration.unit_name.no_parent_prefix"),
        ("other nature without text", "POST", f"/seasons/{QC}/registrations", unit | {"unit_nature": "other"},
         UNIT0, 422, "unit_nature_other", "registration.unit_nature_other.required"),
        ("unknown industry", "POST", f"/seasons/{QC}/registrations", unit | {"key_industries": ["steel"]},
         UNIT0, 422, "key_industries.0", "enum"),
        ("bad postcode", "POST", f"/seasons/{QC}/registrations", unit | {"postcode": "2000"},
         UNIT0, 422, "postcode", "identity.postcode"),
        ("bad mobile", "POST", f"/seasons/{QC}/registrations",
         unit | {"promoter": unit["promoter"] | {"mobile": "021-5258883"}}, UNIT0, 422, "promoter.mobile", "identity.mobile"),
        ("bad credit code", "POST", f"/seasons/{QC}/registrations", unit | {"credit_code": "91310000MA1K0000X1"},
         UNIT0, 422, "credit_code", "identity.credit_code.check_character"),
        ("recommender without contacts", "POST", f"/seasons/{QC}/recommenders",
         XUHUI_FORM | {"recommender_id": "minhang", "name": "闵行区市场监督管理局", "contacts": []},
         ORGANIZER, 422, "contacts", "recommender.contacts.required"),
        ("recommender name twice", "POST", f"/seasons/{QC}/recommenders",
         XUHUI_FORM | {"recommender_id": "xuhui-2"}, ORGANIZER, 409, "name", "recommender.name.unique"),
        ("second direct channel", "POST", f"/seasons/{QC}/recommenders",
         DIRECT_FORM | {"recommender_id": "direct-2", "name": "市质协秘书处"}, ORGANIZER, 409, "category",
         "recommender.direct.unique"),
        ("quota lowered", "PUT", f"/seasons/{QC}/recommenders/xuhui/quota", {"per_unit_max": 1, "reason": "减少"},
         ORGANIZER, 422, "per_unit_max", "recommender.quota.not_raised"),
        ("judge twice", "POST", f"/seasons/{QC}/judges", JUDGE_FORM | {"certificate_no": "tgq-2019-0012"},
         ORGANIZER, 409, "certificate_no", "judge.certificate.unique"),
        ("judge of an unknown panel", "POST", f"/seasons/{QC}/judges",
         JUDGE_FORM | {"certificate_no": "TGQ-9", "recommender_id": "nobody"}, ORGANIZER, 422, "recommender_id",
         "judge.recommender.unknown"),
        ("unknown field", "POST", f"/seasons/{QC}/judges", JUDGE_FORM | {"certificate_no": "TGQ-10", "age": 50},
         ORGANIZER, 422, "age", "extra_forbidden"),
    ]


@pytest.mark.parametrize(
    ("method", "path", "body", "headers", "status", "field", "rule"),
    [case[1:] for case in refusals()],
    ids=[case[0] for case in refusals()],
)
async def test_a_refusal_names_field_and_rule_and_stores_nothing(
    service: Service, method: str, path: str, body: dict, headers: dict, status: int, field: str, rule: str
) -> None:
    await _recommenders_and_a_judge(service)
    before = service.stored()
    answer = await service.client.request(method, path, json=body, headers=headers)
    assert answer.status_code == status, answer.text
    errors = answer.json()["errors"]
    assert (errors[0]["field"], errors[0]["rule"]) == (field, rule), errors
    assert errors[0]["message"] and answer.json()["detail"]
    assert service.stored() == before


@pytest.mark.parametrize(
    ("method", "path", "body", "headers", "status"),
    [
        ("POST", f"/seasons/{QC}/recommenders", XUHUI_FORM, {}, 401),
        ("POST", f"/seasons/{QC}/recommenders", XUHUI_FORM, UNIT0, 403),
        ("POST", f"/seasons/{QC}/recommenders", XUHUI_FORM, SHANDONG, 404),
        ("PUT", f"/seasons/{QC}/windows/review", {"opens_at": "2026-06-01T00:00:00+08:00",
                                                   "closes_at": "2026-07-31T00:00:00+08:00", "reason": "调整"}, SHANDONG, 404),
        ("PUT", f"/seasons/{QC}/recommenders/xuhui/quota", {"per_unit_max": 9, "reason": "增加"}, XUHUI, 403),
        ("POST", f"/seasons/{QC}/judges", JUDGE_FORM | {"recommender_id": "direct"}, XUHUI, 403),
        ("POST", f"/seasons/{QC}/judges", JUDGE_FORM, UNIT0, 403),
        ("POST", f"/seasons/{QC}/judges", JUDGE_FORM | {"certificate_no": "TGQ-2026-0001"}, JUDGE, 403),
        ("POST", f"/seasons/{QC}/registrations", demo_registration(1), UNIT0, 403),
        ("POST", "/seasons/310000-2031-team/recommenders", XUHUI_FORM, ORGANIZER, 404),
        ("PUT", f"/seasons/{QC}/recommenders/nobody/quota", {"per_unit_max": 9, "reason": "增加"}, ORGANIZER, 404),
    ],
)
async def test_who_may_do_what(service: Service, method: str, path: str, body: dict, headers: dict, status: int) -> None:
    before = service.stored()
    answer = await service.client.request(method, path, json=body, headers=headers)
    assert answer.status_code == status, answer.text
    assert service.stored() == before


async def test_a_retried_post_with_the_same_key_stores_once(service: Service) -> None:
    body = JUDGE_FORM | {"name": "孙丽", "certificate_no": "TGQ-2021-0789"}
    keyed = ORGANIZER | {"Idempotency-Key": "judge-sun-li"}
    first = await service.client.post(f"/seasons/{QC}/judges", json=body, headers=keyed)
    stored = service.stored()
    again = await service.client.post(f"/seasons/{QC}/judges", json=body, headers=keyed)
    assert first.status_code == 201 and again.status_code == 201
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert service.stored() == stored
    reused = await service.client.post(f"/seasons/{QC}/judges", json=body | {"name": "孙莉"}, headers=keyed)
    assert reused.status_code == 422 and reused.json()["errors"][0]["rule"] == "idempotency.key_reused"


@pytest.mark.parametrize(
    ("method", "path", "content"),
    [
        ("POST", "/seasons", b"{not json"),
        ("POST", "/seasons", b"[]"),
        ("POST", "/seasons", b"null"),
        ("POST", f"/seasons/{QC}/registrations", b'{"credit_code": 91310000, "promoter": "x"}'),
        ("POST", f"/seasons/{QC}/registrations", ('{"unit_name": "' + "名" * 100_000 + '"}').encode()),
        ("POST", f"/seasons/{QC}/recommenders", b'{"name": null, "category": "planet", "contacts": [{}]}'),
        ("POST", f"/seasons/{QC}/judges", b'{"certificate_no": ["a"], "mobile": 13812345678}'),
        ("PUT", f"/seasons/{QC}/windows/harvest", b'{"opens_at": "x", "closes_at": "y", "reason": "?"}'),
        ("PUT", f"/seasons/{QC}/windows/review", b'{"opens_at": "2026-13-45T99:00:00Z", "closes_at": 5, "reason": "?"}'),
        ("PUT", f"/seasons/{QC}/recommenders/xuhui/quota", b'{"per_unit_max": 1e309, "per_type_max": {"x": -1}}'),
        ("PUT", f"/seasons/{QC}/recommenders/xuhui/quota", b'{"reason": "nothing to raise"}'),
        ("POST", "/seasons/%00%FF/registrations", b"{}"),
        ("GET", f"/seasons/{QC}/registrations?skip=-1&limit=100000&unit_nature=alien", b""),
        ("GET", f"/seasons/{QC}/registrations?member=perhaps&key_industry=steel", b""),
        ("GET", "/units/%20/registrations", b""),
        ("GET", "/seasons/" + "x" * 300 + "/judges", b""),
        ("GET", f"/seasons/{QC}/registrations/%E4%B8%AD%00", b""),
    ],
)
async def test_no_input_gives_a_500(service: Service, method: str, path: str, content: bytes) -> None:
    before = service.stored()
    answer = await service.client.request(
        method, path, content=content, headers=ORGANIZER | {"Content-Type": "application/json"}
    )
    assert answer.status_code < 500, answer.text
    assert method == "GET" or answer.status_code >= 400
    assert service.stored() == before


async def test_the_codes_of_the_forms_with_their_labels(service: Service) -> None:
    codes = await service.get("/codes", headers=UNIT0)
    assert codes["key_industries"][0] == {"code": "integrated_circuits", "label": "集成电路", "group": "leading",
                                          "group_label": "先导产业"}
    assert [item["label"] for item in codes["unit_natures"]] == ["国有", "民营", "外资", "合资", "事业单位", "其他"]
    assert {item["code"] for item in codes["channels"]} == {"group", "unit", "recommender", "direct"}


async def _recommenders_and_a_judge(service: Service) -> None:
    """What the refusal cases collide with, registered once (a 409 on later calls is expected)."""
    for body in (XUHUI_FORM, DIRECT_FORM):
        await service.client.post(f"/seasons/{QC}/recommenders", json=body, headers=ORGANIZER)
    await service.client.post(f"/seasons/{QC}/judges", json=JUDGE_FORM, headers=ORGANIZER)


async def _when(answer: Any, condition: Any) -> Any:
    value = await answer
    return value if value is not None and condition(value) else None
