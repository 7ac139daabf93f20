"""The rules of form profiles: which fields each form has, what makes a profile contradict itself, a form
checked against its season's profile, and an organizer's adjustment.

`contradictions` checks a profile against itself and the form models; `problems_of_form` checks a form
against a profile; `adjusted` applies an organizer's adjustment. Each returns problems (field, rule,
message) for the services to refuse with (infra/profile_checks.py, the registration service).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any

from pydantic import BaseModel

from contracts.profiles import (
    FORMS_OF_KIND,
    UNIT_FAMILIES,
    WHOLE_UNITS,
    AttachmentNaming,
    FieldRule,
    FormName,
    FormProfile,
    FormSpec,
    Presence,
    ProfileAdjustment,
    RateMode,
    Unit,
)


# ---------------------------------------------------------------- problems


@dataclass(frozen=True)
class Problem:
    """What is wrong, where, by which rule, in words a user understands."""

    field: str
    rule: str
    message: str


# The platform's forms, by form name: the model and the sub-forms whose fields a profile names one by one.
FORM_MODELS = {
    FormName.REGISTRATION: ("contracts.registered", "UnitRegistrationForm", ("promoter",)),
    FormName.QC_ACHIEVEMENT: ("contracts.submitted", "QcAchievementForm", ()),
    FormName.TEAM_EXPERIENCE: ("contracts.submitted", "TeamExperienceForm", ("metrics", "materials")),
    FormName.RECOMMENDATION: ("contracts.recommended", "RecommendationForm", ()),
    FormName.QC_STATISTICS: ("contracts.filings", "QcStatisticsForm", ()),
    FormName.TEAM_STATISTICS: ("contracts.filings", "TeamStatisticsForm", ()),
    FormName.WORK_SUMMARY: ("contracts.filings", "WorkSummaryForm", ()),
}
# What identifies a unit, an entry or a filing: a profile never leaves these out.
CORE_FIELDS = {
    FormName.REGISTRATION: {"credit_code", "unit_name"},
    FormName.QC_ACHIEVEMENT: {"credit_code", "unit_name", "qc_type", "group_name", "topic"},
    FormName.TEAM_EXPERIENCE: {"credit_code", "unit_name", "team_name", "team_size"},
    FormName.RECOMMENDATION: {"score", "rank"},
    FormName.QC_STATISTICS: {"period"},
    FormName.TEAM_STATISTICS: {"period"},
    FormName.WORK_SUMMARY: {"period"},
}
NOT_PROFILED = frozenset({"kind"})


@cache
def form_model(name: FormName) -> type[BaseModel]:
    module, model, _ = FORM_MODELS[name]
    return getattr(importlib.import_module(module), model)


@cache
def catalogue(name: FormName) -> dict[str, str]:
    """Every field a profile may name on the form, with the model's own title: `metrics.first_pass_rate` …"""
    _, _, nested = FORM_MODELS[name]
    model = form_model(name)
    fields: dict[str, str] = {}
    for field_name, info in model.model_fields.items():
        if field_name in NOT_PROFILED:
            continue
        if field_name in nested:
            inner = _inner_model(info.annotation)
            for inner_name, inner_info in inner.model_fields.items():
                fields[f"{field_name}.{inner_name}"] = inner_info.title or inner_name
            continue
        fields[field_name] = info.title or info.description or field_name
    return fields


def _inner_model(annotation: Any) -> type[BaseModel]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in getattr(annotation, "__args__", ()):
        if isinstance(argument, type) and issubclass(argument, BaseModel):
            return argument
    raise TypeError(f"no model in {annotation}")


