"""One test per registration rule, named after the rule id it refuses with; nothing is stored on a refusal."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest
from pydantic import BaseModel, ValidationError

from contracts import Actor
from contracts.codes import Channel, Role, Stage
from contracts.common import Window
from contracts.registered import (
    JudgeForm,
    RecommenderForm,
    SeasonOpened,
    UnitRegistrationForm,
)
from infra.errors import NotFound, RuleViolation
from infra.eventstore import CommandContext
from infra.http import status_of
from infra.settings import ServiceSettings
from qcp.demo import demo_registration, demo_season
from services.registration.application import RegistrationApplication

NOW = datetime(2026, 3, 1, tzinfo=UTC)
QC = "310000-2026-qc_group"
TEAM = "310000-2026-team"
SECRETARIAT = CommandContext(Actor(id="staff-1", role=Role.ORGANIZER, org="310000"), Channel.ORGANIZER)


# --- helpers -------------------------------------------------------------------------------------


def application() -> RegistrationApplication:
    return RegistrationApplication(ServiceSettings(service="registration", event_store="memory"), clock=lambda: NOW)


def season_body(kind: str = "qc_group", **changes: Any) -> dict[str, Any]:
    return demo_season(2026, NOW) | {"kind": kind} | changes


def opened(kind: str = "qc_group", **changes: Any) -> SeasonOpened:
    return SeasonOpened(season_id=f"310000-2026-{kind}", **season_body(kind, **changes))


@pytest.fixture
def app() -> RegistrationApplication:
    app = application()
    app.open_season(opened("qc_group"), SECRETARIAT)
    app.open_season(opened("team"), SECRETARIAT)
    return app


def form(index: int = 0, **changes: Any) -> UnitRegistrationForm:
    return UnitRegistrationForm.model_validate(demo_registration(index) | changes)


def contact(**changes: Any) -> dict[str, Any]:
    return {"name": "杨瑾", "department": "会员与质量推进部", "mobile": "18917180961", "email": "yangjin@example.org"} | changes


def recommender(**changes: Any) -> RecommenderForm:
    body = {"name": "徐汇区市场监督管理局", "category": "district", "region_code": "310104", "contacts": [contact()]}
    return RecommenderForm.model_validate(body | changes)


def direct(**changes: Any) -> RecommenderForm:
    body = {"recommender_id": "direct", "name": "其他-市质协会员与质量推进部", "category": "direct", "contacts": [contact()]}
    return RecommenderForm.model_validate(body | changes)


def judge(**changes: Any) -> JudgeForm:
    body = {
        "name": "李明", "work_unit": "上海电气集团股份有限公司", "certificate_no": "TGQ-2019-0012",
        "address": "上海市长宁区泰安路74号", "email": "liming@example.com", "mobile": "13812345678",
    }
    return JudgeForm.model_validate(body | changes)


def refused(app: RegistrationApplication, command: Callable[[], object]) -> RuleViolation:
    """Run a command that must be refused; nothing may be stored."""
    before = app.recorder.max_notification_id()
    with pytest.raises(RuleViolation) as refusal:
        command()
    assert app.recorder.max_notification_id() == before, "a refused command stored something"
    return refusal.value


def invalid(model: type[BaseModel], data: dict[str, Any]) -> list[tuple[str, str]]:
    """The (field, rule) pairs a payload is refused with at the door."""
    with pytest.raises(ValidationError) as refusal:
        model.model_validate(data)
    return [(".".join(str(part) for part in error["loc"]), error["type"]) for error in refusal.value.errors()]


def window(opens: str, closes: str) -> dict[str, str]:
    return {"opens_at": opens, "closes_at": closes}


# --- seasons -------------------------------------------------------------------------------------


def test_season_id() -> None:
    app = application()
    wrong = SeasonOpened(season_id="310000-2025-qc_group", **season_body())
    assert refused(app, lambda: app.open_season(wrong, SECRETARIAT)).rule == "season.id"


def test_season_unique() -> None:
    app = application()
    app.open_season(opened(), SECRETARIAT)
    violation = refused(app, lambda: app.open_season(opened(), SECRETARIAT))
    assert (violation.rule, status_of(violation)) == ("season.unique", 409)


def test_season_window_closes_after_opens() -> None:
    body = season_body()
    body["windows"]["review"] = window("2026-07-01T00:00:00+08:00", "2026-06-01T00:00:00+08:00")
    assert invalid(SeasonOpened, {"season_id": QC, **body}) == [("windows.review", "season.window.closes_after_opens")]


def test_a_window_instant_needs_its_offset() -> None:
    body = season_body()
    body["windows"]["review"] = window("2026-07-01T00:00:00", "2026-08-01T00:00:00+08:00")
    assert invalid(SeasonOpened, {"season_id": QC, **body}) == [("windows.review.opens_at", "timezone_aware")]


def test_windows_are_stored_in_utc() -> None:
    body = season_body()
    body["windows"]["registration"] = window("2026-02-01T00:00:00+08:00", "2026-04-30T22:00:00+08:00")
    stored = SeasonOpened(season_id=QC, **body).model_dump(mode="json")["windows"]["registration"]
    assert stored == {"opens_at": "2026-01-31T16:00:00Z", "closes_at": "2026-04-30T14:00:00Z"}


def test_season_windows_registration_required() -> None:
    app = application()
    body = season_body()
    del body["windows"]["registration"]
    violation = refused(app, lambda: app.open_season(SeasonOpened(season_id=QC, **body), SECRETARIAT))
    assert (violation.field, violation.rule) == ("windows.registration", "season.windows.registration_required")


def test_a_season_whose_forms_have_no_prior_registration_needs_no_registration_window() -> None:
    app = application()
    body = season_body() | {"organizer": "370000", "organizer_name": "山东省质量管理协会",
                            "profile": {"profile_id": "shandong-2024-qc", "version": 1}}
    del body["windows"]["registration"]
    opened = app.open_season(SeasonOpened(season_id="370000-2026-qc_group", **body), SECRETARIAT)
    assert opened["event"] == "SeasonOpened"
    season = app.season("370000-2026-qc_group")
    assert not season.form_profile.prior_registration_required and season.window(Stage.REGISTRATION) is None


def test_season_windows_year() -> None:
    app = application()
    body = season_body()
    body["windows"]["publication"] = window("2026-08-01T00:00:00+08:00", "2208-08-31T00:00:00+08:00")
    violation = refused(app, lambda: app.open_season(SeasonOpened(season_id=QC, **body), SECRETARIAT))
    assert (violation.field, violation.rule) == ("windows.publication.closes_at", "season.windows.year")
    assert "2208-08-31 00:00" in violation.message


def test_season_windows_order() -> None:
    app = application()
    body = season_body()
    # the review may not open before the submissions it reviews
    body["windows"]["review"] = window("2026-01-01T00:00:00+08:00", "2026-09-01T00:00:00+08:00")
    violation = refused(app, lambda: app.open_season(SeasonOpened(season_id=QC, **body), SECRETARIAT))
    assert (violation.field, violation.rule) == ("windows.review.opens_at", "season.windows.order")
    assert "评审" in violation.message and "推荐" in violation.message


def test_season_channels_participation() -> None:
    app = application()
    violation = refused(app, lambda: app.open_season(opened(channels=["group", "feed"]), SECRETARIAT))
    assert (violation.field, violation.rule) == ("channels.1", "season.channels.participation")


def test_season_channels_duplicate() -> None:
    app = application()
    violation = refused(app, lambda: app.open_season(opened(channels=["group", "unit", "group"]), SECRETARIAT))
    assert (violation.field, violation.rule) == ("channels.2", "season.channels.duplicate")


def test_the_quota_defaults_to_the_notices_rule_of_the_kind() -> None:
    qc, team = opened("qc_group").quota, opened("team").quota
    assert (qc.per_unit_max, {k.value: v for k, v in qc.per_type_max.items()}) == (2, {"problem_solving": 1, "innovation": 1})
    assert (team.per_unit_min, team.per_unit_max, team.distinct_team_types) == (2, 3, True)


def test_season_quota_min_above_max() -> None:
    app = application()
    season = opened("team", quota={"per_unit_min": 4, "per_unit_max": 3})
    assert refused(app, lambda: app.open_season(season, SECRETARIAT)).rule == "season.quota.min_above_max"


def test_season_quota_per_type_for_qc_only() -> None:
    app = application()
    season = opened("team", quota={"per_unit_max": 3, "per_type_max": {"innovation": 1}})
    assert refused(app, lambda: app.open_season(season, SECRETARIAT)).rule == "season.quota.per_type_for_qc_only"


def test_season_quota_type_above_unit() -> None:
    app = application()
    season = opened(quota={"per_unit_max": 2, "per_type_max": {"innovation": 3}})
    violation = refused(app, lambda: app.open_season(season, SECRETARIAT))
    assert (violation.field, violation.rule) == ("quota.per_type_max.innovation", "season.quota.type_above_unit")


def test_season_quota_distinct_types_for_teams_only() -> None:
    app = application()
    season = opened(quota={"per_unit_max": 2, "distinct_team_types": True})
    assert refused(app, lambda: app.open_season(season, SECRETARIAT)).rule == "season.quota.distinct_types_for_teams_only"


def rubric(code: str = "ps_presentation", **changes: Any) -> dict[str, Any]:
    return {
        "code": code, "label": "问题解决型课题成果发表评审表", "standard": "T/CAQ10201-2020",
        "review_form": "presentation", "achievement_types": ["problem_solving"],
        "criteria": [
            {"code": "topic", "label": "选题", "max_points": 15},
            {"code": "analysis", "label": "原因分析", "max_points": 25},
            {"code": "effect", "label": "效果", "max_points": 60},
        ],
    } | changes


def test_a_season_keeps_its_rubrics_and_grade_bands() -> None:
    app = application()
    bands = [
        {"code": "benchmark", "label": "标杆级", "min_score": 90},
        {"code": "excellent", "label": "优秀级", "min_score": 80},
        {"code": "advancing", "label": "推进级", "min_score": "70.5"},
    ]
    season = opened(rubrics=[rubric(), rubric("in_presentation", achievement_types=["innovation"])], grade_bands=bands)
    app.open_season(season, SECRETARIAT)
    payload = app.envelopes_after(0, 1)[0][0].payload
    assert [band["label"] for band in payload["grade_bands"]] == ["标杆级", "优秀级", "推进级"]
    assert season.rubrics[0].total == 100


def test_season_rubric_max_points_positive() -> None:
    bad = rubric(criteria=[{"code": "topic", "label": "选题", "max_points": 0}])
    errors = invalid(SeasonOpened, {"season_id": QC, **season_body(rubrics=[bad])})
    assert errors == [("rubrics.0.criteria.0.max_points", "season.rubric.max_points_positive")]


def test_season_rubric_code_unique() -> None:
    app = application()
    season = opened(rubrics=[rubric(), rubric(review_form="material")])
    assert refused(app, lambda: app.open_season(season, SECRETARIAT)).rule == "season.rubric.code_unique"


def test_season_rubric_criterion_code_unique() -> None:
    app = application()
    twice = [{"code": "topic", "label": "选题", "max_points": 15}, {"code": "topic", "label": "选题", "max_points": 5}]
    violation = refused(app, lambda: app.open_season(opened(rubrics=[rubric(criteria=twice)]), SECRETARIAT))
    assert (violation.field, violation.rule) == ("rubrics.0.criteria.1.code", "season.rubric.criterion_code_unique")


def test_season_rubric_achievement_types_for_qc_only() -> None:
    app = application()
    violation = refused(app, lambda: app.open_season(opened("team", rubrics=[rubric()]), SECRETARIAT))
    assert violation.rule == "season.rubric.achievement_types_for_qc_only"


def test_season_rubric_overlap() -> None:
    app = application()
    for_every_type = rubric("all_presentation", achievement_types=[])
    violation = refused(app, lambda: app.open_season(opened(rubrics=[rubric(), for_every_type]), SECRETARIAT))
    assert (violation.field, violation.rule) == ("rubrics.1", "season.rubric.overlap")


def test_season_grade_bands_order() -> None:
    app = application()
    bands = [{"code": "excellent", "label": "优秀级", "min_score": 80}, {"code": "benchmark", "label": "标杆级", "min_score": 90}]
    violation = refused(app, lambda: app.open_season(opened(grade_bands=bands), SECRETARIAT))
    assert (violation.field, violation.rule) == ("grade_bands.1.min_score", "season.grade_bands.order")


def test_season_grade_bands_code_unique() -> None:
    app = application()
    bands = [{"code": "top", "label": "标杆级", "min_score": 90}, {"code": "top", "label": "优秀级", "min_score": 80}]
    assert refused(app, lambda: app.open_season(opened(grade_bands=bands), SECRETARIAT)).rule == "season.grade_bands.code_unique"


def test_identity_region_code_province() -> None:
    errors = invalid(SeasonOpened, {"season_id": "990000-2026-qc_group", **season_body(organizer="990000")})
    assert errors == [("organizer", "identity.region_code.province")]


# --- changing a window -----------------------------------------------------------------------------


def test_a_window_change_is_an_event_with_its_reason(app: RegistrationApplication) -> None:
    extended = Window(opens_at=datetime(2026, 2, 1, tzinfo=UTC), closes_at=datetime(2026, 5, 1, 14, tzinfo=UTC))
    result = app.change_window(QC, Stage.SUBMISSION, extended, "申报截止时间延长至5月1日22:00", SECRETARIAT)
    assert (result["event"], result["version"]) == ("SeasonWindowChanged", 2)
    assert app.season(QC).window(Stage.SUBMISSION) == extended
    history = app.history(app.season(QC).id)
    assert history[-1].payload["reason"] == "申报截止时间延长至5月1日22:00"


def test_the_same_window_again_changes_nothing(app: RegistrationApplication) -> None:
    same = app.season(QC).window(Stage.SUBMISSION)
    assert same is not None
    before = app.recorder.max_notification_id()
    result = app.change_window(QC, Stage.SUBMISSION, same, "no change", SECRETARIAT)
    assert (result["event"], result["changed"]) == (None, False)
    assert app.recorder.max_notification_id() == before


def test_season_windows_order_on_a_change(app: RegistrationApplication) -> None:
    # submissions may not stay open after the recommending units' window has closed
    late = Window(opens_at=datetime(2026, 2, 1, tzinfo=UTC), closes_at=datetime(2026, 7, 1, tzinfo=UTC))
    violation = refused(app, lambda: app.change_window(QC, Stage.SUBMISSION, late, "延长", SECRETARIAT))
    assert (violation.field, violation.rule) == ("windows.recommendation.closes_at", "season.windows.order")


def test_a_window_of_an_unknown_season_is_not_found() -> None:
    app = application()
    some = Window(opens_at=datetime(2026, 2, 1, tzinfo=UTC), closes_at=datetime(2026, 3, 1, tzinfo=UTC))
    with pytest.raises(NotFound, match="season 310000-2031-team"):
        app.change_window("310000-2031-team", Stage.REVIEW, some, "reason", SECRETARIAT)


# --- the registration form (报名表) ------------------------------------------------------------------


def test_season_window_registration(app: RegistrationApplication) -> None:
    app.clock = lambda: datetime(2026, 12, 31, tzinfo=UTC)
    violation = refused(app, lambda: app.register_unit(QC, form(), SECRETARIAT))
    assert (violation.rule, status_of(violation)) == ("season.window.registration", 409)
    assert "is closed" in violation.message and "Asia/Shanghai" in violation.message


def test_registration_unit_name_han(app: RegistrationApplication) -> None:
    violation = refused(app, lambda: app.register_unit(QC, form(unit_name="Shanghai Shenda Co Ltd"), SECRETARIAT))
    assert (violation.field, violation.rule) == ("unit_name", "registration.unit_name.han")


@pytest.mark.parametrize("name", ["上海电气集团-上海申达电气设备有限公司", "上海电气集团/申达电气设备厂", "上海电气 申达电气设备有限公司"])
def test_registration_unit_name_no_parent_prefix(app: RegistrationApplication, name: str) -> None:
    violation = refused(app, lambda: app.register_unit(QC, form(unit_name=name), SECRETARIAT))
    assert (violation.field, violation.rule) == ("unit_name", "registration.unit_name.no_parent_prefix")


def test_a_branch_full_name_with_brackets_is_a_seal_name(app: RegistrationApplication) -> None:
    branch = form(unit_name="中国石油化工股份有限公司上海高桥分公司（炼油事业部）")
    assert app.register_unit(QC, branch, SECRETARIAT)["event"] == "UnitRegistered"


def test_registration_short_name_not_shorter(app: RegistrationApplication) -> None:
    violation = refused(app, lambda: app.register_unit(QC, form(short_name="上海申达电气设备有限公司"), SECRETARIAT))
    assert violation.rule == "registration.short_name.not_shorter"


def test_registration_unit_nature_other_required(app: RegistrationApplication) -> None:
    violation = refused(app, lambda: app.register_unit(QC, form(unit_nature="other"), SECRETARIAT))
    assert (violation.field, violation.rule) == ("unit_nature_other", "registration.unit_nature_other.required")


def test_registration_unit_nature_other_without_other(app: RegistrationApplication) -> None:
    violation = refused(app, lambda: app.register_unit(QC, form(unit_nature_other="集体所有制"), SECRETARIAT))
    assert violation.rule == "registration.unit_nature_other.without_other"


def test_key_industries_are_the_forms_codes() -> None:
    assert invalid(UnitRegistrationForm, demo_registration(0) | {"key_industries": ["semiconductors"]}) == [
        ("key_industries.0", "enum")
    ]


def test_registration_key_industries_duplicate(app: RegistrationApplication) -> None:
    twice = form(key_industries=["shipping", "finance", "shipping"])
    violation = refused(app, lambda: app.register_unit(QC, twice, SECRETARIAT))
    assert (violation.field, violation.rule) == ("key_industries.2", "registration.key_industries.duplicate")


def test_registration_key_industry_other_required(app: RegistrationApplication) -> None:
    violation = refused(app, lambda: app.register_unit(QC, form(key_industries=["other"]), SECRETARIAT))
    assert violation.rule == "registration.key_industry_other.required"


def test_registration_key_industry_other_without_other(app: RegistrationApplication) -> None:
    violation = refused(app, lambda: app.register_unit(QC, form(key_industry_other="港口物流"), SECRETARIAT))
    assert violation.rule == "registration.key_industry_other.without_other"


def test_several_key_industries_of_several_groups_and_other(app: RegistrationApplication) -> None:
    several = form(key_industries=["integrated_circuits", "automotive", "standards_metrology_testing", "other"],
                   key_industry_other="港口物流")
    assert app.register_unit(QC, several, SECRETARIAT)["event"] == "UnitRegistered"


def test_key_domain_is_exactly_one() -> None:
    assert invalid(UnitRegistrationForm, demo_registration(0) | {"key_domain": ["manufacturing", "construction"]}) == [
        ("key_domain", "enum")
    ]


def test_registration_intents_duplicate(app: RegistrationApplication) -> None:
    violation = refused(app, lambda: app.register_unit(QC, form(intents=["submitting", "submitting"]), SECRETARIAT))
    assert violation.rule == "registration.intents.duplicate"


def test_registration_intents_first_or_continuing(app: RegistrationApplication) -> None:
    both = form(intents=["first_time_no_submission", "continuing_no_submission"])
    assert refused(app, lambda: app.register_unit(QC, both, SECRETARIAT)).rule == "registration.intents.first_or_continuing"


def test_intents_need_at_least_one() -> None:
    assert invalid(UnitRegistrationForm, demo_registration(0) | {"intents": []}) == [("intents", "too_short")]


def test_registration_managing_department_required(app: RegistrationApplication) -> None:
    violation = refused(app, lambda: app.register_unit(QC, form(managing_department=None), SECRETARIAT))
    assert violation.rule == "registration.managing_department.required"


def test_registration_promoter_department_required(app: RegistrationApplication) -> None:
    promoter = demo_registration(0)["promoter"] | {"department": None}
    violation = refused(app, lambda: app.register_unit(QC, form(promoter=promoter), SECRETARIAT))
    assert (violation.field, violation.rule) == ("promoter.department", "registration.promoter.department.required")


def test_registration_promoter_title_required(app: RegistrationApplication) -> None:
    promoter = demo_registration(0)["promoter"] | {"title": ""}
    violation = refused(app, lambda: app.register_unit(QC, form(promoter=promoter), SECRETARIAT))
    assert violation.rule == "registration.promoter.title.required"


@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [
        ("postcode", "20005", "identity.postcode"),
        ("credit_code", "91310000MA1K0000X1", "identity.credit_code.check_character"),
        ("credit_code", "91310000MA1K0000", "identity.credit_code.length"),
    ],
)
def test_identity_rules_of_the_form(field: str, value: str, rule: str) -> None:
    assert invalid(UnitRegistrationForm, demo_registration(0) | {field: value}) == [(field, rule)]


@pytest.mark.parametrize(("mobile", "rule"), [("0211234567", "identity.mobile"), ("23912345678", "identity.mobile")])
def test_identity_mobile(mobile: str, rule: str) -> None:
    data = demo_registration(0)
    data["promoter"] = data["promoter"] | {"mobile": mobile}
    assert invalid(UnitRegistrationForm, data) == [("promoter.mobile", rule)]


def test_a_mobile_written_with_country_code_and_hyphens_is_kept_as_eleven_digits() -> None:
    data = demo_registration(0)
    data["promoter"] = data["promoter"] | {"mobile": "+86 139-1234-5670"}
    assert UnitRegistrationForm.model_validate(data).promoter.mobile == "13912345670"


def test_identity_postcode_is_ascii_digits() -> None:
    assert invalid(UnitRegistrationForm, demo_registration(0) | {"postcode": "２０００５２"}) == [("postcode", "identity.postcode")]


def test_text_control_character() -> None:
    assert invalid(UnitRegistrationForm, demo_registration(0) | {"address": "上海市\x00浦东新区"}) == [
        ("address", "text.control_character")
    ]
    data = demo_registration(0)
    data["promoter"] = data["promoter"] | {"name": "王\x1b伟"}
    assert invalid(UnitRegistrationForm, data) == [("promoter.name", "text.control_character")]


def test_identity_email() -> None:
    data = demo_registration(0)
    data["promoter"] = data["promoter"] | {"email": "qc0-at-example.com"}
    assert invalid(UnitRegistrationForm, data) == [("promoter.email", "identity.email")]


def test_registration_recommender_unknown(app: RegistrationApplication) -> None:
    violation = refused(app, lambda: app.register_unit(QC, form(recommender_id="nobody"), SECRETARIAT))
    assert (violation.field, violation.rule, status_of(violation)) == (
        "recommender_id", "registration.recommender.unknown", 422,
    )


def test_a_recommender_of_another_season_is_unknown(app: RegistrationApplication) -> None:
    app.register_recommender(TEAM, recommender(recommender_id="xuhui"), SECRETARIAT)
    violation = refused(app, lambda: app.register_unit(QC, form(recommender_id="xuhui"), SECRETARIAT))
    assert violation.rule == "registration.recommender.unknown"


def test_a_unit_picks_a_registered_recommender(app: RegistrationApplication) -> None:
    app.register_recommender(QC, recommender(recommender_id="xuhui"), SECRETARIAT)
    result = app.register_unit(QC, form(recommender_id="xuhui"), SECRETARIAT)
    assert app.history(UUID(result["aggregate_id"]))[0].payload["recommender_id"] == "xuhui"


def test_registration_recommender_direct_members_only(app: RegistrationApplication) -> None:
    app.register_recommender(QC, direct(), SECRETARIAT)
    non_member = form(1, recommender_id="direct")  # demo unit 1 is not a member
    assert non_member.member is False
    violation = refused(app, lambda: app.register_unit(QC, non_member, SECRETARIAT))
    assert violation.rule == "registration.recommender.direct_members_only"
    assert app.register_unit(QC, form(0, recommender_id="direct"), SECRETARIAT)["created"] is True


def test_registering_again_amends_and_the_rules_still_apply(app: RegistrationApplication) -> None:
    app.register_unit(QC, form(), SECRETARIAT)
    assert app.register_unit(QC, form(address="上海市徐汇区漕溪路1号"), SECRETARIAT)["event"] == "UnitRegistrationAmended"
    violation = refused(app, lambda: app.register_unit(QC, form(unit_nature="other"), SECRETARIAT))
    assert violation.rule == "registration.unit_nature_other.required"


# --- recommending units ----------------------------------------------------------------------------


def test_recommender_contacts_required(app: RegistrationApplication) -> None:
    violation = refused(app, lambda: app.register_recommender(QC, recommender(contacts=[]), SECRETARIAT))
    assert (violation.field, violation.rule) == ("contacts", "recommender.contacts.required")


def test_recommender_region_code_outside_organizer(app: RegistrationApplication) -> None:
    violation = refused(app, lambda: app.register_recommender(QC, recommender(region_code="370102"), SECRETARIAT))
    assert violation.rule == "recommender.region_code.outside_organizer"
    assert "山东省" in violation.message and "上海市" in violation.message


def test_recommender_region_code_direct(app: RegistrationApplication) -> None:
    violation = refused(app, lambda: app.register_recommender(QC, direct(region_code="310000"), SECRETARIAT))
    assert violation.rule == "recommender.region_code.direct"


def test_recommender_id_unique(app: RegistrationApplication) -> None:
    app.register_recommender(QC, recommender(recommender_id="xuhui"), SECRETARIAT)
    again = recommender(recommender_id="xuhui", name="徐汇区质量协会")
    violation = refused(app, lambda: app.register_recommender(QC, again, SECRETARIAT))
    assert (violation.rule, status_of(violation)) == ("recommender.id.unique", 409)


def test_recommender_name_unique(app: RegistrationApplication) -> None:
    app.register_recommender(QC, recommender(), SECRETARIAT)
    again = recommender(recommender_id="xuhui2", name=" 徐汇区市场监督管理局 ")
    violation = refused(app, lambda: app.register_recommender(QC, again, SECRETARIAT))
    assert (violation.field, violation.rule, status_of(violation)) == ("name", "recommender.name.unique", 409)


def test_the_same_name_may_recommend_in_another_season(app: RegistrationApplication) -> None:
    first = app.register_recommender(QC, recommender(), SECRETARIAT)
    second = app.register_recommender(TEAM, recommender(), SECRETARIAT)
    assert first["recommender_id"].startswith("r") and second["created"] is True


def test_recommender_direct_channel_closed() -> None:
    app = application()
    app.open_season(opened(channels=["group", "unit", "recommender"]), SECRETARIAT)
    violation = refused(app, lambda: app.register_recommender(QC, direct(), SECRETARIAT))
    assert violation.rule == "recommender.direct.channel_closed"


def test_recommender_direct_unique(app: RegistrationApplication) -> None:
    app.register_recommender(QC, direct(), SECRETARIAT)
    second = direct(recommender_id="direct2", name="市质协秘书处")
    violation = refused(app, lambda: app.register_recommender(QC, second, SECRETARIAT))
    assert (violation.rule, status_of(violation)) == ("recommender.direct.unique", 409)


def test_a_recommender_of_an_unknown_season_is_not_found() -> None:
    app = application()
    with pytest.raises(NotFound, match="season 310000-2031-team"):
        app.register_recommender("310000-2031-team", recommender(), SECRETARIAT)


def test_the_organizer_raises_one_recommenders_quota_with_a_reason(app: RegistrationApplication) -> None:
    app.register_recommender(TEAM, recommender(recommender_id="xuhui"), SECRETARIAT)
    result = app.raise_recommender_quota(TEAM, "xuhui", {"per_unit_max": 5}, "建设“质量工匠创新工作室”成效突出", SECRETARIAT)
    assert (result["event"], result["quota"]["per_unit_max"], result["quota"]["per_unit_min"]) == (
        "RecommenderQuotaRaised", 5, 2,
    )
    raised = app.history(app.recommender(TEAM, "xuhui").id)[-1].payload
    assert raised["previous"]["per_unit_max"] == 3 and raised["reason"].startswith("建设")


def test_recommender_quota_not_raised(app: RegistrationApplication) -> None:
    app.register_recommender(QC, recommender(recommender_id="xuhui"), SECRETARIAT)
    lower = refused(app, lambda: app.raise_recommender_quota(QC, "xuhui", {"per_unit_max": 1}, "减少", SECRETARIAT))
    same = refused(app, lambda: app.raise_recommender_quota(QC, "xuhui", {"per_unit_max": 2}, "不变", SECRETARIAT))
    assert lower.rule == same.rule == "recommender.quota.not_raised"
    assert "per_unit_max 2 → 1" in lower.message


def test_a_raised_quota_still_follows_the_seasons_quota_rules(app: RegistrationApplication) -> None:
    app.register_recommender(TEAM, recommender(recommender_id="xuhui"), SECRETARIAT)
    violation = refused(
        app, lambda: app.raise_recommender_quota(TEAM, "xuhui", {"per_type_max": {"innovation": 2}}, "增加", SECRETARIAT)
    )
    assert violation.rule == "season.quota.per_type_for_qc_only"


def test_raising_the_quota_of_an_unknown_recommender_is_not_found(app: RegistrationApplication) -> None:
    with pytest.raises(NotFound, match="recommending unit nobody"):
        app.raise_recommender_quota(QC, "nobody", {"per_unit_max": 4}, "增加", SECRETARIAT)


# --- judges --------------------------------------------------------------------------------------


def test_a_judge_is_registered_with_the_forms_fields(app: RegistrationApplication) -> None:
    result = app.register_judge(QC, judge(certificate_no="tgq 2019 0012"), SECRETARIAT)
    payload = app.history(UUID(result["aggregate_id"]))[0].payload
    assert payload["certificate_no"] == "TGQ20190012" and payload["address"] == "上海市长宁区泰安路74号"
    assert result["judge_id"].startswith("j")


def test_judge_certificate_no_format() -> None:
    assert invalid(JudgeForm, judge().model_dump() | {"certificate_no": "#1"}) == [
        ("certificate_no", "judge.certificate_no.format")
    ]


def test_judge_certificate_unique(app: RegistrationApplication) -> None:
    app.register_judge(QC, judge(), SECRETARIAT)
    violation = refused(app, lambda: app.register_judge(QC, judge(name="李明明", certificate_no="tgq-2019-0012"), SECRETARIAT))
    assert (violation.field, violation.rule, status_of(violation)) == ("certificate_no", "judge.certificate.unique", 409)
    assert app.register_judge(TEAM, judge(), SECRETARIAT)["created"] is True  # unique per season


def test_judge_recommender_unknown(app: RegistrationApplication) -> None:
    violation = refused(app, lambda: app.register_judge(QC, judge(recommender_id="nobody"), SECRETARIAT))
    assert violation.rule == "judge.recommender.unknown"


def test_a_judge_of_a_recommenders_panel(app: RegistrationApplication) -> None:
    app.register_recommender(QC, recommender(recommender_id="xuhui"), SECRETARIAT)
    result = app.register_judge(QC, judge(recommender_id="xuhui"), SECRETARIAT)
    assert result["event"] == "JudgeRegistered"


def test_season_stage_weights_all_zero_is_refused() -> None:
    from decimal import Decimal

    from services.registration.domain.season import check_stage_weights

    with pytest.raises(RuleViolation) as refusal:
        check_stage_weights({"material_review": Decimal("0"), "presentation": Decimal("0")})
    assert refusal.value.rule == "season.stage_weights.all_zero"
    check_stage_weights({"material_review": Decimal("0.4"), "presentation": Decimal("0.6")})
    check_stage_weights({})
