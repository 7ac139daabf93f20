"""Old versions of registration's events still parse, and aggregates rebuilt from them see the current shape."""

from datetime import UTC, datetime
from typing import Any

from contracts import latest_version, parse_payload
from infra.settings import ServiceSettings
from qcp.demo import demo_registration, demo_season
from services.registration.application import RegistrationApplication
from services.registration.domain.season import Season

SEASON = "310000-2026-qc_group"


def v2_registration(**changes: Any) -> dict[str, Any]:
    return demo_registration(0) | {"season_id": SEASON} | changes


def test_current_versions() -> None:
    assert {name: latest_version(name) for name in (
        "SeasonOpened", "SeasonWindowChanged", "UnitRegistered", "UnitRegistrationAmended",
        "RecommenderRegistered", "RecommenderQuotaRaised", "JudgeRegistered",
    )} == {
        "SeasonOpened": 3, "SeasonWindowChanged": 1, "UnitRegistered": 3, "UnitRegistrationAmended": 2,
        "RecommenderRegistered": 2, "RecommenderQuotaRaised": 1, "JudgeRegistered": 2,
    }


def test_unit_registered_v2_free_industries_become_codes_and_the_rest_other() -> None:
    model = parse_payload("UnitRegistered", 2, v2_registration(key_industries=["航运", "shipping", "港口物流", "标准、计量、检测"]))
    assert [item.value for item in model.key_industries] == ["shipping", "standards_metrology_testing", "other"]
    assert model.key_industry_other == "港口物流"


def test_unit_registered_v1_still_upcasts_through_v2() -> None:
    v1 = v2_registration()
    del v1["key_industries"]
    v1["key_industry"] = "生物医药"
    assert [item.value for item in parse_payload("UnitRegistered", 1, v1).key_industries] == ["biomedicine"]


def test_unit_registration_amended_v1_upcasts() -> None:
    model = parse_payload("UnitRegistrationAmended", 1, v2_registration(key_industries=["integrated_circuits"]))
    assert [item.value for item in model.key_industries] == ["integrated_circuits"]


def test_season_opened_v1_gets_the_kinds_quota() -> None:
    v1 = demo_season(2026, datetime(2026, 3, 1, tzinfo=UTC)) | {"season_id": SEASON}
    model = parse_payload("SeasonOpened", 1, v1)
    assert model.quota.per_unit_max == 2 and model.rubrics == [] and model.grade_bands == []


def test_recommender_and_judge_v1_upcast() -> None:
    recommender = parse_payload(
        "RecommenderRegistered", 1, {"season_id": SEASON, "recommender_id": "xuhui", "name": "徐汇区", "category": "district"}
    )
    assert recommender.contacts == []
    judge = parse_payload("JudgeRegistered", 1, {
        "season_id": SEASON, "judge_id": "j1", "name": "李明", "work_unit": "上海电气", "certificate_no": "TGQ1",
        "mobile": "13812345678", "email": "a@example.com",
    })
    assert judge.address is None and judge.recommender_id is None


def test_a_season_stored_as_version_one_is_rebuilt_with_the_current_shape() -> None:
    app = RegistrationApplication(ServiceSettings(service="registration", event_store="memory"))
    v1 = demo_season(2026, datetime(2026, 3, 1, tzinfo=UTC)) | {"season_id": SEASON}
    meta = {
        "schema_version": 1, "actor": {"id": "s", "role": "organizer", "org": "310000"}, "channel": "organizer",
        "source": {}, "trace_id": "t", "occurred_at": "2026-03-01T00:00:00+00:00", "season_id": SEASON,
        "organizer": "310000",
    }
    app.save(Season(payload=v1, meta=meta))
    season = app.season(SEASON)
    assert season.quota_rule.per_type_max and season.kind == "qc_group"
