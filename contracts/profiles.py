"""Form profiles: the forms a season asks for (报名表, 申报表, 推荐表, 统计表, 工作总结), field by field, versioned.

Each province prints its own forms (the seeds show Shanghai's and Shandong's side by side). A profile
says, for every field of the platform's form models, whether the season's form asks for it (required,
optional or absent), its label as printed, its unit (个 or 万个, 人次 or 个 …) and, for a rate, whether it
is typed in or derived from a numerator and a denominator. It also carries the season's texts: the
organization's commitments (组织承诺), the 推荐表's declaration (推荐声明), the attachment naming rule, the
direct channel's name, and whether a unit must have registered (报名) before it submits.

The form models (contracts.submitted, contracts.registered, contracts.recommended) hold the union of the
provinces' fields; the profile decides which of them a season's form has. `problems_of_form` checks a
form against a profile; `contradictions` checks a profile against itself and the form models. Both
return problems (field, rule, message) for the services to refuse with. Built-in profiles, taken from
the seeds, are in contracts.builtin_profiles.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, SerializerFunctionWrapHandler, StringConstraints, model_serializer

from contracts.codes import ActivityKind, LabelledEnum
from contracts.common import Payload
from contracts.registry import contract

FAMILY = "registered"

ProfileId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]{1,63}$")]
FieldPath = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,59}(\.[a-z][a-z0-9_]{0,59})?$")]
Label = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class Presence(LabelledEnum):
    REQUIRED = "required", "必填"
    OPTIONAL = "optional", "选填"
    ABSENT = "absent", "表上没有"


class RateMode(LabelledEnum):
    TYPED = "typed", "填报（百分数）"
    DERIVED = "derived", "由平台按公式计算"


class Unit(LabelledEnum):
    """Units the forms print beside a figure."""

    PIECES = "个", "个"
    TEN_THOUSAND_PIECES = "万个", "万个"
    PERSON_TIMES = "人次", "人次"
    PERSONS = "人", "人"
    TIMES = "次", "次"
    TIMES_AND_PERSONS = "次、个", "次、个"
    TEN_THOUSAND_YUAN = "万元", "万元"
    TEN_THOUSAND_YUAN_PER_YEAR = "万元/年", "万元/年"
    HOURS = "小时", "小时"
    PERCENT = "%", "百分数"


# Whole counts: a figure in these units is a whole number; in 万个 it may have up to 4 decimal places.
WHOLE_UNITS = frozenset({Unit.PIECES, Unit.PERSON_TIMES, Unit.PERSONS, Unit.TIMES, Unit.TIMES_AND_PERSONS})
# Which units a figure may be given in: counts of groups in 个 or 万个, of people in 人次, 人 or 个 …
UNIT_FAMILIES = (
    frozenset({Unit.PIECES, Unit.TEN_THOUSAND_PIECES, Unit.PERSON_TIMES, Unit.PERSONS, Unit.TIMES,
               Unit.TIMES_AND_PERSONS}),
    frozenset({Unit.TEN_THOUSAND_YUAN, Unit.TEN_THOUSAND_YUAN_PER_YEAR}),
    frozenset({Unit.HOURS}),
    frozenset({Unit.PERCENT}),
)


class FormName(LabelledEnum):
    REGISTRATION = "registration", "报名表"
    QC_ACHIEVEMENT = "qc_achievement", "质量管理小组成果申报表"
    TEAM_EXPERIENCE = "team_experience", "质量信得过班组申报表"
    RECOMMENDATION = "recommendation", "推荐表"
    QC_STATISTICS = "qc_statistics", "质量管理小组活动统计表"
    TEAM_STATISTICS = "team_statistics", "质量信得过班组活动统计表"
    WORK_SUMMARY = "work_summary", "推进工作总结"


# The forms of each kind of season; the entry and statistics forms follow the kind.
FORMS_OF_KIND = {
    ActivityKind.QC_GROUP: (FormName.REGISTRATION, FormName.QC_ACHIEVEMENT, FormName.RECOMMENDATION,
                            FormName.QC_STATISTICS, FormName.WORK_SUMMARY),
    ActivityKind.TEAM: (FormName.REGISTRATION, FormName.TEAM_EXPERIENCE, FormName.RECOMMENDATION,
                        FormName.TEAM_STATISTICS, FormName.WORK_SUMMARY),
}


class AttachmentNaming(LabelledEnum):
    SHORT_NAME_AND_TEAM = "short_name_and_team", "单位简称+班组名称"
    FREE = "free", "不限"


class FieldRule(Payload):
    """One field of a form as the season's form prints it."""

    presence: Presence
    label: Label
    unit: Unit | None = None
    rate: RateMode | None = Field(default=None, description="for a rate: typed in, or derived from two figures")
    numerator: FieldPath | None = Field(default=None, description="a derived rate's numerator (a field of the form)")
    denominator: FieldPath | None = Field(default=None, description="a derived rate's denominator")
    formula: str | None = Field(default=None, max_length=300, description="the formula as printed beside the rate")
    choices: list[Annotated[str, StringConstraints(max_length=40)]] | None = Field(
        default=None, max_length=30, description="the boxes the form prints, when it prints fewer than the codes",
    )


