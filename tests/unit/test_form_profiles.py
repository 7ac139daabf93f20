"""Form profiles: the built-in ones, the contradictions a declared profile is refused for, an organizer's
adjustment, and forms checked against their season's profile (Shandong's 附件2, 4 and 5 beside Shanghai's)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from contracts import parse_payload
from contracts.builtin_profiles import (
    NATIONAL_QC_2024,
    SHANDONG_QC_2024,
    SHANDONG_TEAM_2024,
    SHANGHAI_QC_2020,
    SHANGHAI_QC_2024,
    SHANGHAI_TEAM_2024,
    builtin_profile,
    builtin_profiles,
)
from contracts.codes import ActivityKind
from contracts.common import Window
from contracts.profiles import (
    FieldChange,
    FieldRule,
    FormName,
    FormProfile,
    Presence,
    ProfileAdjustment,
    ProfileRef,
    RateMode,
    Unit,
)
from contracts.profile_rules import adjusted, contradictions, problems_of_form
from contracts.registered import UnitRegistrationForm
from qcp.demo import demo_registration
from contracts.filings import QcStatisticsForm, TeamStatisticsForm, WorkSummaryForm
from contracts.submitted import MATERIAL_SECTIONS, TeamExperienceForm
from infra.errors import RuleViolation
from services.registration.domain.season import Season
from services.submission.domain.season import SeasonView
from tests.unit.test_registration_rules import SECRETARIAT as ORGANIZER
from tests.unit.test_registration_rules import application as registration_application
from tests.unit.test_registration_rules import form as registration_form
from tests.unit.test_registration_rules import opened, refused
from tests.unit.test_submission_forms import attachment, contact, qc_statistics, team_statistics, work_summary
from tests.unit.test_submission_rules import RECOMMENDER, application, as_unit

CST = timezone(timedelta(hours=8))
SD_WINDOW = Window(opens_at=datetime(2024, 3, 1, tzinfo=CST), closes_at=datetime(2024, 6, 1, 22, tzinfo=CST))
IN_SD_WINDOW = datetime(2024, 5, 20, 10, tzinfo=CST)
SD_UNIT = {"credit_code": "91371202MA11K0011B", "unit_name": "山东钢铁股份有限公司莱芜分公司"}


def shandong_season(kind: ActivityKind) -> SeasonView:
    ref = SHANDONG_QC_2024 if kind is ActivityKind.QC_GROUP else SHANDONG_TEAM_2024
    return SeasonView(
        season_id=f"370000-2024-{kind.value}", organizer="370000", kind=kind,
        windows={"submission": SD_WINDOW, "recommendation": SD_WINDOW},
        channels=frozenset({"group", "recommender"}), recommenders=frozenset({"pudong", "jinan"}),
        profile=builtin_profile(ref),
    )


def shandong_team_form(**changes: Any) -> dict[str, Any]:
    """2024年山东省质量信得过班组申报表 (附件4): only the fields it prints."""
    form = {
        "recommender_id": "jinan",
        "credit_code": SD_UNIT["credit_code"],
        "unit_name": SD_UNIT["unit_name"],
        "team_name": "炼铁厂三号高炉运行甲班",
        "address": "山东省济南市莱芜区友谊大街38号",
        "postcode": "271104",
        "managing_department": "质量管理部",
        "contact_name": "孔祥瑞",
        "contact_mobile": "15065310111",
        "contact_phone": "0634-6821234",
        "team_leader": "王志强",
        "team_size": 18,
        "metrics": {
            "work_completion_rate": "100", "quality_assessment_pass_rate": "99.6", "nonconformity_rate": "0.08",
            "quality_safety_accidents": 0, "customer_complaints": 0, "first_pass_rate": "99.4",
            "trained_persons": 18, "training_hours": "120", "improvement_participation_rate": "100",
            "quality_cost": "8.6",
        },
        "materials": {name: f"{label}：……" for name, label in MATERIAL_SECTIONS.items()},
        "attachments": [
            attachment("质量信得过班组申报表（盖章）.pdf", "sealed_form"),
            attachment("质量信得过班组申报表.docx", "application_form"),
            attachment("班组创建报告.docx", "report"),
        ],
    }
    return form | changes


def shandong_qc_statistics(**changes: Any) -> dict[str, Any]:
    """质量管理小组活动统计表 (附件2): groups in 万个, 普及率 and 成果率 typed in as percentages."""
    form = {
        "period": {"first_month": "2023-07", "last_month": "2024-06"},
        "registered_groups_cumulative": "15.23",
        "registered_groups": "1.285",
        "participation_rate": "23.4",
        "active_groups": "1.193",
        "economic_benefit_cumulative": "985432.17",
        "economic_benefit": "65210.5",
        "achievement_rate": "56.9",
        "funding": "1320.75",
        "rewards": "486.2",
        "training_sessions": 38,
        "training_participants": 2_140,
        "features_and_suggestions": "数字化平台注册率提高；建议加强评委队伍建设。",
        "contact": contact(),
    }
    return form | changes


def shandong_team_statistics(**changes: Any) -> dict[str, Any]:
    """质量信得过班组活动统计表 (附件5): six items, 员工数 in 个, two review forms and two exchange boxes."""
    form = {
        "period": {"first_month": "2023-07", "last_month": "2024-06"},
        "teams": 318, "teams_cumulative": 2_417, "participating_staff": 5_260, "teams_recommended": 24,
        "funding": "215.8", "rewards": "64.5",
        "features_and_problems": "班组建设与QC小组活动联动推进。",
        "review_forms": ["presentation", "on_site"], "exchange": "joint_with_qc",
        "contact": contact(),
    }
    return form | changes


def refusal(call: Any) -> tuple[str, str, str]:
    with pytest.raises(RuleViolation) as refused_:
        call()
    return refused_.value.field, refused_.value.rule, refused_.value.message


# ---------------------------------------------------------------- the built-in profiles


def test_every_built_in_profile_is_sound() -> None:
    assert set(builtin_profiles()) == {ref.key for ref in (SHANGHAI_QC_2024, SHANGHAI_TEAM_2024, SHANGHAI_QC_2020,
                                                          SHANDONG_QC_2024, SHANDONG_TEAM_2024, NATIONAL_QC_2024)}
    for profile in builtin_profiles().values():
        assert contradictions(profile) == [], profile.profile_id


def test_shandong_team_form_has_only_its_own_fields() -> None:
    spec = builtin_profile(SHANDONG_TEAM_2024).forms[FormName.TEAM_EXPERIENCE]
    asked = {path for path, rule in spec.fields.items() if rule.presence is not Presence.ABSENT}
    for absent in ("member", "unit_nature", "key_domain", "promoter", "commitments", "unit_short_name",
                   "metrics.team_building_coverage_rate"):
        assert absent not in asked
    labels = [spec.fields[path].label for path in ("unit_name", "address", "managing_department", "contact_name")]
    assert labels == ["企业名称（公章为准）", "详细通讯地址", "主管部门", "直接联系人"]
    assert len([path for path in asked if path.startswith("metrics.")]) == 10  # nine cells, 人数/时数 as two figures


def test_shandong_statistics_count_in_ten_thousands_with_typed_rates() -> None:
    qc = builtin_profile(SHANDONG_QC_2024).forms[FormName.QC_STATISTICS].fields
    assert qc["registered_groups"].unit is Unit.TEN_THOUSAND_PIECES
    assert qc["participation_rate"].rate is RateMode.TYPED and qc["participants"].presence is Presence.ABSENT
    team = builtin_profile(SHANDONG_TEAM_2024).forms[FormName.TEAM_STATISTICS].fields
    assert team["teams_recommended"].label == "本年度推荐山东省质量信得过班组数"
    assert team["enterprises"].presence is Presence.ABSENT and team["caq_certified_judges"].presence is Presence.ABSENT
    assert team["participating_staff"].unit is Unit.PIECES
    assert builtin_profile(SHANGHAI_TEAM_2024).forms[FormName.TEAM_STATISTICS].fields["participating_staff"].unit \
        is Unit.PERSON_TIMES


def test_texts_are_each_provinces_own() -> None:
    shanghai, shandong = builtin_profile(SHANGHAI_TEAM_2024), builtin_profile(SHANDONG_TEAM_2024)
    assert "上海市" in shanghai.declaration_text and "上海市" not in shandong.declaration_text
    assert shanghai.direct_channel_name == "其他-市质协会员与质量推进部" and shandong.direct_channel_name is None
    assert len(shanghai.commitments) == 4 and shandong.commitments == {}
    assert shanghai.prior_registration_required and not shandong.prior_registration_required


# ---------------------------------------------------------------- contradictions


def with_field(profile: FormProfile, form: FormName, path: str, rule: FieldRule) -> FormProfile:
    data = profile.model_dump()
    data["forms"][form]["fields"][path] = rule.model_dump()
    return FormProfile.model_validate(data)


def rules_of(profile: FormProfile) -> set[str]:
    return {problem.rule for problem in contradictions(profile)}


def test_profile_rate_numerator_a_derived_rate_names_its_figures() -> None:
    broken = with_field(builtin_profile(SHANGHAI_QC_2024), FormName.QC_STATISTICS, "participation_rate",
                        FieldRule(presence=Presence.ABSENT, label="普及率", rate=RateMode.DERIVED, denominator="total_staff"))
    assert rules_of(broken) == {"profile.rate.numerator"}


def test_profile_rate_denominator_must_be_required_on_the_form() -> None:
    profile = builtin_profile(SHANGHAI_QC_2024)
    broken = with_field(profile, FormName.QC_STATISTICS, "total_staff",
                        FieldRule(presence=Presence.ABSENT, label="职工总数"))
    assert rules_of(broken) == {"profile.rate.denominator"}


def test_profile_rate_derived_typed_a_derived_rate_is_not_asked_for() -> None:
    broken = with_field(builtin_profile(SHANGHAI_QC_2024), FormName.QC_STATISTICS, "achievement_rate",
                        FieldRule(presence=Presence.REQUIRED, label="成果率", rate=RateMode.DERIVED,
                                  numerator="groups_with_results", denominator="registered_groups"))
    assert rules_of(broken) == {"profile.rate.derived_typed"}


def test_profile_field_unknown_and_core() -> None:
    profile = builtin_profile(SHANDONG_TEAM_2024)
    unknown = with_field(profile, FormName.TEAM_EXPERIENCE, "favourite_colour",
                         FieldRule(presence=Presence.OPTIONAL, label="颜色"))
    assert rules_of(unknown) == {"profile.field.unknown"}
    core = with_field(profile, FormName.TEAM_EXPERIENCE, "team_name", FieldRule(presence=Presence.ABSENT, label="班组"))
    assert rules_of(core) == {"profile.field.core"}


def test_profile_field_unit_a_count_is_not_money() -> None:
    broken = with_field(builtin_profile(SHANDONG_QC_2024), FormName.QC_STATISTICS, "registered_groups",
                        FieldRule(presence=Presence.REQUIRED, label="注册数", unit=Unit.TEN_THOUSAND_YUAN))
    assert rules_of(broken) == {"profile.field.unit"}


def test_profile_commitments_required_without_texts() -> None:
    data = builtin_profile(SHANGHAI_TEAM_2024).model_dump() | {"commitments": {}}
    assert rules_of(FormProfile.model_validate(data)) == {"profile.commitments.text"}


def test_profile_declaration_required_without_text() -> None:
    data = builtin_profile(SHANDONG_QC_2024).model_dump() | {"declaration_text": None}
    assert rules_of(FormProfile.model_validate(data)) == {"profile.declaration.text"}


def test_profile_attachment_naming_needs_a_short_name() -> None:
    data = builtin_profile(SHANDONG_TEAM_2024).model_dump() | {"attachment_naming": "short_name_and_team"}
    assert rules_of(FormProfile.model_validate(data)) == {"profile.attachment_naming.short_name"}


# ---------------------------------------------------------------- adjusting


def adjustment(**fields: Any) -> ProfileAdjustment:
    return ProfileAdjustment.model_validate({"reason": "按本省表格调整"} | fields)


def test_profile_field_presence_conflict_a_field_both_required_and_absent() -> None:
    _, problems = adjusted(builtin_profile(SHANDONG_TEAM_2024), adjustment(
        form="team_experience", require=["contact_phone"], make_absent=["contact_phone"]), "370000-2024-team")
    assert [problem.rule for problem in problems] == ["profile.field.presence.conflict"]
    assert "contact_phone" in problems[0].message


def test_an_adjustment_is_the_next_version_of_the_seasons_own_profile() -> None:
    first, problems = adjusted(builtin_profile(SHANDONG_TEAM_2024), adjustment(
        form="team_experience", make_optional=["contact_phone"],
        fields={"team_leader": FieldChange(label="班组长（姓名）").model_dump(exclude_unset=True)}), "370000-2024-team")
    assert problems == []
    assert (first.profile_id, first.version, first.based_on) == ("370000-2024-team", 1, SHANDONG_TEAM_2024)
    assert first.rule(FormName.TEAM_EXPERIENCE, "contact_phone").presence is Presence.OPTIONAL
    assert first.label(FormName.TEAM_EXPERIENCE, "team_leader") == "班组长（姓名）"
    second, _ = adjusted(first, adjustment(direct_channel_name="省质协秘书处"), "370000-2024-team")
    assert (second.version, second.based_on, second.direct_channel_name) == (2, SHANDONG_TEAM_2024, "省质协秘书处")


def test_season_profile_adjusted_is_refused_when_it_contradicts_itself_and_stores_nothing() -> None:
    app = registration_application()
    app.open_season(opened("qc_group"), ORGANIZER)
    violation = refused(app, lambda: app.adjust_profile("310000-2026-qc_group", adjustment(
        form="qc_statistics", fields={"participation_rate": {"numerator": None, "denominator": None}}), ORGANIZER))
    assert (violation.field, violation.rule) == ("forms.qc_statistics.participation_rate.numerator",
                                                 "profile.rate.numerator")


def test_season_profile_adjusted_checks_the_next_registrations() -> None:
    app = registration_application()
    app.open_season(opened("qc_group"), ORGANIZER)
    result = app.adjust_profile("310000-2026-qc_group", adjustment(form="registration", make_absent=["key_domain"]),
                                ORGANIZER)
    assert result["profile"] == {"profile_id": "310000-2026-qc_group", "version": 1}
    violation = refused(app, lambda: app.register_unit("310000-2026-qc_group", registration_form(0), ORGANIZER))
    assert (violation.field, violation.rule) == ("key_domain", "profile.field.absent")
    assert "重点领域（单选）" in violation.message
    app.register_unit("310000-2026-qc_group", registration_form(0, key_domain=None), ORGANIZER)


def test_season_profile_unknown_and_of_another_kind_are_refused_when_the_season_opens() -> None:
    app = registration_application()
    unknown = refused(app, lambda: app.open_season(
        opened("qc_group", profile={"profile_id": "beijing-2024-qc", "version": 1}), ORGANIZER))
    assert unknown.rule == "season.profile.unknown"
    other = refused(app, lambda: app.open_season(opened("qc_group", profile=SHANDONG_TEAM_2024.model_dump()), ORGANIZER))
    assert other.rule == "season.profile.kind"


# ---------------------------------------------------------------- old events


def test_a_season_opened_before_profiles_uses_shanghais_forms_of_its_kind() -> None:
    payload = opened("team").model_dump(mode="json")
    assert "profile" not in payload, "a season without a profile is stored as before"
    season = Season(payload=payload, meta={"schema_version": 2})
    assert season.form_profile.ref == SHANGHAI_TEAM_2024
    v1 = {key: value for key, value in payload.items() if key not in {"quota", "rubrics", "grade_bands"}}
    assert parse_payload("SeasonOpened", 1, v1).profile is None


def test_an_entry_stored_before_profiles_reads_with_no_profile() -> None:
    form = TeamExperienceForm.model_validate(shandong_team_form()).model_dump(mode="json")
    parsed = parse_payload("EntrySubmitted", 1, {"season_id": "370000-2024-team", "entry_id": "e", "form": form})
    assert parsed.profile is None and "profile" not in parsed.model_dump(mode="json")


# ---------------------------------------------------------------- forms against the season's profile


def test_a_shandong_team_form_is_accepted_without_a_prior_registration() -> None:
    app = application(IN_SD_WINDOW)
    season = shandong_season(ActivityKind.TEAM)
    form = TeamExperienceForm.model_validate(shandong_team_form())
    result = app.submit_entry(season, None, form, as_unit_of(SD_UNIT["credit_code"]))
    (event,) = app.history(UUID(result["entry_id"]))
    assert event.payload["profile"] == {"profile_id": "shandong-2024-team", "version": 1}
    assert event.payload["form"]["recommender_id"] == "jinan"


def as_unit_of(credit_code: str) -> Any:
    context = as_unit(0)
    return type(context)(type(context.actor)(id="sd-promoter", role=context.actor.role, org=credit_code),
                         context.channel)


@pytest.mark.parametrize(("changes", "field", "label"), [
    ({"member": True}, "member", "会员单位"),
    ({"key_domain": "manufacturing"}, "key_domain", "重点领域"),
    ({"commitments": {"voluntary": True, "follows_standard": True, "authentic": True, "no_state_secrets": True}},
     "commitments", "组织承诺"),
])
def test_profile_field_absent_shanghai_only_fields_on_a_shandong_form(changes: dict, field: str, label: str) -> None:
    app = application(IN_SD_WINDOW)
    form = TeamExperienceForm.model_validate(shandong_team_form(**changes))
    refused_field, rule, message = refusal(
        lambda: app.submit_entry(shandong_season(ActivityKind.TEAM), None, form, as_unit_of(SD_UNIT["credit_code"])))
    assert (refused_field, rule) == (field, "profile.field.absent") and label in message


def test_profile_field_required_named_by_the_forms_own_label() -> None:
    app = application(IN_SD_WINDOW)
    form = TeamExperienceForm.model_validate(shandong_team_form(contact_name=None))
    field, rule, message = refusal(
        lambda: app.submit_entry(shandong_season(ActivityKind.TEAM), None, form, as_unit_of(SD_UNIT["credit_code"])))
    assert (field, rule) == ("contact_name", "profile.field.required") and "直接联系人" in message
    assert "2024年山东省质量信得过班组申报表" in message


def test_a_recommending_unit_not_of_the_season_is_refused_without_a_registration() -> None:
    app = application(IN_SD_WINDOW)
    form = TeamExperienceForm.model_validate(shandong_team_form(recommender_id="qingdao"))
    field, rule, _ = refusal(
        lambda: app.submit_entry(shandong_season(ActivityKind.TEAM), None, form, as_unit_of(SD_UNIT["credit_code"])))
    assert (field, rule) == ("recommender_id", "entry.recommender.registered")


def test_shandong_qc_statistics_in_ten_thousands_with_typed_rates() -> None:
    app = application(IN_SD_WINDOW)
    form = QcStatisticsForm.model_validate(shandong_qc_statistics())
    result = app.file_statistics(shandong_season(ActivityKind.QC_GROUP), "jinan", form, RECOMMENDER)
    assert result["derived"] == {}
    (event,) = app.history(UUID(result["aggregate_id"]))
    assert event.payload["form"]["registered_groups"] == "1.285"
    assert event.payload["form"]["participation_rate"] == "23.4"
    assert event.payload["profile"] == {"profile_id": "shandong-2024-qc", "version": 1}


def test_profile_field_required_a_typed_rate_left_out() -> None:
    form = QcStatisticsForm.model_validate({k: v for k, v in shandong_qc_statistics().items() if k != "achievement_rate"})
    problems = problems_of_form(builtin_profile(SHANDONG_QC_2024), FormName.QC_STATISTICS, form)
    assert [(item.field, item.rule) for item in problems] == [("achievement_rate", "profile.field.required")]


def test_profile_field_unit_whole_groups_in_ge_are_whole() -> None:
    form = QcStatisticsForm.model_validate(qc_statistics(registered_groups="12.5"))
    problems = problems_of_form(builtin_profile(SHANGHAI_QC_2024), FormName.QC_STATISTICS, form)
    assert [(item.field, item.rule) for item in problems] == [("registered_groups", "profile.field.unit.whole")]


def test_stats_rate_derived_a_typed_rate_where_the_profile_derives_it() -> None:
    form = QcStatisticsForm.model_validate(shandong_qc_statistics())
    problems = problems_of_form(builtin_profile(SHANGHAI_QC_2024), FormName.QC_STATISTICS, form)
    assert {item.rule for item in problems} >= {"stats.rate.derived", "profile.field.required"}


def test_shandong_team_statistics_six_items_and_its_own_boxes() -> None:
    app = application(IN_SD_WINDOW)
    season = shandong_season(ActivityKind.TEAM)
    app.file_statistics(season, "jinan", TeamStatisticsForm.model_validate(shandong_team_statistics()), RECOMMENDER)
    shanghai_only = TeamStatisticsForm.model_validate(shandong_team_statistics(enterprises=46))
    assert refusal(lambda: app.file_statistics(season, "jinan", shanghai_only, RECOMMENDER))[:2] == (
        "enterprises", "profile.field.absent")
    material = TeamStatisticsForm.model_validate(shandong_team_statistics(review_forms=["material"]))
    assert refusal(lambda: app.file_statistics(season, "jinan", material, RECOMMENDER))[:2] == (
        "review_forms.0", "profile.field.choice")
    shanghai = TeamStatisticsForm.model_validate(team_statistics())
    assert refusal(lambda: app.file_statistics(season, "jinan", shanghai, RECOMMENDER))[1] == "profile.field.absent"


def test_profile_form_not_offered_shandong_asks_for_no_work_summary() -> None:
    app = application(IN_SD_WINDOW)
    summary = WorkSummaryForm.model_validate(work_summary())
    assert refusal(lambda: app.file_work_summary(shandong_season(ActivityKind.QC_GROUP), "jinan", summary,
                                                 RECOMMENDER))[1] == "profile.form.not_offered"


def test_registration_not_offered_where_the_season_has_no_registration_form() -> None:
    app = registration_application()
    app.open_season(opened("qc_group", profile=SHANDONG_QC_2024.model_dump()), ORGANIZER)
    violation = refused(app, lambda: app.register_unit("310000-2026-qc_group", registration_form(0), ORGANIZER))
    assert violation.rule == "registration.not_offered"


def test_a_national_registration_carries_no_shanghai_boxes() -> None:
    app = registration_application()
    app.open_season(opened("qc_group", profile=NATIONAL_QC_2024.model_dump()), ORGANIZER)
    national = {key: value for key, value in demo_registration(0).items()
                if key not in {"member", "unit_nature", "key_industries", "key_domain", "intents"}}
    app.register_unit("310000-2026-qc_group", UnitRegistrationForm.model_validate(national), ORGANIZER)
    violation = refused(app, lambda: app.register_unit("310000-2026-qc_group", registration_form(1), ORGANIZER))
    assert (violation.field, violation.rule) == ("member", "profile.field.absent")


def test_group_counts_keep_their_number() -> None:
    form = QcStatisticsForm.model_validate(shandong_qc_statistics())
    assert form.registered_groups == Decimal("1.285") and isinstance(
        QcStatisticsForm.model_validate(qc_statistics()).registered_groups, int)
    assert ProfileRef(profile_id="shandong-2024-qc", version=1).key == "shandong-2024-qc@v1"


def test_shanghais_accident_condition_is_not_asked_of_a_shandong_team() -> None:
    """申报条件 6 is the Shanghai notice's; Shandong's form reports the year's accidents as a figure only."""
    app = application(IN_SD_WINDOW)
    form = shandong_team_form()
    form["metrics"] = form["metrics"] | {"quality_safety_accidents": 1}
    app.submit_entry(shandong_season(ActivityKind.TEAM), None, TeamExperienceForm.model_validate(form),
                     as_unit_of(SD_UNIT["credit_code"]))
