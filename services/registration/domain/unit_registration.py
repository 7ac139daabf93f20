"""A unit's registration (报名) for a season: registering again amends it; the form's rules."""

from __future__ import annotations

import re
from typing import Any, cast
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from contracts.builtin_profiles import builtin_profile, default_profile_ref
from contracts.codes import ActivityKind, KeyIndustry, RegistrationIntent, UnitNature
from contracts.profiles import FormName, FormProfile
from contracts.identity import stable_uuid
from contracts.registered import UnitRegistered, UnitRegistrationForm
from infra.errors import Conflict, RuleViolation
from infra.profile_checks import check_against_profile
from infra.events import current

# Characters a name on a seal (公章) never shows: whitespace and the separators people use to
# put a parent unit in front of their own ("XX集团-XX公司", "XX集团/XX厂", "XX局 | XX站").
PARENT_SEPARATORS = re.compile(r"[\s\-‐‑–—―/／\\|｜>＞→]")
HAN = re.compile(r"[\u4e00-\u9fff]")


def unit_registration_id(season_id: str, credit_code: str) -> UUID:
    return stable_uuid("unit-registration", season_id, credit_code)


class UnitRegistration(Aggregate):
    """One per unit and season, keyed by the unified social credit code."""

    @staticmethod
    def create_id(payload: dict[str, Any], meta: dict[str, Any]) -> UUID:  # noqa: ARG004
        return unit_registration_id(payload["season_id"], payload["credit_code"])

    @event("UnitRegistered")
    def __init__(self, payload: dict[str, Any], meta: dict[str, Any]) -> None:
        form = cast(UnitRegistered, current("UnitRegistered", payload, meta))
        self.season_id: str = form.season_id
        self.credit_code: str = form.credit_code
        self.form: dict[str, Any] = form.model_dump(mode="json")

    @event("UnitRegistrationAmended")
    def amend(self, payload: dict[str, Any], meta: dict[str, Any]) -> None:
        self.form = current("UnitRegistrationAmended", payload, meta).model_dump(mode="json")


def check_form(form: UnitRegistrationForm, profile: FormProfile | None = None) -> None:
    """The rules of the 报名表 that need nothing but the form itself, then the season's 报名表 (its profile)."""
    profile = profile or builtin_profile(default_profile_ref(ActivityKind.QC_GROUP))
    assert profile is not None
    if profile.form(FormName.REGISTRATION) is None:
        raise Conflict(
            "season_id", "registration.not_offered",
            f"the season's forms ({profile.title}) have no 报名表: units submit their entries without a prior 报名",
        )
    check_unit_name(form)
    _other_text(
        ticked=form.unit_nature is UnitNature.OTHER,
        text=form.unit_nature_other,
        field="unit_nature_other",
        rule="registration.unit_nature_other",
        what="单位性质",
    )
    for position, industry in enumerate(form.key_industries):
        if industry in form.key_industries[:position]:
            raise RuleViolation(
                f"key_industries.{position}",
                "registration.key_industries.duplicate",
                f"重点产业 {industry.label} is ticked twice",
            )
    _other_text(
        ticked=KeyIndustry.OTHER in form.key_industries,
        text=form.key_industry_other,
        field="key_industry_other",
        rule="registration.key_industry_other",
        what="重点产业",
    )
    for position, intent in enumerate(form.intents):
        if intent in form.intents[:position]:
            raise RuleViolation(
                f"intents.{position}", "registration.intents.duplicate", f"申报意向 {intent.label} is ticked twice"
            )
    if {RegistrationIntent.FIRST_TIME_NO_SUBMISSION, RegistrationIntent.CONTINUING_NO_SUBMISSION} <= set(form.intents):
        raise RuleViolation(
            "intents",
            "registration.intents.first_or_continuing",
            "a unit takes part either for the first time (首次参加) or continuing (持续参加), not both",
        )
    if profile.requires(FormName.REGISTRATION, "managing_department") and not form.managing_department:
        raise RuleViolation(
            "managing_department",
            "registration.managing_department.required",
            "活动归口管理部门 (the department managing the activity) is required",
        )
    if profile.requires(FormName.REGISTRATION, "promoter.department") and not form.promoter.department:
        raise RuleViolation(
            "promoter.department",
            "registration.promoter.department.required",
            "活动推进者 部门 (the promoter's department) is required",
        )
    if profile.requires(FormName.REGISTRATION, "promoter.title") and not form.promoter.title:
        raise RuleViolation(
            "promoter.title", "registration.promoter.title.required", "活动推进者 职务 (the promoter's title) is required"
        )
    check_against_profile(profile, FormName.REGISTRATION, form)


def check_unit_name(form: UnitRegistrationForm) -> None:
    """单位名称: the full name as on the seal, without a parent unit in front.

    What can be checked without the business register: a seal name is written in Chinese
    characters (企业名称应当使用规范汉字) and has no spaces or separators; whether the words before
    the unit's own name belong to the legal name (as in a branch: XX股份有限公司上海分公司) cannot be
    told from the text and is left to the seal check of the formal review.
    """
    name = form.unit_name
    if not HAN.search(name):
        raise RuleViolation(
            "unit_name",
            "registration.unit_name.han",
            "单位名称 is the full name as on the unit's seal (公章), written in Chinese characters",
        )
    separator = PARENT_SEPARATORS.search(name)
    if separator:
        shown = "a space" if separator.group().isspace() else f"“{separator.group()}”"
        raise RuleViolation(
            "unit_name",
            "registration.unit_name.no_parent_prefix",
            f"单位名称 must be the full name exactly as on the seal, without a parent unit in front "
            f"(不要挂上级单位); it contains {shown}, which a seal name never has",
        )
    if form.short_name is not None and (len(form.short_name) >= len(name) or form.short_name == name):
        raise RuleViolation(
            "short_name",
            "registration.short_name.not_shorter",
            "单位简称 (the short name) must be shorter than the full name",
        )


def _other_text(*, ticked: bool, text: str | None, field: str, rule: str, what: str) -> None:
    if ticked and not text:
        raise RuleViolation(field, f"{rule}.required", f"{what} 其他 is ticked: write what it is in {field}")
    if text and not ticked:
        raise RuleViolation(
            field, f"{rule}.without_other", f"{field} is only filled in when {what} 其他 is ticked; tick it or leave the text out"
        )