def contradictions(profile: FormProfile) -> list[Problem]:
    """Everything that makes a profile contradict itself or the platform's forms; empty when it is sound."""
    problems: list[Problem] = []
    expected = FORMS_OF_KIND[profile.kind]
    for name in profile.forms:
        if name not in expected:
            problems.append(Problem(
                f"forms.{name.value}", "profile.form.kind",
                f"a {profile.kind.label} season has no {name.label}; its forms are "
                + "、".join(item.label for item in expected)))
    entry_form = expected[1]
    if entry_form not in profile.forms:
        problems.append(Problem(f"forms.{entry_form.value}", "profile.form.entry_required",
                                f"a {profile.kind.label} season needs its entry form, the {entry_form.label}"))
    for name, spec in profile.forms.items():
        if name in expected:
            problems.extend(_form_contradictions(name, spec))
    team = profile.forms.get(FormName.TEAM_EXPERIENCE)
    if profile.commitments:
        unknown = [code for code in profile.commitments if code not in _commitment_codes()]
        for code in unknown:
            problems.append(Problem(f"commitments.{code}", "profile.commitments.unknown",
                                    f"the 组织承诺 {code} is not one the 申报表 can hold; known: "
                                    + ", ".join(_commitment_codes())))
        held = team.fields.get("commitments") if team is not None else None
        if team is not None and (held is None or held.presence is Presence.ABSENT):
            problems.append(Problem("commitments", "profile.commitments.form",
                                    "the profile has commitments' texts but its 申报表 has no 组织承诺 field"))
    elif team is not None and (rule := team.fields.get("commitments")) and rule.presence is Presence.REQUIRED:
        problems.append(Problem("commitments", "profile.commitments.text",
                                "the 申报表 requires 组织承诺 but the profile gives no commitments' texts"))
    if team is not None and profile.attachment_naming is AttachmentNaming.SHORT_NAME_AND_TEAM:
        short = team.fields.get("unit_short_name")
        if short is None or short.presence is Presence.ABSENT:
            registration = profile.forms.get(FormName.REGISTRATION)
            registered_short = registration.fields.get("short_name") if registration else None
            if not profile.prior_registration_required or registered_short is None \
                    or registered_short.presence is Presence.ABSENT:
                problems.append(Problem(
                    "attachment_naming", "profile.attachment_naming.short_name",
                    "attachments are named 单位简称+班组名称, but neither the 申报表 nor a prior 报名表 asks for the "
                    "unit's short name"))
    recommendation = profile.forms.get(FormName.RECOMMENDATION)
    declaration = recommendation.fields.get("declaration") if recommendation else None
    if declaration is not None and declaration.presence is Presence.REQUIRED and not profile.declaration_text:
        problems.append(Problem("declaration_text", "profile.declaration.text",
                                "the 推荐表 requires a signed 推荐声明 but the profile gives no declaration text"))
    if profile.prior_registration_required and FormName.REGISTRATION not in profile.forms:
        problems.append(Problem("prior_registration_required", "profile.registration.form",
                                "a prior 报名 is required but the profile has no 报名表"))
    return problems


