"""Registration reads and writes within the caller's scope, over HTTP on the real stack: each role sees its own
registrations, recommending units and judges; personal data is masked but for the organizer's staff and the
data's owner; a recommending unit's token acts only in its own organizer's season; an object out of scope
answers 404, the same as a missing one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest_asyncio

from infra.bootstrap import build_api, build_worker
from qcp.demo import demo_registration, demo_season
from qcp.services import definition
from services.registration.domain.judge import judge_id_for
from tests.harness import bearer, eventually, isolated_settings, new_namespace
from tests.integration.test_registration_http import (
    DIRECT_FORM,
    JUDGE_FORM,
    NOW,
    QC,
    XUHUI_FORM,
    Service,
    contact,
)

SD_QC = "370000-2026-qc_group"
MISSING = "310000-2031-team"  # a season nobody opened

SHANGHAI = bearer("organizer", "310000", "staff-1")
SHANDONG = bearer("organizer", "370000", "staff-sd")
NATIONAL = bearer("national", "CAQ", "caq")
AUDITOR = bearer("auditor", "CAQ", "audit-1")
CODE0, CODE1 = demo_registration(0)["credit_code"], demo_registration(1)["credit_code"]
UNREGISTERED = demo_registration(4)["credit_code"]
UNIT0 = bearer("unit", CODE0, "promoter-0")
UNIT1 = bearer("unit", CODE1, "promoter-1")
XUHUI = bearer("recommender", "xuhui", "xuhui-staff", organizer="310000")
PUDONG_SH = bearer("recommender", "pudong", "pudong-sh", organizer="310000")
PUDONG_SD = bearer("recommender", "pudong", "pudong-sd", organizer="370000")
LI_MING = judge_id_for(QC, JUDGE_FORM["certificate_no"])
JUDGE_LI = bearer("judge", LI_MING, "li-ming")
JUDGE_LI_IN_SHANDONG = bearer("judge", LI_MING, "li-ming-sd", organizer="370000")
OTHER_JUDGE = bearer("judge", "j-someone", "judge-1")
FEED_SH = bearer("feed", "310000", "feed-sh")
FEED_SD = bearer("feed", "370000", "feed-sd")

PUDONG_FORM = {"recommender_id": "pudong", "name": "浦东新区市场监督管理局", "category": "district",
               "contacts": [contact(name="陈静", mobile="13761234567", email="chenjing@example.gov.cn",
                                    phone="021-68540000")]}
SD_PUDONG_FORM = PUDONG_FORM | {"name": "济南市浦东质量协会", "category": "industry",
                                "contacts": [contact(name="刘强", mobile="15065310222", email="liu@example.cn",
                                                     phone="0531-82660000")]}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def service(stack, tmp_path_factory) -> AsyncIterator[Service]:
    """Shanghai's and Shandong's seasons, each with a recommending unit `pudong`; Shanghai's with xuhui and the
    direct channel, two units (one through xuhui) and two judges (the organizer's and xuhui's)."""
    settings = isolated_settings(stack, "registration", tmp_path_factory.mktemp("registration-scopes"), new_namespace())
    api = build_api(definition("registration"), settings, clock=lambda: NOW)
    worker = build_worker(definition("registration"), settings)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://registration") as client:
        service = Service(client, api.state.application)
        shandong = demo_season(2026, NOW) | {"organizer": "370000", "organizer_name": "山东省质量协会"}
        for body, headers in ((demo_season(2026, NOW), SHANGHAI), (shandong, SHANDONG)):
            assert (await client.post("/seasons", json=body, headers=headers)).status_code == 201
        for season_id, body, headers in ((QC, XUHUI_FORM, SHANGHAI), (QC, DIRECT_FORM, SHANGHAI),
                                         (QC, PUDONG_FORM, SHANGHAI), (SD_QC, SD_PUDONG_FORM, SHANDONG)):
            answer = await client.post(f"/seasons/{season_id}/recommenders", json=body, headers=headers)
            assert answer.status_code == 201, answer.text
        units = ((demo_registration(0) | {"recommender_id": "direct"}, UNIT0),
                 (demo_registration(1) | {"recommender_id": "xuhui"}, UNIT1))
        for body, headers in units:
            answer = await client.post(f"/seasons/{QC}/registrations", json=body, headers=headers)
            assert answer.status_code == 201, answer.text
        judges = ((JUDGE_FORM, SHANGHAI), (JUDGE_FORM | {"name": "赵强", "certificate_no": "TGQ-2020-0456"}, XUHUI))
        for body, headers in judges:
            answer = await client.post(f"/seasons/{QC}/judges", json=body, headers=headers)
            assert answer.status_code == 201, answer.text
        await eventually(lambda: _total(service, f"/seasons/{QC}/judges", 2))
        await eventually(lambda: _total(service, f"/seasons/{QC}/registrations", 2))
        await eventually(lambda: _total(service, f"/seasons/{SD_QC}/recommenders", 1, SHANDONG))
        yield service
    stop.set()
    await running
    await api.state.mongo.close()
    api.state.application.close()


async def _total(service: Service, path: str, total: int, headers: dict[str, str] = SHANGHAI) -> bool:
    page = await service.get(path, headers=headers)
    return page is not None and page["total"] == total


async def answer(service: Service, path: str, headers: dict[str, str], **params: Any) -> httpx.Response:
    return await service.client.get(path, headers=headers, params=params)


def codes(page: httpx.Response) -> list[str]:
    return [item["credit_code"] for item in page.json()["items"]]


# ---------------------------------------------------------------- registrations


async def test_a_unit_reads_its_own_registrations_only(service: Service) -> None:
    assert codes(await answer(service, f"/seasons/{QC}/registrations", UNIT1)) == [CODE1]
    widened = await answer(service, f"/seasons/{QC}/registrations", UNIT1, recommender_id="direct")
    assert widened.json()["total"] == 0, "a filter narrows the unit's scope, never widens it"
    own = await answer(service, f"/seasons/{QC}/registrations/{CODE1}", UNIT1)
    assert own.json()["promoter"]["mobile"] == demo_registration(1)["promoter"]["mobile"]
    assert "masked" not in own.json()


async def test_another_units_registration_answers_as_a_missing_one(service: Service) -> None:
    registered = await answer(service, f"/seasons/{QC}/registrations/{CODE0}", UNIT1)
    unregistered = await answer(service, f"/seasons/{QC}/registrations/{UNREGISTERED}", UNIT1)
    assert (registered.status_code, unregistered.status_code) == (404, 404)
    assert registered.json()["detail"] == f"unit {CODE0} not found"
    assert unregistered.json()["detail"] == f"unit {UNREGISTERED} not found"
    across = await answer(service, f"/units/{CODE0}/registrations", UNIT1)
    assert across.status_code == 404


async def test_another_provinces_organizer_reads_no_registration(service: Service) -> None:
    listed = await answer(service, f"/seasons/{QC}/registrations", SHANDONG)
    missing = await answer(service, f"/seasons/{MISSING}/registrations", SHANDONG)
    assert (listed.status_code, missing.status_code) == (404, 404)
    assert listed.json()["detail"] == f"season {QC} not found"
    assert (await answer(service, f"/seasons/{QC}/registrations/{CODE0}", SHANDONG)).status_code == 404
    across = await answer(service, f"/units/{CODE0}/registrations", SHANDONG)
    assert across.json()["total"] == 0, "a unit's registrations across seasons: only the organizer's own seasons"


async def test_a_recommender_reads_the_registrations_that_name_it(service: Service) -> None:
    assert codes(await answer(service, f"/seasons/{QC}/registrations", XUHUI)) == [CODE1]
    widened = await answer(service, f"/seasons/{QC}/registrations", XUHUI, recommender_id="direct")
    assert (widened.status_code, widened.json()) == (404, {"detail": "recommending unit direct not found"})
    assert (await answer(service, f"/seasons/{QC}/registrations/{CODE0}", XUHUI)).status_code == 404
    mine = await answer(service, f"/seasons/{QC}/registrations/{CODE1}", XUHUI)
    assert mine.json()["promoter"]["mobile"] == demo_registration(1)["promoter"]["mobile"]


async def test_judges_read_no_registrations(service: Service) -> None:
    assert (await answer(service, f"/seasons/{QC}/registrations", JUDGE_LI)).status_code == 403
    assert (await answer(service, f"/seasons/{QC}/registrations/{CODE0}", JUDGE_LI)).status_code == 403


async def test_a_feed_reads_its_own_provinces_registrations_masked(service: Service) -> None:
    own = await answer(service, f"/seasons/{QC}/registrations", FEED_SH)
    assert codes(own) == sorted([CODE0, CODE1])
    assert own.json()["items"][0]["promoter"]["mobile"].count("*") == 4 and own.json()["items"][0]["masked"] is True
    assert (await answer(service, f"/seasons/{QC}/registrations", FEED_SD)).status_code == 404


async def test_national_and_auditors_read_every_registration_masked(service: Service) -> None:
    for headers in (NATIONAL, AUDITOR):
        page = (await answer(service, f"/seasons/{QC}/registrations", headers)).json()
        assert page["total"] == 2 and all(item["masked"] is True for item in page["items"])
        assert all(item["promoter"]["email"].startswith(item["promoter"]["email"][0] + "***@") for item in page["items"])
    own = (await answer(service, f"/seasons/{QC}/registrations", SHANGHAI)).json()
    assert all("masked" not in item for item in own["items"]), "the season's organizer sees what was given"


# ---------------------------------------------------------------- recommending units


async def test_a_recommenders_contacts_are_masked_but_for_its_organizer_and_itself(service: Service) -> None:
    given = XUHUI_FORM["contacts"][0]
    itself = (await answer(service, f"/seasons/{QC}/recommenders/xuhui", XUHUI)).json()
    staff = (await answer(service, f"/seasons/{QC}/recommenders/xuhui", SHANGHAI)).json()
    for shown in (itself, staff):
        assert shown["contacts"][0]["phone"] == given["phone"] and shown["contacts"][0]["mobile"] == given["mobile"]
    for headers in (NATIONAL, AUDITOR, UNIT0, PUDONG_SH):
        shown = await answer(service, f"/seasons/{QC}/recommenders", headers)
        xuhui = next((item for item in shown.json()["items"] if item["recommender_id"] == "xuhui"), None)
        if headers is PUDONG_SH:
            assert xuhui is None, "a recommending unit lists its own record only"
            continue
        assert xuhui["contacts"][0] == {
            "name": "王芳", "department": "质量科", "title": "科长", "mobile": "139****1234",
            "email": "w***@example.gov.cn", "phone": "021****0000"}
        assert xuhui["masked"] is True


async def test_a_recommender_reads_its_own_record_only(service: Service) -> None:
    listed = (await answer(service, f"/seasons/{QC}/recommenders", XUHUI)).json()
    assert [item["recommender_id"] for item in listed["items"]] == ["xuhui"]
    assert (await answer(service, f"/seasons/{QC}/recommenders/direct", XUHUI)).status_code == 404
    assert (await answer(service, f"/seasons/{QC}/recommenders", OTHER_JUDGE)).status_code == 403


async def test_another_provinces_recommender_with_the_same_id_reaches_nothing(service: Service) -> None:
    """Shanghai's `pudong` neither reads nor acts on Shandong's `pudong`, and the other way round."""
    for path in (f"/seasons/{SD_QC}/recommenders/pudong", f"/seasons/{SD_QC}/recommenders",
                 f"/seasons/{SD_QC}/registrations", f"/seasons/{SD_QC}/judges", f"/seasons/{SD_QC}"):
        refused = await answer(service, path, PUDONG_SH)
        assert refused.status_code == 404 and refused.json()["detail"] == f"season {SD_QC} not found", path
    assert (await answer(service, f"/seasons/{QC}/recommenders/pudong", PUDONG_SD)).status_code == 404
    before = service.stored()
    judge = JUDGE_FORM | {"name": "钱伟", "certificate_no": "TGQ-2022-0101"}
    acted = await service.client.post(f"/seasons/{SD_QC}/judges", json=judge, headers=PUDONG_SH)
    assert acted.status_code == 404 and service.stored() == before

    own_sh = (await answer(service, f"/seasons/{QC}/recommenders/pudong", PUDONG_SH)).json()
    own_sd = (await answer(service, f"/seasons/{SD_QC}/recommenders/pudong", PUDONG_SD)).json()
    assert own_sh["contacts"][0]["mobile"] == "13761234567" and "masked" not in own_sh
    assert own_sd["contacts"][0]["mobile"] == "15065310222" and "masked" not in own_sd


# ---------------------------------------------------------------- the judge roster


async def test_a_judge_reads_its_own_roster_record_only(service: Service) -> None:
    own = (await answer(service, f"/seasons/{QC}/judges", JUDGE_LI)).json()
    assert [item["judge_id"] for item in own["items"]] == [LI_MING]
    assert own["items"][0]["mobile"] == JUDGE_FORM["mobile"] and own["items"][0]["email"] == JUDGE_FORM["email"]
    assert (await answer(service, f"/seasons/{QC}/judges", OTHER_JUDGE)).json()["total"] == 0
    assert (await answer(service, f"/seasons/{QC}/judges", JUDGE_LI_IN_SHANDONG)).status_code == 404


async def test_a_recommender_reads_its_own_panel_only(service: Service) -> None:
    panel = (await answer(service, f"/seasons/{QC}/judges", XUHUI)).json()
    assert [item["name"] for item in panel["items"]] == ["赵强"] and panel["items"][0]["mobile"] == JUDGE_FORM["mobile"]
    other_panel = await answer(service, f"/seasons/{QC}/judges", XUHUI, recommender_id="direct")
    assert (other_panel.status_code, other_panel.json()) == (404, {"detail": "recommending unit direct not found"})


async def test_the_roster_is_closed_to_units_and_other_provinces(service: Service) -> None:
    assert (await answer(service, f"/seasons/{QC}/judges", UNIT0)).status_code == 403
    assert (await answer(service, f"/seasons/{QC}/judges", SHANDONG)).status_code == 404
    assert (await answer(service, f"/seasons/{QC}/judges", FEED_SH)).status_code == 403
    national = (await answer(service, f"/seasons/{QC}/judges", NATIONAL)).json()
    assert national["total"] == 2
    assert all(item["mobile"] == "138****5678" and item["email"] == "l***@example.com" and item["masked"]
               for item in national["items"])


# ---------------------------------------------------------------- seasons: 404 whether or not it exists


async def test_another_provinces_season_answers_as_a_missing_one(service: Service) -> None:
    existing = await answer(service, f"/seasons/{QC}", SHANDONG)
    missing = await answer(service, f"/seasons/{MISSING}", SHANDONG)
    assert (existing.status_code, existing.json()) == (404, {"detail": f"season {QC} not found"})
    assert (missing.status_code, missing.json()) == (404, {"detail": f"season {MISSING} not found"})
    own_missing = await answer(service, f"/seasons/{MISSING}", SHANGHAI)
    assert (own_missing.status_code, own_missing.json()) == (404, {"detail": f"season {MISSING} not found"})
    window = {"opens_at": "2026-06-01T00:00:00+08:00", "closes_at": "2026-07-31T00:00:00+08:00", "reason": "调整"}
    for season_id in (QC, MISSING):
        changed = await service.client.put(f"/seasons/{season_id}/windows/review", json=window, headers=SHANDONG)
        assert (changed.status_code, changed.json()) == (404, {"detail": f"season {season_id} not found"})


async def test_a_recommenders_token_bound_to_a_season_reaches_that_season_only(service: Service) -> None:
    bound = bearer("recommender", "xuhui", "xuhui-staff", organizer="310000", season=QC)
    assert (await answer(service, f"/seasons/{QC}/recommenders/xuhui", bound)).status_code == 200
    other = await answer(service, "/seasons/310000-2026-team/recommenders/xuhui", bound)
    assert (other.status_code, other.json()) == (404, {"detail": "season 310000-2026-team not found"})
