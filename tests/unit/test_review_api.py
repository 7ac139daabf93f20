"""Review's HTTP API and projection without the stack: the real router, application (in-memory event
store, injected clock) and read model, over a small in-memory stand-in for the MongoDB subset the read
model uses. Registration's and submission's events are fed to the projection as envelopes, as Kafka
would deliver them; review's own stored events are projected after every request, as the relay and
the projection runner would. The real-stack tests (tests/integration/test_review_*.py) cover Kafka,
PostgreSQL and FerretDB.
"""

from __future__ import annotations

from tests.harness import TOKENS, bearer, command_status

import copy
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
import pytest_asyncio
from pymongo.errors import DuplicateKeyError

from contracts import Envelope, parse_payload
from infra.http import create_app
from infra.metrics import ServiceMetrics
from infra.readiness import Readiness
from infra.settings import ServiceSettings
from qcp.demo import demo_registration, demo_season
from services.review.adapters.read_model import ReviewReadModel
from services.review.application import ReviewApplication
from services.review.entrypoints.http import build_router
from services.review.entrypoints.policy import POLICY
from tests.unit.test_submission_forms import qc_form

# ---------------------------------------------------------------- an in-memory stand-in for the MongoDB subset


def _get(document: dict[str, Any], path: str) -> Any:
    value: Any = document
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _matches(document: dict[str, Any], query: dict[str, Any]) -> bool:
    for key, condition in query.items():
        value = _get(document, key)
        if isinstance(condition, dict) and any(name.startswith("$") for name in condition):
            for operator, operand in condition.items():
                if operator == "$lt" and not (value is not None and value < operand):
                    return False
                if operator == "$in" and value not in operand:
                    return False
                if operator == "$ne" and (operand in value if isinstance(value, list) else value == operand):
                    return False
        elif isinstance(value, list) and not isinstance(condition, list):
            if condition not in value:
                return False
        elif value != condition:
            return False
    return True


class Result:
    def __init__(self, modified: int = 0, upserted: Any = None) -> None:
        self.modified_count = modified
        self.upserted_id = upserted


class Cursor:
    def __init__(self, documents: list[dict[str, Any]]) -> None:
        self.documents = documents

    def sort(self, key: Any, direction: int = 1) -> "Cursor":
        keys = key if isinstance(key, list) else [(key, direction)]
        for name, order in reversed(keys):
            self.documents.sort(key=lambda item: (_get(item, name) is None, _get(item, name) or ""), reverse=order < 0)
        return self

    def skip(self, count: int) -> "Cursor":
        self.documents = self.documents[count:]
        return self

    def limit(self, count: int) -> "Cursor":
        self.documents = self.documents[:count]
        return self

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        async def iterate() -> AsyncIterator[dict[str, Any]]:
            for item in self.documents:
                yield copy.deepcopy(item)

        return iterate()


class Collection:
    def __init__(self) -> None:
        self.documents: dict[Any, dict[str, Any]] = {}

    async def create_index(self, *_: Any, **__: Any) -> None:
        return None

    async def find_one(self, query: dict[str, Any], *_: Any) -> dict[str, Any] | None:
        found = [item for item in self.documents.values() if _matches(item, query)]
        return copy.deepcopy(found[0]) if found else None

    def find(self, query: dict[str, Any], *_: Any) -> Cursor:
        return Cursor([item for item in self.documents.values() if _matches(item, query)])

    async def count_documents(self, query: dict[str, Any]) -> int:
        return sum(1 for item in self.documents.values() if _matches(item, query))

    async def aggregate(self, pipeline: list[dict[str, Any]]) -> Cursor:
        """$match, then $group by one field counting with {"$sum": 1}: what the read model asks."""
        (match,), (group,) = [stage["$match"] for stage in pipeline[:1]], [stage["$group"] for stage in pipeline[1:]]
        counts: dict[Any, int] = {}
        for item in self.documents.values():
            if _matches(item, match):
                key = _get(item, group["_id"].removeprefix("$"))
                counts[key] = counts.get(key, 0) + 1
        return Cursor([{"_id": key, "count": count} for key, count in counts.items()])

    async def update_one(self, query: dict[str, Any], update: dict[str, Any], upsert: bool = False) -> Result:
        for document in self.documents.values():
            if _matches(document, query):
                self._apply(document, update)
                return Result(modified=1)
        if not upsert:
            return Result()
        if query["_id"] in self.documents:
            raise DuplicateKeyError("duplicate _id")
        document = {"_id": query["_id"]}
        self._apply(document, update)
        self.documents[query["_id"]] = document
        return Result(upserted=query["_id"])

    @staticmethod
    def _apply(document: dict[str, Any], update: dict[str, Any]) -> None:
        for path, value in update.get("$set", {}).items():
            *parents, last = path.split(".")
            target = document
            for part in parents:
                target = target.setdefault(part, {})
            target[last] = copy.deepcopy(value)
        for path, value in update.get("$inc", {}).items():
            document[path] = document.get(path, 0) + value


