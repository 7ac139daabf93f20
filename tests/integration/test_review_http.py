"""Review over HTTP on the real stack (Kafka, PostgreSQL, FerretDB).

Registration's, submission's and review's APIs (with one injected clock) and workers run in-process in
one namespace. Seasons, recommending units, units and judges are registered through registration's
API; entries are submitted and confirmed through submission's; all of it reaches review only as
events on Kafka, projected into review's read model. Recommendations, formal review, assignments by
hand, scores and their revisions go through review's API, are stored as events, relayed to
review.events and projected back. Every refusal names its field and rule and stores nothing; no input
gives a 500.

The review worker runs without the assignment process manager (its own tests cover it): judges are
assigned here by the secretariat's endpoint, which records the same JudgesAssigned.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from contracts import Actor
from contracts.codes import Channel, Role
from contracts.registered import SeasonOpened
from infra.bootstrap import ServiceDefinition, build_api, build_worker
from infra.eventstore import CommandContext
from qcp.demo import demo_registration, demo_season
from qcp.services import definition
from qcp.stack import StackConfig
from services.review.application import ReviewApplication
from aiokafka import AIOKafkaConsumer, TopicPartition

from tests.harness import command_status, eventually, isolated_settings, new_namespace
from tests.integration.test_submission_http import (
    DIRECT_FORM,
    PUDONG_FORM,
    XUHUI_FORM,
    Calendar,
    bearer,
    problem,
    unit_token,
)
from tests.unit.test_submission_forms import attachment, qc_form

NOW = datetime(2026, 3, 1, 2, tzinfo=UTC)
TODAY = "2026-03-01"
REVIEW_OPEN = NOW + timedelta(days=100)  # demo_season: review from day 90 to day 150
NOTICE_OPEN = NOW + timedelta(days=155)  # notice 150..160
PUBLICATION_OPEN = NOW + timedelta(days=165)  # publication 160..170
QC = "310000-2026-qc_group"

ORGANIZER = bearer("organizer", "310000", "staff-1")
SHANDONG = bearer("organizer", "370000", "staff-sd")
PUDONG = bearer("recommender", "pudong", "pudong-staff")
XUHUI = bearer("recommender", "xuhui", "xuhui-staff")
AUDITOR = bearer("auditor", "audit", "auditor-1")


def criteria(*points: tuple[str, str, int]) -> list[dict[str, Any]]:
    return [{"code": code, "label": label, "max_points": maximum} for code, label, maximum in points]


RUBRICS = [
    {"code": "qc_material", "label": "质量管理小组成果文审评分表", "standard": "T/CAQ10201-2020", "review_form": "material",
     "criteria": criteria(("topic", "选题", 15), ("process", "活动过程", 45), ("effect", "效果", 25),
                          ("report", "成果报告", 15))},
    {"code": "qc_presentation", "label": "质量管理小组成果发表评审表", "standard": "T/CAQ10201-2020",
     "review_form": "presentation", "criteria": criteria(("content", "成果内容", 70), ("presentation", "发表", 30))},
]
GRADE_BANDS = [
    {"code": "benchmark", "label": "标杆级", "min_score": 90},
    {"code": "excellent", "label": "优秀级", "min_score": 80},
    {"code": "advancing", "label": "推进级", "min_score": 70},
]


def season_body() -> dict[str, Any]:
    """The demo season (windows relative to NOW) with the scoring forms, grade bands and stage weights."""
    return demo_season(2026, NOW) | {
        "rubrics": RUBRICS, "grade_bands": GRADE_BANDS,
        "stage_weights": {"material_review": "0.4", "presentation": "0.6"},
    }


def judge_form(index: int, **changes: Any) -> dict[str, Any]:
    return {
        "name": ["周明", "吴敏", "郑强", "冯丽", "陈刚", "褚红", "卫东", "蒋华", "沈平"][index],
        "work_unit": f"上海质量管理科学研究院第{index + 1}研究室",
        "certificate_no": f"TGQ-2026-{index + 1:04d}",
        "address": "上海市长宁区泰安路74号",
        "email": f"judge{index}@example.org",
        "mobile": f"1380000{index:04d}",
    } | changes


def fill(rubric: dict[str, Any], total: float | str) -> dict[str, str]:
    """A rubric's points adding up to `total`, each criterion filled up to its maximum in turn."""
    from decimal import Decimal

    left, points = Decimal(str(total)), {}
    for criterion in rubric["criteria"]:
        points[criterion["code"]] = str(min(left, Decimal(criterion["max_points"])))
        left -= Decimal(points[criterion["code"]])
    assert left == 0
    return points


def material(total: float | str, **extra: Any) -> dict[str, Any]:
    return {"stage": "material_review", "criteria": fill(RUBRICS[0], total)} | extra


def presentation(total: float | str, **extra: Any) -> dict[str, Any]:
    return {"stage": "presentation", "criteria": fill(RUBRICS[1], total)} | extra


def recommendation_form(rank: int, certificates: list[str], **changes: Any) -> dict[str, Any]:
    return {
        "conformance": "符合T/CAQ10201-2020的程序要求，数据完整",
        "features": "统计方法运用得当，效果经顾客确认",
        "shortcomings": "巩固期偏短",
        "score": "86.5",
        "rank": rank,
        "opinion": "同意推荐",
        "judges": [{"name": "蒋华", "work_unit": "浦东新区质量技术服务中心", "certificate_no": certificate,
                    "email": "jianghua@example.org", "mobile": "13800000007"} for certificate in certificates],
        "declaration": {"accepted": True, "signer": "王芳", "signed_on": TODAY},
        "filled_by": "王芳",
        "phone": "021-58881234",
        "filled_on": TODAY,
    } | changes