def _form_contradictions(name: FormName, spec: FormSpec) -> list[Problem]:
    problems: list[Problem] = []
    known = catalogue(name)
    for path in CORE_FIELDS[name]:
        rule = spec.fields.get(path)
        if rule is None or rule.presence is not Presence.REQUIRED:
            problems.append(Problem(f"forms.{name.value}.{path}", "profile.field.core",
                                    f"{known.get(path, path)} identifies what the {name.label} is about: it is "
                                    "always required"))
    for path, rule in spec.fields.items():
        where = f"forms.{name.value}.{path}"
        if path not in known:
            problems.append(Problem(where, "profile.field.unknown",
                                    f"the {name.label} has no field {path}; its fields are " + ", ".join(known)))
            continue
        if rule.rate is None:
            if rule.numerator or rule.denominator:
                problems.append(Problem(where, "profile.rate.figures_without_rate",
                                        f"{rule.label}: a numerator or denominator belongs to a derived rate only"))
            continue
        if rule.unit not in (None, Unit.PERCENT):
            problems.append(Problem(where, "profile.rate.unit",
                                    f"{rule.label} is a rate: its unit is 百分数 (%), not {rule.unit.value}"))
        if rule.rate is RateMode.DERIVED:
            if rule.presence is not Presence.ABSENT:
                problems.append(Problem(where, "profile.rate.derived_typed",
                                        f"{rule.label} is derived by the platform: the form does not ask for it "
                                        "(presence absent), or make it typed"))
            for role, figure in (("numerator", rule.numerator), ("denominator", rule.denominator)):
                if not figure:
                    problems.append(Problem(f"{where}.{role}", f"profile.rate.{role}",
                                            f"{rule.label} is derived: name its {role} (a figure of the form)"))
                    continue
                figure_rule = spec.fields.get(figure)
                if figure not in known or figure_rule is None:
                    problems.append(Problem(f"{where}.{role}", f"profile.rate.{role}",
                                            f"{rule.label}'s {role} {figure} is not a field of the {name.label}"))
                elif figure_rule.presence is not Presence.REQUIRED:
                    problems.append(Problem(f"{where}.{role}", f"profile.rate.{role}",
                                            f"{rule.label} is derived from {figure_rule.label}, which the form must "
                                            f"then require (it is {figure_rule.presence.label})"))
        elif rule.numerator or rule.denominator:
            problems.append(Problem(where, "profile.rate.typed_with_figures",
                                    f"{rule.label} is typed in: it has no numerator or denominator"))
    for path, rule in spec.fields.items():
        if rule.unit is None or rule.rate is not None or path not in known:
            continue
        family = _unit_family(path)
        if rule.unit not in family:
            problems.append(Problem(f"forms.{name.value}.{path}", "profile.field.unit",
                                    f"{rule.label} cannot be counted in {rule.unit.value}; it takes "
                                    + " or ".join(sorted(item.value for item in family))))
    return problems


# Which fields hold money or hours; rates are named …_rate; every other figure is a count.
_MONEY_FIELDS = {"economic_benefit_cumulative", "economic_benefit", "funding", "rewards", "metrics.quality_cost"}
_HOUR_FIELDS = {"metrics.training_hours"}


def _unit_family(path: str) -> frozenset[Unit]:
    if path in _MONEY_FIELDS:
        return UNIT_FAMILIES[1]
    if path in _HOUR_FIELDS:
        return UNIT_FAMILIES[2]
    if path.endswith("_rate") or path.startswith("metrics.") and path.endswith("rate"):
        return UNIT_FAMILIES[3]
    return UNIT_FAMILIES[0]


@cache
def _commitment_codes() -> tuple[str, ...]:
    from contracts.submitted import Commitments  # the entry forms import this module's neighbours

    return tuple(Commitments.model_fields)


# ---------------------------------------------------------------- a form against its profile


def _value_at(form: BaseModel, path: str) -> Any:
    value: Any = form
    for part in path.split("."):
        if value is None:
            return None
        value = getattr(value, part, None)
    return value


def _given(value: Any) -> bool:
    """A value the form holds: an unticked box (False) and 0 are given; None and empty text or lists are not."""
    if value is None:
        return False
    if isinstance(value, (list, dict, str)):
        return bool(value)
    return True


def problems_of_form(profile: FormProfile, name: FormName, form: BaseModel) -> list[Problem]:
    """The form against the season's profile: what is missing, what the form does not ask for, units, rates."""
    spec = profile.forms.get(name)
    if spec is None:
        return [Problem("form", "profile.form.not_offered",
                        f"the season's forms ({profile.title}) have no {name.label}")]
    problems: list[Problem] = []
    where = f"{spec.title}（{profile.profile_id} v{profile.version}）"
    for path, rule in spec.fields.items():
        value = _value_at(form, path)
        if rule.rate is RateMode.DERIVED:
            if _given(value):
                problems.append(Problem(path, "stats.rate.derived",
                                        f"{rule.label} is computed by the platform ({rule.formula or 'from its figures'})"
                                        f"; leave out {path}"))
            continue
        if rule.presence is Presence.REQUIRED and not _given(value):
            problems.append(Problem(path, "profile.field.required", f"{rule.label} is required on the {where}"))
        elif rule.presence is Presence.ABSENT and _given(value):
            problems.append(Problem(path, "profile.field.absent",
                                    f"{rule.label} is not on the {where}; leave out {path}"))
        if _given(value) and rule.unit in WHOLE_UNITS and isinstance(value, Decimal) and value != value.to_integral():
            problems.append(Problem(path, "profile.field.unit.whole",
                                    f"{rule.label} is counted in {rule.unit.value}: a whole number, not {value}"))
        if rule.choices is not None and isinstance(value, list):
            for position, item in enumerate(value):
                if str(item) not in rule.choices:
                    label = getattr(item, "label", str(item))
                    problems.append(Problem(f"{path}.{position}", "profile.field.choice",
                                            f"{rule.label} offers " + "、".join(rule.choices) + f", not {label}"))
    return problems