class Database(dict):
    def __missing__(self, name: str) -> Collection:
        self[name] = Collection()
        return self[name]


# ---------------------------------------------------------------- the service, fed as Kafka would feed it


NOW = datetime(2026, 3, 1, 2, tzinfo=UTC)
QC = "310000-2026-qc_group"



ORGANIZER = bearer("organizer", "310000", "staff-1")
PUDONG = bearer("recommender", "pudong", "pudong-staff")
CRITERIA = [{"code": "topic", "label": "选题", "max_points": 20}, {"code": "process", "label": "活动过程", "max_points": 80}]


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


class Service:
    def __init__(self) -> None:
        self.clock = Clock()
        self.application = ReviewApplication(ServiceSettings(service="review", event_store="memory"), clock=self.clock)
        self.read_model = ReviewReadModel(Database())  # type: ignore[arg-type]
        self.app = create_app(
            service="review", routers=[build_router()], tokens=TOKENS, metrics=ServiceMetrics("review"),
            readiness=Readiness({}), state={"application": self.application, "read_model": self.read_model,
                                             "clock": self.clock},
            policy=POLICY,
        )
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://review")
        self.position = 0
        self.versions: dict[uuid.UUID, int] = {}

    async def feed(self, type_: str, payload: dict[str, Any], aggregate: str, channel: str = "system") -> None:
        """An upstream event as the projection runner would deliver it."""
        aggregate_id = uuid.uuid5(uuid.NAMESPACE_URL, aggregate)
        version = self.versions[aggregate_id] = self.versions.get(aggregate_id, 0) + 1
        model = parse_payload(type_, _version(type_), payload)
        envelope = Envelope(
            event_id=uuid.uuid4(), type=type_, schema_version=_version(type_), aggregate_id=aggregate_id,
            aggregate_version=version, season_id=QC, organizer="310000", occurred_at=self.clock.now,
            recorded_at=self.clock.now, actor={"id": "upstream", "role": "system", "org": "310000"}, channel=channel,
            source={}, trace_id="t", payload=model.model_dump(mode="json"),
        )
        await self.read_model.apply(envelope, model)

    async def relay(self) -> None:
        """Review's own stored events to its projection, as the relay and the projection runner would."""
        envelopes, self.position = self.application.envelopes_after(self.position, 10_000)
        for envelope in envelopes:
            await self.read_model.apply(envelope, parse_payload(envelope.type, envelope.schema_version, envelope.payload))

    async def post(self, path: str, body: Any = None, headers: dict[str, str] = ORGANIZER) -> httpx.Response:
        answer = await self.client.post(path, json=body if body is not None else {}, headers=headers)
        await self.relay()
        return answer

    async def ok(self, path: str, body: Any = None, headers: dict[str, str] = ORGANIZER) -> dict[str, Any]:
        answer = await self.post(path, body, headers)
        assert answer.status_code == command_status(path), answer.text
        return answer.json()

    async def get(self, path: str, headers: dict[str, str] = ORGANIZER, **params: Any) -> Any:
        answer = await self.client.get(path, headers=headers, params=params)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def stored(self) -> int:
        return self.application.recorder.max_notification_id() or 0