CONFIRMATION = {
    "self_evaluation": "对标T/CAQ10201-2020自评：程序规范，效果明显。", "self_score": 86, "opinion": "同意推荐申报。",
    "sealed_form": attachment("推荐意见表.pdf", "sealed_form"), "sealed_on": TODAY,
}


async def everything_on(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    """Every envelope on the topic up to its current end, decoded."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, number) for number in sorted(consumer.partitions_for_topic(topic) or
                                                                            await _partitions(consumer, topic))]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records: list[Any] = []
        while [partition for partition in partitions if await consumer.position(partition) < ends[partition]]:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records.extend(batch)
        return [json.loads(record.value) for record in records]
    finally:
        await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    await consumer._client.force_metadata_update()  # noqa: SLF001
    return consumer.partitions_for_topic(topic) or set()


async def published(services: "ReviewServices", type_: str, entry_id: str) -> dict[str, Any]:
    """The envelope of `type_` for the entry on review.events, once the relay has published it."""

    async def probe() -> dict[str, Any] | None:
        envelopes = await everything_on(services.settings.kafka_bootstrap, services.review_topic)
        found = [item for item in envelopes if item["type"] == type_ and item["payload"].get("entry_id") == entry_id]
        return found[-1] if found else None

    return await eventually(probe, timeout=60)


def without_processes(service: str) -> ServiceDefinition:
    """The service as its workers run it, minus process managers (the assignment worker has its own tests)."""
    item = definition(service)
    return dataclasses.replace(item, processes=()) if hasattr(item, "processes") else item


@dataclass
class ReviewServices:
    registration: httpx.AsyncClient
    submission: httpx.AsyncClient
    review: httpx.AsyncClient
    application: ReviewApplication
    calendar: Calendar
    settings: Any
    registration_application: Any = None
    judges: dict[str, str] = field(default_factory=dict)  # certificate number → judge id
    entries: dict[str, str] = field(default_factory=dict)  # entries shared by several tests

    def stored(self) -> int:
        return self.application.recorder.max_notification_id() or 0

    @property
    def review_topic(self) -> str:
        return self.settings.own_topic

    async def get(self, path: str, headers: dict[str, str] = ORGANIZER, **params: Any) -> Any:
        answer = await self.review.get(path, headers=headers, params=params)
        return answer.json() if answer.status_code == 200 else None

    async def until(self, path: str, check: Callable[[Any], bool] = lambda _: True,
                    headers: dict[str, str] = ORGANIZER, **params: Any) -> Any:
        """Poll review's projection until the answer passes the check."""

        async def probe() -> Any:
            answer = await self.get(path, headers, **params)
            return answer if answer is not None and check(answer) else None

        return await eventually(probe, timeout=90)

    async def post(self, path: str, body: Any = None, headers: dict[str, str] = ORGANIZER) -> httpx.Response:
        return await self.review.post(path, json=body if body is not None else {}, headers=headers)

    async def ok(self, path: str, body: Any = None, headers: dict[str, str] = ORGANIZER) -> dict[str, Any]:
        answer = await self.post(path, body, headers)
        assert answer.status_code == command_status(path), answer.text
        return answer.json()

    async def register(self, path: str, body: dict[str, Any], headers: dict[str, str] = ORGANIZER) -> dict[str, Any]:
        answer = await self.registration.post(path, json=body, headers=headers)
        assert answer.status_code == command_status(path), answer.text
        return answer.json()

    async def submit(self, index: int, *, confirm: bool = True, **form: Any) -> str:
        """A QC achievement of demo unit `index` (submitted and, by default, confirmed), known to review."""
        headers = ORGANIZER if index == 2 else unit_token(index)
        answer = await self.submission.post(f"/seasons/{QC}/qc-achievements", json=qc_form(index, **form), headers=headers)
        assert answer.status_code == 201, answer.text
        entry_id = answer.json()["entry_id"]
        status = "submitted"
        if confirm:
            confirmed = await self.submission.post(f"/seasons/{QC}/entries/{entry_id}/confirmation", json=CONFIRMATION,
                                                   headers=unit_token(index))
            assert confirmed.status_code == 200, confirmed.text
            status = "confirmed"
        await self.until(f"/seasons/{QC}/entries/{entry_id}/submission", lambda item: item["status"] == status)
        return entry_id

    def judge(self, index: int) -> str:
        return self.judges[f"TGQ-2026-{index + 1:04d}"]

    def judge_token(self, index: int) -> dict[str, str]:
        return bearer("judge", self.judge(index), f"judge-{index}")


@asynccontextmanager
async def running_review(
    stack: StackConfig, root: Path, calendar: Calendar, *, assignment_worker: bool = False
) -> AsyncIterator[ReviewServices]:
    """Registration's, submission's and review's APIs (injected clock) and workers, in one fresh namespace;
    the review worker runs the assignment process manager only when asked."""
    namespace = new_namespace()
    apis, workers, settings = {}, [], {}
    stop = asyncio.Event()
    for service in ("registration", "submission", "review"):
        settings[service] = isolated_settings(stack, service, root / service, namespace)
        apis[service] = build_api(definition(service), settings[service], clock=calendar)
        worker_definition = definition(service) if assignment_worker else without_processes(service)
        workers.append(asyncio.create_task(build_worker(worker_definition, settings[service]).run(stop)))
    clients = {
        service: httpx.AsyncClient(transport=httpx.ASGITransport(app=apis[service]), base_url=f"http://{service}",
                                   timeout=30)
        for service in apis
    }
    try:
        yield ReviewServices(clients["registration"], clients["submission"], clients["review"],
                             apis["review"].state.application, calendar, settings["review"],
                             apis["registration"].state.application)
    finally:
        for client in clients.values():
            await client.aclose()
        stop.set()
        await asyncio.gather(*workers)
        for api in apis.values():
            await api.state.mongo.close()
            api.state.application.close()


async def set_up_season(running: ReviewServices, judges: int = 7, season: dict[str, Any] | None = None) -> None:
    """The QC season with its recommending units, units 0-3 and judges, all known to review.

    Judges 0..judges-1 are the organizer's panel; judge 7 sits on pudong's panel; judge 8 works at unit 0.
    A season body given is opened through registration's HTTP API (e.g. one with review rounds).
    """
    if season is not None:
        await running.register("/seasons", season)
    else:
        # the season is opened through registration's application, and reaches review as every SeasonOpened does
        opened = SeasonOpened(season_id=QC, **season_body())
        organizer = CommandContext(Actor(id="staff-1", role=Role.ORGANIZER, org="310000"), Channel.ORGANIZER)
        await asyncio.to_thread(running.registration_application.open_season, opened, organizer)
    for form in (PUDONG_FORM, XUHUI_FORM, DIRECT_FORM):
        await running.register(f"/seasons/{QC}/recommenders", form)
    for index, recommender_id in ((0, "pudong"), (1, "pudong"), (2, "direct"), (3, "xuhui")):
        body = demo_registration(index) | {"recommender_id": recommender_id, "member": True}
        await running.register(f"/seasons/{QC}/registrations", body, unit_token(index))
    forms = [judge_form(index) for index in range(judges)] + [
        judge_form(7, recommender_id="pudong", work_unit="浦东新区质量技术服务中心"),
        judge_form(8, work_unit=demo_registration(0)["unit_name"], work_unit_credit_code=demo_registration(0)["credit_code"]),
    ]
    for form in forms:
        answer = await running.register(f"/seasons/{QC}/judges", form)
        running.judges[form["certificate_no"]] = answer["judge_id"]
    await running.until(f"/seasons/{QC}", lambda season: season["units_registered"] == 4)
    await running.until(f"/seasons/{QC}/judges", lambda page: page["total"] == len(forms))
    for recommender_id in ("pudong", "xuhui"):
        await running.until(f"/seasons/{QC}/recommenders/{recommender_id}/recommendations")

    # the tests submit next: submission's projection of registration must know the units too
    async def submission_knows_the_units() -> bool:
        paths = [f"/seasons/{QC}/units/{demo_registration(index)['credit_code']}" for index in range(4)]
        return all([(await running.submission.get(path, headers=ORGANIZER)).status_code == 200 for path in paths])

    await eventually(submission_knows_the_units, timeout=90)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def services(stack, tmp_path_factory) -> AsyncIterator[ReviewServices]:
    calendar = Calendar(NOW)
    async with running_review(stack, tmp_path_factory.mktemp("review-http"), calendar) as running:
        await set_up_season(running)
        yield running


async def refused_and_nothing_stored(
    services: ReviewServices, call: Callable[[], Awaitable[httpx.Response]], expected: tuple[int, str, str]
) -> httpx.Response:
    before = services.stored()
    answer = await call()
    assert problem(answer) == expected, answer.text
    assert answer.json()["detail"] and answer.json()["errors"][0]["message"]
    assert services.stored() == before, "a refused request stored something"
    return answer


# ---------------------------------------------------------------- recommendation


async def test_a_recommendation_is_stored_once_relayed_and_projected_against_the_quota(services: ReviewServices) -> None:
    entry_id = await services.submit(0, topic="降低变压器装配不良率", qc_type="problem_solving")
    path = f"/seasons/{QC}/entries/{entry_id}/recommendation"
    body = recommendation_form(1, ["TGQ-2026-0008"])
    headers = PUDONG | {"Idempotency-Key": "pudong-rec-1", "X-Trace-Id": "trace-rec-1"}
    before = services.stored()
    first = await services.post(path, body, headers)
    assert first.status_code == 201, first.text
    assert first.json()["event"] == "EntryRecommended" and first.json()["judges"] == ["TGQ-2026-0008"]
    stored = services.stored()
    retried = await services.post(path, body, headers)
    assert retried.status_code == 201 and retried.headers["Idempotent-Replayed"] == "true"
    assert retried.json() == first.json() and services.stored() == stored > before

    review = await services.until(f"/seasons/{QC}/entries/{entry_id}", lambda item: item["progress"] == "recommended")
    assert review["progress_label"] == "已推荐" and review["recommender_id"] == "pudong" and review["team_size"] == 3
    assert review["recommendation"]["channel"] == "recommender" and review["recommendation"]["score"] == "86.5"
    assert review["recommendation"]["declaration"]["signer"] == "王芳"
    assert review["recommendation"]["judges"][0]["mobile"] == "13800000007"
    as_unit = await services.get(f"/seasons/{QC}/entries/{entry_id}", unit_token(0))
    assert as_unit["recommendation"]["judges"][0]["mobile"] == "138****0007" and as_unit["masked"] is True

    quota = await services.until(f"/seasons/{QC}/recommenders/pudong/recommendations",
                                 lambda page: page["recommended"] >= 1, PUDONG)
    (unit,) = [item for item in quota["units"] if item["credit_code"] == demo_registration(0)["credit_code"]]
    assert quota["quota"]["per_unit_max"] == 2 and quota["quota"]["per_type_max"] == {"problem_solving": 1, "innovation": 1}
    assert unit["per_type"] == {"problem_solving": 1} and unit["remaining"] == 1
    assert (await services.review.get(f"/seasons/{QC}/recommenders/pudong/recommendations", headers=XUHUI)).status_code == 404

    recommended = await published(services, "EntryRecommended", entry_id)
    envelopes = await everything_on(services.settings.kafka_bootstrap, services.review_topic)
    assert recommended["trace_id"] == "trace-rec-1" and recommended["actor"]["org"] == "pudong"
    assert recommended["payload"]["declaration_text"].startswith("本单位遵守")
    assert not [item for item in envelopes if item["type"] in ("ReviewOpened", "SlateOpened", "Added")], \
        "bookkeeping events are not published"


async def test_over_quota_is_refused_naming_the_rule_and_a_revocation_frees_it(services: ReviewServices) -> None:
    first = await services.submit(1, topic="提高灌装一次合格率", qc_type="problem_solving")
    second = await services.submit(1, topic="缩短批次放行周期", qc_type="problem_solving")
    await services.ok(f"/seasons/{QC}/entries/{first}/recommendation", recommendation_form(11, ["TGQ-2026-0008"]), PUDONG)
    answer = await refused_and_nothing_stored(
        services,
        lambda: services.post(f"/seasons/{QC}/entries/{second}/recommendation",
                              recommendation_form(12, ["TGQ-2026-0008"]), PUDONG),
        (409, "qc_type", "recommendation.quota.per_type"),
    )
    assert "问题解决型" in answer.json()["detail"]
    revoked = await services.ok(f"/seasons/{QC}/entries/{first}/revocation", {"reason": "好中选优，改推荐另一成果"}, PUDONG)
    assert revoked["event"] == "RecommendationRevoked"
    again = await services.ok(f"/seasons/{QC}/entries/{second}/recommendation",
                              recommendation_form(12, ["TGQ-2026-0008"]), PUDONG)
    assert again["event"] == "EntryRecommended"
    page = await services.until(f"/seasons/{QC}/entries", lambda page: page["total"] >= 1, progress="revoked",
                                recommender_id="pudong")
    assert first in [item["entry_id"] for item in page["items"]]
    assert {item["progress"]: item["count"] for item in page["by_progress"]}["revoked"] >= 1


async def test_the_secretariat_accepts_the_direct_channel(services: ReviewServices) -> None:
    entry_id = await services.submit(2, topic="优化船舶靠泊计划", qc_type="innovation")
    through_recommender = await services.post(f"/seasons/{QC}/entries/{entry_id}/recommendation",
                                              recommendation_form(30, ["TGQ-2026-0008"]), bearer("recommender", "direct"))
    assert problem(through_recommender) == (409, "recommender_id", "recommendation.direct_channel")
    accepted = await services.ok(f"/seasons/{QC}/entries/{entry_id}/direct-acceptance",
                                 {"opinion": "市质协会员单位，经秘书处确认直接申报"})
    assert accepted["event"] == "EntryAcceptedDirectly"
    review = await services.until(f"/seasons/{QC}/entries/{entry_id}", lambda item: item["progress"] == "recommended")
    assert review["direct"] is True and review["channel"] == "direct"


REFUSALS = [
    ("another recommending unit's entry", "unit0-innovation", XUHUI, {},
     (403, "entry_id", "recommendation.recommender.not_the_units")),
    ("the declaration not accepted", "unit0-innovation", PUDONG,
     {"declaration": {"accepted": False, "signer": "王芳", "signed_on": TODAY}},
     (422, "declaration.accepted", "recommendation.declaration.accepted")),
    ("a judge not registered", "unit0-innovation", PUDONG,
     {"judges": [{"name": "无名", "work_unit": "某单位", "certificate_no": "TGQ-1999-0001"}]},
     (422, "judges.0.certificate_no", "recommendation.judge.registered")),
    ("a date after today", "unit0-innovation", PUDONG, {"filled_on": "2026-03-02"},
     (422, "filled_on", "recommendation.date.future")),
    ("a score above 100", "unit0-innovation", PUDONG, {"score": "100.5"}, (422, "score", "less_than_equal")),
    ("a score with 3 decimals", "unit0-innovation", PUDONG, {"score": "86.555"}, (422, "score", "score.precision")),
    ("an unknown field", "unit0-innovation", PUDONG, {"favourite": 1}, (422, "favourite", "extra_forbidden")),
    ("an entry not confirmed by its unit", "unit1-unconfirmed", PUDONG, {},
     (409, "entry_id", "recommendation.entry.unconfirmed")),
    ("a recommending unit not registered", "unit0-innovation", bearer("recommender", "minhang"), {},
     (409, "recommender_id", "recommendation.recommender.registered")),
]


@pytest.mark.parametrize(("entry", "headers", "changes", "expected"), [item[1:] for item in REFUSALS],
                         ids=[item[0] for item in REFUSALS])
async def test_a_refused_recommendation_names_its_field_and_rule_and_stores_nothing(
    services: ReviewServices, entry: str, headers: dict[str, str], changes: dict[str, Any], expected: tuple[int, str, str]
) -> None:
    if entry not in services.entries:  # entries shared by the cases, submitted once
        unit, form = {"unit0-innovation": (0, {"topic": "智能巡检机器人研制", "qc_type": "innovation"}),
                      "unit1-unconfirmed": (1, {"topic": "降低冷链运输温度偏差", "qc_type": "innovation"})}[entry]
        services.entries[entry] = await services.submit(unit, confirm=entry != "unit1-unconfirmed", **form)
    entry_id = services.entries[entry]
    await refused_and_nothing_stored(
        services,
        lambda: services.post(f"/seasons/{QC}/entries/{entry_id}/recommendation",
                              recommendation_form(40, ["TGQ-2026-0008"]) | changes, headers),
        expected,
    )


async def test_who_may_act_is_checked_before_anything_is_stored(services: ReviewServices) -> None:
    before = services.stored()
    path = f"/seasons/{QC}/entries/x/recommendation"
    assert (await services.review.post(path, json=recommendation_form(1, []))).status_code == 401
    assert (await services.post(path, recommendation_form(1, ["TGQ-2026-0008"]), unit_token(0))).status_code == 403
    assert (await services.post(f"/seasons/{QC}/entries/x/formal-review", {"outcome": "passed"}, PUDONG)).status_code == 403
    assert (await services.post(f"/seasons/{QC}/entries/x/formal-review", {"outcome": "passed"}, SHANDONG)).status_code == 404
    assert (await services.post(f"/seasons/{QC}/publication", None, bearer("judge", "j1"))).status_code == 403
    unknown = await services.post(path, recommendation_form(1, ["TGQ-2026-0008"]), PUDONG)
    assert unknown.status_code == 404 and "x" in unknown.json()["detail"]
    assert (await services.post("/seasons/310000-1999-qc_group/notice")).status_code == 404
    assert services.stored() == before


# ---------------------------------------------------------------- formal review, assignment, scores


async def test_formal_review_fails_the_entry_is_corrected_resubmitted_and_passes(services: ReviewServices) -> None:
    entry_id = await services.submit(3, topic="降低沥青路面离析率", qc_type="problem_solving")
    await services.ok(f"/seasons/{QC}/entries/{entry_id}/recommendation", recommendation_form(1, ["TGQ-2026-0001"]), XUHUI)
    path = f"/seasons/{QC}/entries/{entry_id}"
    failed = await services.ok(f"{path}/formal-review", {"outcome": "failed", "reasons": ["申报表未加盖公章"]})
    assert failed["event"] == "FormalReviewFailed"
    await refused_and_nothing_stored(
        services, lambda: services.post(f"{path}/resubmission", {"note": "已盖章"}, XUHUI),
        (409, "entry_id", "formal_review.resubmit.not_corrected"),
    )
    amended = await services.submission.post(f"/seasons/{QC}/qc-achievements/{entry_id}/amendments",
                                             json=qc_form(3, topic="降低沥青路面离析率", group_name="路面攻关QC小组",
                                                          qc_type="problem_solving"), headers=unit_token(3))
    assert amended.status_code == 200, amended.text
    await services.until(f"{path}/submission", lambda item: item["form_version"] >= 3)
    assert (await services.ok(f"{path}/resubmission", {"note": "已补盖公章"}, XUHUI))["event"] == "FormalReviewResubmitted"
    assert (await services.ok(f"{path}/formal-review", {"outcome": "passed"}))["event"] == "FormalReviewPassed"
    await refused_and_nothing_stored(services, lambda: services.post(f"{path}/formal-review", {"outcome": "passed"}),
                                     (409, "entry_id", "formal_review.decided"))
    review = await services.until(path, lambda item: item["progress"] == "in_review")
    assert review["formal_review"]["outcome"] == "passed" and review["resubmission"]["note"] == "已补盖公章"

    passed = await published(services, "FormalReviewPassed", entry_id)
    assert passed["payload"] == {"season_id": QC, "entry_id": entry_id, "credit_code": demo_registration(3)["credit_code"],
                                 "recommender_id": "xuhui", "kind": "qc_group"}


async def test_scores_by_assigned_judges_only_within_the_rubric_and_the_window(services: ReviewServices) -> None:
    entry_id = await services.submit(0, topic="降低焊接返修率", qc_type="innovation", group_name="焊接QC小组")
    await services.ok(f"/seasons/{QC}/entries/{entry_id}/recommendation", recommendation_form(2, ["TGQ-2026-0008"]), PUDONG)
    path = f"/seasons/{QC}/entries/{entry_id}"
    await services.ok(f"{path}/formal-review", {"outcome": "passed"})
    await services.until(path, lambda item: item["progress"] == "in_review")

    judge = services.judge
    await refused_and_nothing_stored(
        services, lambda: services.post(f"{path}/assignments", {"stage": "material_review",
                                                                 "judge_ids": [judge(0), judge(8)]}),
        (409, "judge_id", "assignment.conflict.own_work_unit"),
    )
    await refused_and_nothing_stored(
        services, lambda: services.post(f"{path}/assignments", {"stage": "material_review",
                                                                 "judge_ids": [judge(0), judge(7)]}),
        (409, "judge_id", "assignment.conflict.recommender_panel"),
    )
    assigned = await services.ok(f"{path}/assignments", {"stage": "material_review", "judge_ids": [judge(0), judge(1)]})
    assert assigned["event"] == "JudgesAssigned"

    services.calendar.now = REVIEW_OPEN
    try:
        await refused_and_nothing_stored(services, lambda: services.post(f"{path}/scores", material(80),
                                                                         services.judge_token(2)),
                                         (403, "judge_id", "score.judge.not_assigned"))
        over = material(80) | {"criteria": fill(RUBRICS[0], 80) | {"topic": "16"}}
        answer = await refused_and_nothing_stored(services, lambda: services.post(f"{path}/scores", over,
                                                                                  services.judge_token(0)),
                                                  (422, "criteria.topic", "score.criterion.above_max"))
        assert "15" in answer.json()["detail"]
        as_another = await services.post(f"{path}/scores", material(80, judge_id=judge(1)), services.judge_token(0))
        assert as_another.status_code == 403, "a judge scores as himself or herself"
        headers = services.judge_token(0) | {"Idempotency-Key": "score-j0"}
        scored = await services.post(f"{path}/scores", material("84.5", comment="程序完整"), headers)
        assert scored.status_code == 201 and scored.json()["total"] == "84.5", scored.text
        replay = await services.post(f"{path}/scores", material("84.5", comment="程序完整"), headers)
        assert replay.headers["Idempotent-Replayed"] == "true"
        await refused_and_nothing_stored(services, lambda: services.post(f"{path}/scores", material(80),
                                                                         services.judge_token(0)),
                                         (409, "stage", "score.duplicate"))
        revised = await services.ok(f"{path}/score-revisions", material(86, reason="复核后补计效果分"),
                                    services.judge_token(0))
        assert (revised["event"], revised["previous_total"], revised["total"]) == ("ScoreRevised", "84.5", "86")
        by_secretariat = await services.ok(f"{path}/scores", material(82, judge_id=judge(1)))
        assert by_secretariat["judge_id"] == judge(1)
        await refused_and_nothing_stored(services, lambda: services.post(f"{path}/scores", material(82)),
                                         (422, "judge_id", "score.judge_id.required"))

        queue = await services.until(f"/judges/{judge(0)}/queue",
                                     lambda page: any(item["total"] == "86" for item in page["items"]),
                                     services.judge_token(0), season_id=QC)
        (item,) = [item for item in queue["items"] if item["entry_id"] == entry_id]
        assert item["stage"] == "material_review" and item["scored"] is True and item["total"] == "86"
        assert (await services.review.get(f"/judges/{judge(0)}/queue", headers=services.judge_token(1))).status_code == 404
        scores = await services.until(f"{path}/scores", lambda page: {item["total"] for item in page["scores"]} == {"86", "82"})
        assert {item["judge_id"]: item["total"] for item in scores["scores"]} == {judge(0): "86", judge(1): "82"}
        revisions = {item["judge_id"]: (item["revision"] or {}).get("reason") for item in scores["scores"]}
        assert revisions == {judge(0): "复核后补计效果分", judge(1): None}
        mine = await services.get(f"{path}/scores", services.judge_token(0))
        assert [item["judge_id"] for item in mine["scores"]] == [judge(0)], "a judge sees his or her own scores"
        unit_view = await services.get(f"{path}/scores", unit_token(0))
        assert "scores" not in unit_view and unit_view["grade"] is None

        services.calendar.now = NOW + timedelta(days=151)
        await refused_and_nothing_stored(services, lambda: services.post(f"{path}/scores", presentation(80),
                                                                         services.judge_token(0)),
                                         (409, "season_id", "season.window.review"))
    finally:
        services.calendar.now = NOW


async def test_the_recommendation_window_closes_on_its_instant(services: ReviewServices) -> None:
    entry_id = await services.submit(1, topic="提高冻干粉针剂外观合格率", qc_type="innovation")
    services.calendar.now = NOW + timedelta(days=90, seconds=1)
    try:
        answer = await refused_and_nothing_stored(
            services, lambda: services.post(f"/seasons/{QC}/entries/{entry_id}/recommendation",
                                            recommendation_form(50, ["TGQ-2026-0008"]), PUDONG),
            (409, "season_id", "season.window.recommendation"),
        )
        assert "Asia/Shanghai" in answer.json()["detail"]
    finally:
        services.calendar.now = NOW


# ---------------------------------------------------------------- no input gives a 500


GARBAGE = [b"", b"null", b"[]", b"{", b"\xff\xfe", json.dumps({"score": "1e999999"}).encode(),
           json.dumps({"criteria": {"topic": "NaN"}, "stage": "material_review"}).encode(),
           json.dumps({"rank": 10**30}).encode(), json.dumps({"outcome": "maybe"}).encode()]


async def test_no_input_gives_a_500(services: ReviewServices) -> None:
    before = services.stored()
    entry = f"/seasons/{QC}/entries/x"
    paths = [f"{entry}/recommendation", f"{entry}/direct-acceptance", f"{entry}/revocation", f"{entry}/formal-review",
             f"{entry}/resubmission", f"{entry}/assignments", f"{entry}/scores", f"{entry}/score-revisions",
             f"{entry}/grade", f"/seasons/{QC}/approval", f"/seasons/{QC}/notice", f"{entry}/objections",
             f"{entry}/objections/o1/resolution", f"/seasons/{QC}/publication", f"{entry}/national-recommendation"]
    for path in paths:
        for body in GARBAGE:
            for headers in (ORGANIZER, PUDONG, bearer("judge", "j1")):
                answer = await services.review.post(path, content=body, headers=headers | {"Content-Type": "application/json"})
                assert 400 <= answer.status_code < 500, (path, body, answer.status_code, answer.text)
    for query in ({"skip": -1}, {"limit": 0}, {"progress": "lost"}):
        assert (await services.review.get(f"/seasons/{QC}/entries", params=query, headers=ORGANIZER)).status_code == 422
    assert (await services.review.get(f"/seasons/{QC}/entries/not-an-id", headers=ORGANIZER)).status_code == 404
    # the policy answers first: a season id outside the organizer's own is not found, however long; a platform-wide
    # reader gets the validation's answer
    assert (await services.review.get(f"/seasons/{'x' * 500}/entries", headers=ORGANIZER)).status_code == 404
    assert (await services.review.get(f"/seasons/{'x' * 500}/entries", headers=AUDITOR)).status_code == 422
    assert (await services.review.post(f"/seasons/{QC}/entries/{'9' * 500}/grade", headers=ORGANIZER)).status_code == 422
    assert services.stored() == before


# ---------------------------------------------------------------- with the assignment worker


async def test_the_assignment_worker_assigns_from_formal_review_passed_and_its_judges_score(
    stack, tmp_path_factory
) -> None:
    """The contract between review's two parts: FormalReviewPassed → the worker's JudgesAssigned → the
    scoring rule reads that assignment (and refuses a judge the worker did not choose)."""
    calendar = Calendar(NOW)
    async with running_review(stack, tmp_path_factory.mktemp("review-worker"), calendar,
                              assignment_worker=True) as running:
        await set_up_season(running)
        entry_id = await running.submit(1, topic="降低冷库能耗", qc_type="problem_solving")
        path = f"/seasons/{QC}/entries/{entry_id}"
        await running.ok(f"{path}/recommendation", recommendation_form(1, ["TGQ-2026-0008"]), PUDONG)
        await running.ok(f"{path}/formal-review", {"outcome": "passed"})
        scores = await running.until(f"{path}/scores", lambda page: any(
            item["stage"] == "material_review" and item["status"] == "assigned" for item in page["assignments"]))
        (assignment,) = [item for item in scores["assignments"] if item["stage"] == "material_review"]
        assert assignment["assigned_by"] != "staff-1" and len(assignment["judge_ids"]) == 5
        chosen = set(assignment["judge_ids"])
        assert running.judge(7) not in chosen, "pudong's panel judge is never chosen for pudong's entry"
        index = {running.judge(number): number for number in range(9)}
        calendar.now = REVIEW_OPEN
        first = sorted(chosen)[0]
        scored = await running.post(f"{path}/scores", material(80), running.judge_token(index[first]))
        assert scored.status_code == 201, scored.text
        outsider = next(number for number in range(7) if running.judge(number) not in chosen)
        refused = await running.post(f"{path}/scores", material(80), running.judge_token(outsider))
        assert problem(refused) == (403, "judge_id", "score.judge.not_assigned")


# ---------------------------------------------------------------- who sees what: each caller only its own


SHANDONG_PUDONG = bearer("recommender", "pudong", "sd-pudong-staff", organizer="370000")
NATIONAL = bearer("national", "CAQ", "caq-viewer")


async def xuhui_entry_in_review(services: ReviewServices) -> str:
    """Unit 3's entry, recommended by xuhui with judge 4 on its 推荐表, passed formal review, judges 0 and 1 assigned
    for 文审 (made once for the tests of this section)."""
    if "unit3-xuhui" not in services.entries:
        entry_id = await services.submit(3, topic="降低混凝土试块不合格率", qc_type="innovation")
        path = f"/seasons/{QC}/entries/{entry_id}"
        await services.ok(f"{path}/recommendation", recommendation_form(3, ["TGQ-2026-0005"]), XUHUI)
        await services.until(path, lambda item: item["progress"] == "recommended")
        await services.ok(f"{path}/formal-review", {"outcome": "passed"})
        await services.until(path, lambda item: item["progress"] == "in_review")
        await services.ok(f"{path}/assignments", {"stage": "material_review",
                                                  "judge_ids": [services.judge(0), services.judge(1)]})
        await services.until(f"{path}/scores", lambda page: any(item["status"] == "assigned"
                                                                for item in page["assignments"]))
        services.entries["unit3-xuhui"] = entry_id
    return services.entries["unit3-xuhui"]


def empty(answer: httpx.Response) -> bool:
    page = answer.json()
    return (answer.status_code, page["total"], page["items"]) == (200, 0, []) and not any(
        item["count"] for item in page["by_progress"])


async def test_a_query_parameter_narrows_the_entry_list_and_never_widens_it(services: ReviewServices) -> None:
    entry_id = await xuhui_entry_in_review(services)
    unit3 = demo_registration(3)["credit_code"]
    listed = f"/seasons/{QC}/entries"
    as_organizer = await services.get(listed, ORGANIZER, credit_code=unit3)
    assert entry_id in [item["entry_id"] for item in as_organizer["items"]]
    # a filter naming another unit or recommending unit than the token's own: not found, as an unknown one would be
    for headers, params in ((unit_token(0), {"credit_code": unit3}), (PUDONG, {"recommender_id": "xuhui"})):
        answer = await services.review.get(listed, params=params, headers=headers)
        assert answer.status_code == 404, (params, answer.text)
    # a filter on another field selects within the caller's own only: here nothing
    for headers, params in ((unit_token(0), {"recommender_id": "xuhui"}), (PUDONG, {"credit_code": unit3})):
        answer = await services.review.get(listed, params=params, headers=headers)
        assert empty(answer), (params, answer.text)
    own = await services.get(listed, unit_token(3), credit_code=unit3)
    assert entry_id in [item["entry_id"] for item in own["items"]]
    assert {item["credit_code"] for item in own["items"]} == {unit3}
    recommended = await services.get(listed, XUHUI, recommender_id="xuhui", credit_code=unit3)
    assert entry_id in [item["entry_id"] for item in recommended["items"]]
    assert {item["recommender_id"] for item in (await services.get(listed, XUHUI))["items"]} == {"xuhui"}


async def test_an_unassigned_judge_reads_nothing_of_an_entry(services: ReviewServices) -> None:
    entry_id = await xuhui_entry_in_review(services)
    scores = f"/seasons/{QC}/entries/{entry_id}/scores"
    assigned = await services.review.get(scores, headers=services.judge_token(0))
    assert assigned.status_code == 200 and assigned.json()["scores"] == [] and "assignments" not in assigned.json()
    missing = await services.review.get(f"/seasons/{QC}/entries/e-missing/scores", headers=services.judge_token(2))
    unassigned = await services.review.get(scores, headers=services.judge_token(2))
    assert (unassigned.status_code, missing.status_code) == (404, 404), unassigned.text
    assert unassigned.json()["detail"] == missing.json()["detail"].replace("e-missing", entry_id)
    another_province = bearer("judge", services.judge(0), "sd-judge", organizer="370000")
    assert (await services.review.get(scores, headers=another_province)).status_code == 404
    assert (await services.review.get(f"/seasons/{QC}/entries/{entry_id}",
                                      headers=services.judge_token(0))).status_code == 403, "a judge reads its queue"
    queue = await services.until(f"/judges/{services.judge(0)}/queue",
                                 lambda page: entry_id in [item["entry_id"] for item in page["items"]],
                                 services.judge_token(0))
    assert {item["season_id"] for item in queue["items"]} == {QC}
    others = await services.get(f"/judges/{services.judge(2)}/queue", services.judge_token(2))
    assert entry_id not in [item["entry_id"] for item in others["items"]]
    assert (await services.review.get(f"/judges/{services.judge(0)}/queue",
                                      headers=services.judge_token(2))).status_code == 404


async def test_a_recommenders_token_reaches_its_own_organizers_season_only(services: ReviewServices) -> None:
    entry_id = await services.submit(1, topic="缩短注塑换模时间", qc_type="innovation")
    before = services.stored()
    refused = await services.post(f"/seasons/{QC}/entries/{entry_id}/recommendation",
                                  recommendation_form(9, ["TGQ-2026-0008"]), SHANDONG_PUDONG)
    assert (refused.status_code, refused.json()["detail"]) == (404, f"season {QC} not found"), refused.text
    assert services.stored() == before
    for path in (f"/seasons/{QC}/recommenders/pudong/recommendations", f"/seasons/{QC}/entries",
                 f"/seasons/{QC}/entries/{entry_id}/submission", f"/seasons/{QC}"):
        assert (await services.review.get(path, headers=SHANDONG_PUDONG)).status_code == 404, path
    other_season = bearer("recommender", "pudong", "pudong-staff", organizer="310000", season="310000-2026-team")
    assert (await services.review.get(f"/seasons/{QC}/entries", headers=other_season)).status_code == 404
    assert (await services.review.get(f"/seasons/{QC}/recommenders/pudong/recommendations",
                                      headers=PUDONG)).status_code == 200


async def test_another_provinces_season_and_another_units_entry_are_not_found_like_missing_ones(
    services: ReviewServices,
) -> None:
    entry_id = await xuhui_entry_in_review(services)
    for path in (f"/seasons/{QC}", f"/seasons/{QC}/entries", f"/seasons/{QC}/judges", f"/seasons/{QC}/results",
                 f"/seasons/{QC}/entries/{entry_id}"):
        answer = await services.review.get(path, headers=SHANDONG)
        assert (answer.status_code, answer.json()["detail"]) == (404, f"season {QC} not found"), path
    entry = f"/seasons/{QC}/entries/{entry_id}"
    missing = f"/seasons/{QC}/entries/e-missing"
    for suffix in ("", "/scores", "/submission"):
        theirs = await services.review.get(entry + suffix, headers=unit_token(0))
        absent = await services.review.get(missing + suffix, headers=unit_token(0))
        assert (theirs.status_code, absent.status_code) == (404, 404), suffix
        assert theirs.json()["detail"].replace(entry_id, "e-missing") == absent.json()["detail"]
    own = await services.get(f"{entry}/scores", unit_token(3))
    assert own["progress"] == "in_review" and "scores" not in own and own["grade"] is None
    assert (await services.review.get(f"{entry}/scores", headers=PUDONG)).status_code == 404
    assert (await services.review.get(f"/seasons/{QC}/recommenders/xuhui/recommendations",
                                      headers=PUDONG)).status_code == 404


async def test_contacts_on_the_recommendation_form_are_masked_but_for_the_organizers_staff_and_their_owner(
    services: ReviewServices,
) -> None:
    entry_id = await xuhui_entry_in_review(services)
    path = f"/seasons/{QC}/entries/{entry_id}"
    for headers in (ORGANIZER, XUHUI):
        seen = await services.get(path, headers)
        assert seen["recommendation"]["judges"][0]["mobile"] == "13800000007" and "masked" not in seen
        assert seen["recommendation"]["phone"] == "021-58881234"
    for headers in (unit_token(3), NATIONAL, AUDITOR):
        seen = await services.get(path, headers)
        judge = seen["recommendation"]["judges"][0]
        assert (judge["mobile"], judge["email"], seen["masked"]) == ("138****0007", "j***@example.org", True)
        assert seen["recommendation"]["phone"] == "021****1234"
    listed = await services.get(f"/seasons/{QC}/entries", NATIONAL, credit_code=demo_registration(3)["credit_code"])
    assert {item["recommendation"]["judges"][0]["mobile"] for item in listed["items"]} == {"138****0007"}
    quota = await services.get(f"/seasons/{QC}/recommenders/xuhui/recommendations", AUDITOR)
    assert {item["recommendation"]["judges"][0]["mobile"] for item in quota["items"]} == {"138****0007"}