class FormSpec(Payload):
    """One form of the season: its title as printed and its fields."""

    title: Label
    fields: dict[FieldPath, FieldRule] = Field(max_length=200)


class ProfileRef(Payload):
    """Which profile, in which version: what a season declares and what an entry was validated against."""

    profile_id: ProfileId
    version: int = Field(ge=1, le=10_000)

    @property
    def key(self) -> str:
        return f"{self.profile_id}@v{self.version}"


class ProfileStamped(Payload):
    """An event that keeps the form profile its form was validated against; events stored before profiles have
    none (their season's was Shanghai's), and a payload without one serializes as it did before."""

    profile: ProfileRef | None = Field(
        default=None, description="the form profile the form was validated against; none before profiles (Shanghai's)"
    )

    @model_serializer(mode="wrap")
    def _without_empty_profile(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        if isinstance(data, dict) and data.get("profile") is None:
            data.pop("profile", None)
        return data


class FormProfile(Payload):
    """A season's forms and texts."""

    profile_id: ProfileId
    version: int = Field(ge=1, le=10_000)
    title: Label
    kind: ActivityKind
    based_on: ProfileRef | None = Field(default=None, description="the built-in profile an organizer adjusted")
    sources: list[Annotated[str, StringConstraints(max_length=300)]] = Field(default_factory=list, max_length=20)
    forms: dict[FormName, FormSpec]
    commitments: dict[Annotated[str, StringConstraints(max_length=40)], Label] = Field(
        default_factory=dict, description="组织承诺 by commitment code; empty when the form prints none",
    )
    declaration_text: str | None = Field(
        default=None, max_length=2000, description="推荐声明 as printed on the 推荐表; none when the form prints none",
    )
    attachment_naming: AttachmentNaming = AttachmentNaming.FREE
    direct_channel_name: str | None = Field(
        default=None, max_length=100, description="the direct channel's name, when the season has one",
    )
    prior_registration_required: bool = Field(description="a unit registers (报名) before it submits")

    @property
    def ref(self) -> ProfileRef:
        return ProfileRef(profile_id=self.profile_id, version=self.version)

    def form(self, name: FormName) -> FormSpec | None:
        return self.forms.get(name)

    def rule(self, name: FormName, path: str) -> FieldRule | None:
        spec = self.forms.get(name)
        return spec.fields.get(path) if spec else None

    def requires(self, name: FormName, path: str) -> bool:
        """The season's form asks for the field and it must be filled in."""
        rule = self.rule(name, path)
        return rule is not None and rule.presence is Presence.REQUIRED

    def label(self, name: FormName, path: str, default: str | None = None) -> str:
        rule = self.rule(name, path)
        return rule.label if rule else (default or path)


# ---------------------------------------------------------------- the organizer's adjustment


class FieldChange(Payload):
    """What an organizer changes of one field: any of presence, label, unit, rate and its figures."""

    presence: Presence | None = None
    label: Label | None = None
    unit: Unit | None = None
    rate: RateMode | None = None
    numerator: FieldPath | None = None
    denominator: FieldPath | None = None
    formula: str | None = Field(default=None, max_length=300)


class ProfileAdjustment(Payload):
    """An organizer's change to the season's profile: start from the current one (or a built-in), change
    fields and texts. `require`, `make_optional` and `make_absent` list fields by form; `fields` changes
    labels, units and rates. A field named in two of the lists contradicts itself and is refused."""

    start_from: ProfileRef | None = Field(default=None, description="a built-in profile; the season's current one if left out")
    form: FormName | None = Field(default=None, description="the form the field lists and changes apply to")
    require: list[FieldPath] = Field(default_factory=list, max_length=100)
    make_optional: list[FieldPath] = Field(default_factory=list, max_length=100)
    make_absent: list[FieldPath] = Field(default_factory=list, max_length=100)
    fields: dict[FieldPath, FieldChange] = Field(default_factory=dict, max_length=100)
    commitments: dict[Annotated[str, StringConstraints(max_length=40)], Label] | None = None
    declaration_text: str | None = Field(default=None, max_length=2000)
    attachment_naming: AttachmentNaming | None = None
    direct_channel_name: str | None = Field(default=None, max_length=100)
    prior_registration_required: bool | None = None
    reason: str = Field(min_length=2, max_length=500, title="调整原因")


@contract("SeasonProfileAdjusted", family=FAMILY, version=1)
class SeasonProfileAdjusted(Payload):
    """The organizer adjusted the season's forms: the whole resulting profile, in its new version."""

    season_id: str
    profile: FormProfile
    previous: ProfileRef
    reason: str = Field(min_length=2, max_length=500)