def _version(type_: str) -> int:
    from contracts import latest_version

    return latest_version(type_)


def problem(answer: httpx.Response) -> tuple[int, str, str]:
    error = (answer.json().get("errors") or [{}])[0]
    return answer.status_code, error.get("field"), error.get("rule")


def judge_payload(index: int, **changes: Any) -> dict[str, Any]:
    return {
        "season_id": QC, "judge_id": f"j{index}", "name": f"评委{index}", "work_unit": f"上海质量研究院{index}室",
        "certificate_no": f"TGQ-2026-{index:04d}", "mobile": f"1380000{index:04d}", "email": f"j{index}@example.org",
    } | changes


@pytest_asyncio.fixture
async def service() -> AsyncIterator[Service]:
    running = Service()
    season = demo_season(2026, NOW) | {
        "season_id": QC,
        "rubrics": [{"code": "qc_all", "label": "成果评审表", "criteria": CRITERIA}],
        "grade_bands": [{"code": "benchmark", "label": "标杆级", "min_score": 90},
                        {"code": "excellent", "label": "优秀级", "min_score": 80}],
    }
    await running.feed("SeasonOpened", season, "season")
    for recommender_id, category in (("pudong", "district"), ("direct", "direct")):
        await running.feed("RecommenderRegistered", {"season_id": QC, "recommender_id": recommender_id,
                                                     "name": f"{recommender_id}推荐单位", "category": category},
                           f"recommender/{recommender_id}")
    for index in range(2):
        await running.feed("UnitRegistered", demo_registration(index) | {"season_id": QC, "recommender_id": "pudong"},
                           f"unit/{index}")
    for index in range(1, 7):
        await running.feed("JudgeRegistered", judge_payload(index), f"judge/{index}")
    await running.feed("JudgeRegistered", judge_payload(9, recommender_id="pudong"), "judge/9")
    yield running
    await running.client.aclose()


async def submitted(service: Service, entry_id: str, index: int = 0, confirmed: bool = True, **form: Any) -> str:
    body = {"season_id": QC, "entry_id": entry_id, "form": qc_form(index, **form) | {"kind": "qc_group", "recommender_id": "pudong"}}
    await service.feed("EntrySubmitted", body, f"entry/{entry_id}", "group")
    if confirmed:
        confirmation = {"season_id": QC, "entry_id": entry_id, "credit_code": demo_registration(index)["credit_code"],
                        "self_evaluation": "自评良好", "opinion": "同意推荐",
                        "sealed_form": {"purpose": "sealed_form", "file_name": "意见.pdf", "size_bytes": 10,
                                        "media_type": "application/pdf", "sha256": "0" * 64}}
        await service.feed("UnitConfirmed", confirmation, f"entry/{entry_id}", "unit")
    return entry_id


def recommendation(rank: int = 1, **changes: Any) -> dict[str, Any]:
    return {
        "conformance": "符合标准", "features": "特色鲜明", "shortcomings": "巩固期短", "score": "88", "rank": rank,
        "opinion": "同意推荐", "judges": [{"name": "评委9", "work_unit": "浦东质量中心", "certificate_no": "TGQ-2026-0009",
                                       "mobile": "13800000009"}],
        "declaration": {"accepted": True, "signer": "王芳", "signed_on": "2026-03-01"},
        "filled_by": "王芳", "phone": "021-58881234", "filled_on": "2026-03-01",
    } | changes


def sheet(total: int, **extra: Any) -> dict[str, Any]:
    return {"stage": "material_review", "criteria": {"topic": str(min(total, 20)), "process": str(total - min(total, 20))}
            } | extra