# ---------------------------------------------------------------- adjusting a profile


def adjusted(current: FormProfile, adjustment: ProfileAdjustment, season_id: str,
             start: FormProfile | None = None) -> tuple[FormProfile, list[Problem]]:
    """The season's profile after the organizer's adjustment, in its next version, and what contradicts itself.

    The result is named after the season (`profile_id` = the season's id) and remembers the built-in profile it
    started from; the problems are those of the adjustment itself (a field listed twice, unknown fields) and then
    every contradiction of the resulting profile."""
    base = start or current
    problems: list[Problem] = []
    listed = {"require": Presence.REQUIRED, "make_optional": Presence.OPTIONAL, "make_absent": Presence.ABSENT}
    wanted: dict[str, tuple[str, Presence]] = {}
    for list_name, presence in listed.items():
        for path in getattr(adjustment, list_name):
            if path in wanted and wanted[path][1] is not presence:
                problems.append(Problem(
                    f"{list_name}", "profile.field.presence.conflict",
                    f"{path} is listed both in {wanted[path][0]} ({wanted[path][1].label}) and in {list_name} "
                    f"({presence.label}): a field is one of 必填, 选填 or 表上没有"))
            wanted.setdefault(path, (list_name, presence))
    forms = dict(base.forms)
    if wanted or adjustment.fields:
        if adjustment.form is None:
            problems.append(Problem("form", "profile.adjustment.form",
                                    "name the form whose fields change (registration, team_experience, qc_statistics …)"))
        elif adjustment.form not in forms:
            problems.append(Problem("form", "profile.form.not_offered",
                                    f"the season's forms ({base.title}) have no {adjustment.form.label}"))
        else:
            spec = forms[adjustment.form]
            fields = dict(spec.fields)
            known = catalogue(adjustment.form)
            for path in [*wanted, *adjustment.fields]:
                if path not in fields and path not in known:
                    problems.append(Problem(path, "profile.field.unknown",
                                            f"the {adjustment.form.label} has no field {path}"))
            for path, (_, presence) in wanted.items():
                if path in fields:
                    fields[path] = fields[path].model_copy(update={"presence": presence})
                elif path in known:
                    fields[path] = FieldRule(presence=presence, label=known[path])
            for path, change in adjustment.fields.items():
                if path not in fields and path not in known:
                    continue
                rule = fields.get(path) or FieldRule(presence=Presence.OPTIONAL, label=known[path])
                fields[path] = rule.model_copy(update=change.model_dump(exclude_unset=True))
            forms[adjustment.form] = spec.model_copy(update={"fields": fields})
    texts = adjustment.model_dump(
        include={"commitments", "declaration_text", "attachment_naming", "direct_channel_name",
                 "prior_registration_required"},
        exclude_unset=True,
    )
    own_id = season_id.lower()
    version = current.version + 1 if current.profile_id == own_id else 1
    built_in = current.ref if current.profile_id != own_id else current.based_on
    if start is not None:
        built_in = start.based_on or start.ref
    result = FormProfile.model_validate(
        base.model_dump() | texts | {
            "forms": {name: spec.model_dump() for name, spec in forms.items()},
            "profile_id": own_id, "version": version,
            "based_on": built_in.model_dump() if built_in else None,
        }
    )
    return result, problems + ([] if problems else contradictions(result))