# ---------------------------------------------------------------- the API, end to end


async def test_an_entry_through_review_over_the_api(service: Service) -> None:
    entry_id = await submitted(service, "e1")
    path = f"/seasons/{QC}/entries/{entry_id}"
    first = await service.post(f"{path}/recommendation", recommendation(), PUDONG | {"Idempotency-Key": "k1"})
    assert first.status_code == 201, first.text
    replay = await service.post(f"{path}/recommendation", recommendation(), PUDONG | {"Idempotency-Key": "k1"})
    assert replay.headers["Idempotent-Replayed"] == "true" and replay.json() == first.json()

    review = await service.get(path, PUDONG)
    assert review["progress"] == "recommended" and review["recommendation"]["judges"][0]["mobile"] == "13800000009"
    masked = await service.get(path, bearer("unit", demo_registration(0)["credit_code"]))
    assert masked["recommendation"]["judges"][0]["mobile"] == "138****0009"
    quota = await service.get(f"/seasons/{QC}/recommenders/pudong/recommendations", PUDONG)
    assert quota["recommended"] == 1 and quota["units"][0]["remaining"] == 1 and quota["total_team_size"] == 3

    await service.ok(f"{path}/formal-review", {"outcome": "passed"})
    conflict = await service.post(f"{path}/assignments", {"stage": "material_review", "judge_ids": ["j1", "j9"]})
    assert problem(conflict) == (409, "judge_id", "assignment.conflict.recommender_panel")
    await service.ok(f"{path}/assignments", {"stage": "material_review", "judge_ids": ["j1", "j2", "j3", "j4", "j5"]})

    service.clock.now = NOW + timedelta(days=100)
    for index, total in enumerate([95, 91, 90, 89, 60], start=1):
        answer = await service.post(f"{path}/scores", sheet(total), bearer("judge", f"j{index}"))
        assert answer.status_code == 201, answer.text
    above = await service.post(f"{path}/scores", sheet(95) | {"criteria": {"topic": "21", "process": "74"}},
                               bearer("judge", "j6"))
    assert problem(above) == (403, "judge_id", "score.judge.not_assigned")
    queue = await service.get("/judges/j1/queue", bearer("judge", "j1"), season_id=QC)
    assert queue["items"][0]["scored"] is True and queue["to_score"] == 0
    graded = await service.ok(f"{path}/grade")
    assert graded["combined_score"] == "90.00" and graded["grade"] == "benchmark"  # 95 and 60 dropped
    scores = await service.get(f"{path}/scores")
    assert scores["result"]["stages"][0]["dropped"] == ["j5", "j1"] and len(scores["scores"]) == 5
    assert "scores" not in await service.get(f"{path}/scores", PUDONG)

    service.clock.now = NOW + timedelta(days=151)
    approved = await service.ok(f"/seasons/{QC}/approval", {"guiding_units": ["上海市市场监督管理局"],
                                                            "approved_on": "2026-07-30"})
    assert approved["entry_ids"] == [entry_id]
    service.clock.now = NOW + timedelta(days=155)
    await service.ok(f"/seasons/{QC}/notice")
    objection = await service.ok(f"{path}/objections", {"objector": "某公司", "grounds": "效果数据与年报不一致，请核实"},
                                 bearer("unit", demo_registration(1)["credit_code"]))
    service.clock.now = NOW + timedelta(days=165)
    resolved = await service.ok(f"{path}/objections/{objection['objection_id']}/resolution",
                                {"outcome": "upheld", "remedy": "regrade", "grade": "excellent", "finding": "降为优秀级"})
    assert resolved["events"] == ["ObjectionResolved", "EntryRegraded"]
    published = await service.ok(f"/seasons/{QC}/publication")
    assert published["certificates"] == [{"entry_id": entry_id, "certificate_no": "2026-QC-0001", "grade": "excellent"}]
    results = await service.get(f"/seasons/{QC}/results", bearer("unit", "anyone"))
    assert [(item["certificate_no"], item["grade_label"]) for item in results["items"]] == [("2026-QC-0001", "优秀级")]
    page = await service.get(f"/seasons/{QC}/entries", progress="published")
    assert page["total"] == 1 and {item["progress"]: item["count"] for item in page["by_progress"]}["published"] == 1


async def test_refusals_name_field_and_rule_and_store_nothing(service: Service) -> None:
    first = await submitted(service, "e1", qc_type="problem_solving")
    second = await submitted(service, "e2", topic="另一课题", qc_type="problem_solving")
    unconfirmed = await submitted(service, "e3", topic="第三课题", qc_type="innovation", confirmed=False)
    await service.ok(f"/seasons/{QC}/entries/{first}/recommendation", recommendation(1), PUDONG)
    cases = [
        (second, recommendation(2), PUDONG, (409, "qc_type", "recommendation.quota.per_type")),
        (unconfirmed, recommendation(3), PUDONG, (409, "entry_id", "recommendation.entry.unconfirmed")),
        (second, recommendation(1), PUDONG, (409, "qc_type", "recommendation.quota.per_type")),
        (second, recommendation(2, score="88.123"), PUDONG, (422, "score", "score.precision")),
        ("nope", recommendation(2), PUDONG, (404, None, None)),
        (second, recommendation(2), bearer("recommender", "xuhui"), (409, "recommender_id",
                                                                     "recommendation.recommender.registered")),
    ]
    for entry_id, body, headers, expected in cases:
        before = service.stored()
        answer = await service.post(f"/seasons/{QC}/entries/{entry_id}/recommendation", body, headers)
        assert problem(answer) == expected, answer.text
        assert service.stored() == before


async def test_no_input_gives_a_500(service: Service) -> None:
    garbage = [b"", b"null", b"[]", b"{", b"\xff", b'{"score": "1e999999"}', b'{"criteria": {"topic": "NaN"}}',
               b'{"rank": 1e400}', b'{"outcome": "maybe"}', b'{"stage": "x", "judge_ids": [1]}']
    entry = f"/seasons/{QC}/entries/x"
    paths = [f"{entry}/recommendation", f"{entry}/direct-acceptance", f"{entry}/revocation", f"{entry}/formal-review",
             f"{entry}/resubmission", f"{entry}/assignments", f"{entry}/scores", f"{entry}/score-revisions",
             f"{entry}/grade", f"/seasons/{QC}/approval", f"/seasons/{QC}/notice", f"{entry}/objections",
             f"{entry}/objections/o1/resolution", f"/seasons/{QC}/publication", f"{entry}/national-recommendation"]
    for path in paths:
        for body in garbage:
            for headers in (ORGANIZER, PUDONG, bearer("judge", "j1"), bearer("unit", "x")):
                answer = await service.client.post(path, content=body,
                                                   headers=headers | {"Content-Type": "application/json"})
                assert 400 <= answer.status_code < 500, (path, body, answer.status_code, answer.text)
    for path in (f"/seasons/{QC}/entries", f"/seasons/{QC}/results", f"{entry}", f"{entry}/scores",
                 f"{entry}/submission", "/judges/x/queue", f"/seasons/{QC}/recommenders/x/recommendations",
                 f"/seasons/{QC}/judges"):
        for headers in (ORGANIZER, PUDONG, bearer("judge", "j1"), bearer("unit", "x"), bearer("auditor", "a")):
            answer = await service.client.get(path, headers=headers)
            assert answer.status_code < 500, (path, answer.status_code, answer.text)
    assert service.stored() == 0


@pytest.mark.parametrize("value", ["0.4", "0.6"])
def test_the_seasons_weights_reach_review_as_exact_decimals(value: str) -> None:
    from services.review.adapters.documents import season_from_document

    document = demo_season(2026, NOW) | {"season_id": QC, "stage_weights": {"material_review": value}}
    assert season_from_document(document).stage_weights == {"material_review": Decimal(value)}
