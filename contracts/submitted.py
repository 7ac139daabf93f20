"""The `submitted` family: entries and what recommending units file.

Entries are QC group achievements (质量管理小组成果, T/CAQ10201-2020) and quality-trustworthy team
building experiences (质量信得过班组建设经验, T/CAQ 10204-2017, the 班组申报表 of the 2024 Shanghai
notice); a unit confirms an entry through 单位通道 as an event of its own. What recommending units
file (the statistics tables and the work summary) is the family's too, in `contracts.filings`.

The payload models carry the shape of each event: types, codes and formats (a percentage is a
number in 0–100, a count a whole number from 0, money an exact decimal in 万元, an attachment a
file's metadata); a format refusal's error type names its rule (e.g. `metric.percentage`). The
rules that relate fields to each other or to what is stored (team names, eligibility, commitments,
bounds between figures, windows, registrations) are the submission service's domain
(services/submission/domain), so a rule added later never makes an old event unreadable.
"""

from __future__ import annotations

from abc import abstractmethod

import re
from datetime import date
from decimal import Decimal
from pathlib import PurePosixPath
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from contracts.codes import ActivityKind, KeyDomain, KeyIndustry, LabelledEnum, QcAchievementType, UnitNature
from contracts.common import ContactPerson, Payload, decimal_schema
from contracts.identity import CreditCode, Mobile, Phone, Postcode
from contracts.profiles import ProfileStamped
from contracts.registered import RecommenderId
from contracts.registry import contract

FAMILY = "submitted"

MAX_COUNT = 10**9
MAX_ATTACHMENT_BYTES = 500 * 1024 * 1024


def refused(rule: str, message: str, *locations: tuple[str | int, ...], value: Any = None) -> ValidationError:
    """A refusal naming the rule (the error type) at one or more fields, from inside a model validator."""
    return ValidationError.from_exception_data(
        "refused",
        [
            InitErrorDetails(
                type=PydanticCustomError(rule, "{message}", {"message": message}),
                loc=location,
                input=value,
            )
            for location in (locations or ((),))
        ],
    )


# ---------------------------------------------------------------- values the forms ask for


def _percentage(value: Decimal) -> Decimal:
    if not value.is_finite() or not Decimal(0) <= value <= Decimal(100):
        raise PydanticCustomError(
            "metric.percentage", "a percentage lies in 0–100 (e.g. 98.5 for 98.5 %); {value} does not",
            {"value": str(value)},
        )
    if value.as_tuple().exponent < -4:  # type: ignore[operator]
        raise PydanticCustomError("metric.precision", "at most 4 decimal places, {value} has more", {"value": str(value)})
    return value


def _amount(value: Decimal) -> Decimal:
    if not value.is_finite() or value < 0 or value >= Decimal(10) ** 12:
        raise PydanticCustomError(
            "metric.amount", "an amount is a number from 0 up (万元 or hours as the form says); {value} is not",
            {"value": str(value)},
        )
    if value.as_tuple().exponent < -4:  # type: ignore[operator]
        raise PydanticCustomError("metric.precision", "at most 4 decimal places, {value} has more", {"value": str(value)})
    return value


def _whole_count(value: Any) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
        raise PydanticCustomError(
            "metric.count", "a count is a whole number, not negative (0, 1, 2 …); {value} is not",
            {"value": str(value)},
        )
    return value


def _count_or_tens_of_thousands(value: Any) -> Any:
    """A count of groups: whole in 个, or in 万个 with up to 4 decimal places (the season's profile says which)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return _whole_count(value)
    if isinstance(value, (str, float, Decimal)) and not isinstance(value, bool):
        try:
            number = Decimal(str(value))
        except ArithmeticError:
            number = None
        if number is not None and number.is_finite() and 0 <= number <= MAX_COUNT:
            if number == number.to_integral_value() and "." not in str(value):
                return int(number)
            if number.as_tuple().exponent < -4:  # type: ignore[operator]
                raise PydanticCustomError("metric.precision", "at most 4 decimal places, {value} has more",
                                          {"value": str(value)})
            return number
    raise PydanticCustomError(
        "metric.count", "a count is a number, not negative: whole in 个, or in 万个 (e.g. 1.285); {value} is not",
        {"value": str(value)},
    )


# The bounds and decimal places are checked by the validators (with rule ids of their own); the schemas say them.
Percentage = Annotated[Decimal, AfterValidator(_percentage), decimal_schema(
    {"minimum": 0, "maximum": 100}, r"^(100(\.0{0,4})?|[0-9]{1,2}(\.[0-9]{0,4})?)$", **{"x-unit": "%"})]
Count = Annotated[int, BeforeValidator(_whole_count), Field(json_schema_extra={"minimum": 0, "maximum": MAX_COUNT})]
Amount = Annotated[Decimal, AfterValidator(_amount), decimal_schema(
    {"minimum": 0, "exclusiveMaximum": 10**12}, r"^[0-9]{1,12}(\.[0-9]{0,4})?$")]
GroupCount = Annotated[int | Decimal, BeforeValidator(_count_or_tens_of_thousands), WithJsonSchema({"anyOf": [
    {"type": "integer", "minimum": 0, "maximum": MAX_COUNT},
    {"type": "number", "minimum": 0, "maximum": MAX_COUNT},
    {"type": "string", "pattern": r"^[0-9]{1,9}(\.[0-9]{0,4})?$"},
]})]
Text = Annotated[str, Field(min_length=1, max_length=20_000)]


class EntryStatus(LabelledEnum):
    SUBMITTED = "submitted", "已申报"
    CONFIRMED = "confirmed", "单位已确认"
    WITHDRAWN = "withdrawn", "已撤回"


class AttachmentPurpose(LabelledEnum):
    APPLICATION_FORM = "application_form", "申报表"
    SEALED_FORM = "sealed_form", "申报表（加盖公章）"
    REPORT = "report", "成果报告 / 班组创建材料"
    VIDEO = "video", "发表视频"
    OTHER = "other", "其他"


# What the forms ask for: PDF (sealed forms), Word (forms and reports), slides and video (presentations).
MEDIA_TYPES = {
    ".pdf": "application/pdf",
    ".doc": "application/msword",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".ppt": "application/vnd.ms-powerpoint",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".mp4": "video/mp4",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
}


def _file_name_pattern() -> str:
    """A plain file name with one of the extensions taken, in any case (JSON Schema patterns have no flags)."""
    extensions = "|".join("".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in ext[1:])
                          for ext in MEDIA_TYPES)
    return rf"^[^/\\\x00-\x1f\x7f]+\.({extensions})$"


class Attachment(Payload):
    """A file's metadata only: the platform keeps no files, it records what was handed in."""

    purpose: AttachmentPurpose = Field(title="附件用途")
    file_name: str = Field(min_length=1, max_length=255, title="附件名称", json_schema_extra={
        "pattern": _file_name_pattern()})
    size_bytes: int = Field(ge=1, le=MAX_ATTACHMENT_BYTES, title="大小（字节）")
    media_type: str = Field(max_length=120, title="文件类型", json_schema_extra={"enum": sorted(set(MEDIA_TYPES.values()))})
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", title="SHA-256")

    @field_validator("sha256", mode="before")
    @classmethod
    def lower_hex(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("file_name")
    @classmethod
    def plain_file_name(cls, value: str) -> str:
        if re.search(r"[/\\\x00-\x1f]", value) or value in {".", ".."}:
            raise PydanticCustomError("attachment.file_name", "a file name has no folders or control characters")
        if PurePosixPath(value).suffix.lower() not in MEDIA_TYPES:
            raise PydanticCustomError(
                "attachment.extension", "the file must be one of {allowed}", {"allowed": " ".join(MEDIA_TYPES)}
            )
        return value

    @model_validator(mode="after")
    def media_type_matches(self) -> "Attachment":
        expected = MEDIA_TYPES[self.extension]
        if self.media_type.lower() != expected:
            raise refused(
                "attachment.media_type",
                f"a {self.extension} file has media type {expected}, not {self.media_type}",
                ("media_type",),
                value=self.media_type,
            )
        return self

    @property
    def extension(self) -> str:
        return PurePosixPath(self.file_name).suffix.lower()

    @property
    def stem(self) -> str:
        return self.file_name[: -len(self.extension)]


class EntryForm(Payload):
    """What every entry names: the unit (as on its seal) and its recommending unit."""

    credit_code: CreditCode = Field(title="统一社会信用代码")
    unit_name: str = Field(min_length=2, max_length=100, title="单位名称（与公章一致，写全称，不挂上级部门）")
    recommender_id: RecommenderId | None = Field(
        default=None, title="推荐单位（各区/行业/集团）",
        description="the recommending unit the unit registered with; taken from the registration when left out",
    )

    @abstractmethod
    def natural_key(self) -> tuple[str, ...]:
        """What makes two entries of one season the same entry."""

    @property
    @abstractmethod
    def display_name(self) -> str:
        """The group's or team's name as printed on certificates."""


# ---------------------------------------------------------------- QC group achievement


class QcMemberRole(LabelledEnum):
    LEADER = "leader", "组长"
    DEPUTY_LEADER = "deputy_leader", "副组长"
    MEMBER = "member", "组员"
    ADVISOR = "advisor", "顾问"


class Gender(LabelledEnum):
    MALE = "male", "男"
    FEMALE = "female", "女"


class QcGroupMember(Payload):
    name: str = Field(min_length=1, max_length=50, title="姓名")
    role: QcMemberRole = Field(title="组内职务")
    gender: Gender | None = Field(default=None, title="性别")
    job_title: str | None = Field(default=None, max_length=50, title="职务/职称")


class QcAchievementForm(EntryForm):
    """质量管理小组成果 (T/CAQ10201-2020): the group, its topic (问题解决型 or 创新型), members and report."""

    kind: Literal[ActivityKind.QC_GROUP] = ActivityKind.QC_GROUP
    qc_type: QcAchievementType = Field(title="课题类型")
    group_name: str = Field(min_length=1, max_length=100, title="小组名称")
    group_registration_no: str | None = Field(default=None, max_length=50, title="小组注册号")
    topic: str = Field(min_length=2, max_length=200, title="课题名称")
    members: list[QcGroupMember] = Field(min_length=1, max_length=100, title="小组成员")
    contact: ContactPerson | None = Field(default=None, title="联系人")
    attachments: list[Attachment] = Field(max_length=20, title="附件")

    def natural_key(self) -> tuple[str, ...]:
        return (self.kind.value, self.group_name, self.topic)

    @property
    def display_name(self) -> str:
        return f"{self.group_name}《{self.topic}》"


# ---------------------------------------------------------------- quality-trustworthy team


class TeamMetrics(Payload):
    """The 班组申报表's figures, as entered: percentages 0–100, counts whole, 质量成本 in 万元/年."""

    work_completion_rate: Percentage = Field(title="班组工作完成率%")
    quality_assessment_pass_rate: Percentage = Field(title="质量考核合格率%")
    nonconformity_rate: Percentage = Field(title="产品/服务不合格率%")
    first_pass_rate: Percentage = Field(title="产品/服务一次合格率")
    quality_safety_accidents: Count = Field(title="年质量、安全事故数")
    customer_complaints: Count = Field(title="年顾客投诉数")
    trained_persons: Count = Field(title="年培训人数")
    training_hours: Amount = Field(title="年培训时数")
    improvement_participation_rate: Percentage = Field(title="成员参与改进活动率%")
    team_building_coverage_rate: Percentage | None = Field(default=None, title="质量信得过班组创建普及率")
    quality_cost: Amount = Field(title="质量成本（万元/年）")


class AccidentsLastThreeYears(Payload):
    """申报条件 6: 班组近三年无质量、安全、环保事故 — the counts, so that the condition can be checked."""

    quality: Count = Field(title="近三年质量事故数")
    safety: Count = Field(title="近三年安全事故数")
    environmental: Count = Field(title="近三年环保事故数")


COMMITMENTS = {
    "voluntary": "自愿参加本年度上海市“质量信得过班组”活动",
    "follows_standard": "推行《质量信得过班组建设准则》(T/CAQ10204-2017)",
    "authentic": "提交所有材料均真实、合法、有效，不存在剽窃他人活动成果、侵犯他人知识产权、伪造材料等不端及失信行为",
    "no_state_secrets": "申报建设经验内容不含《中华人民共和国保守国家秘密法》所规定的涉密内容",
}


class Commitments(Payload):
    """组织承诺 (all four are required to submit)."""

    voluntary: bool = Field(title=COMMITMENTS["voluntary"])
    follows_standard: bool = Field(title=COMMITMENTS["follows_standard"])
    authentic: bool = Field(title=COMMITMENTS["authentic"])
    no_state_secrets: bool = Field(title=COMMITMENTS["no_state_secrets"])


MATERIAL_SECTIONS = {
    "composition_duties_culture": "班组人员组成，班组职责，主要工作内容、班组文化和愿景",
    "basic_management": "班组基础管理情况",
    "skills_and_tools": "班组成员专业知识、技能培训、工具方法应用能力",
    "improvement_and_innovation": "班组质量改进和创新能力",
    "features_and_results": "班组管理特色、业绩和评价结果",
    "honours_last_three_years": "近三年取得荣誉情况，包括班组集体和个人荣誉等",
}


class TeamMaterials(Payload):
    """质量信得过班组主要创建材料: the six sections of the 申报表's note 2."""

    composition_duties_culture: Text = Field(title=MATERIAL_SECTIONS["composition_duties_culture"])
    basic_management: Text = Field(title=MATERIAL_SECTIONS["basic_management"])
    skills_and_tools: Text = Field(title=MATERIAL_SECTIONS["skills_and_tools"])
    improvement_and_innovation: Text = Field(title=MATERIAL_SECTIONS["improvement_and_innovation"])
    features_and_results: Text = Field(title=MATERIAL_SECTIONS["features_and_results"])
    honours_last_three_years: Text = Field(title=MATERIAL_SECTIONS["honours_last_three_years"])


class TeamExperienceForm(EntryForm):
    """质量信得过班组建设活动申报表 (2024 Shanghai, 附件3; Shandong 附件4). The fields are the provinces' forms
    together; the season's profile (contracts.profiles) says which of them its form asks for."""

    kind: Literal[ActivityKind.TEAM] = ActivityKind.TEAM
    number: str | None = Field(default=None, max_length=30, title="编号")
    unit_short_name: str | None = Field(
        default=None, min_length=1, max_length=30, title="单位简称",
        description="names the attachments (单位简称+班组名称) when the registration gives none",
    )
    member: bool | None = Field(default=None, title="会员单位")
    unit_nature: UnitNature | None = Field(default=None, title="单位性质")
    unit_nature_other: str | None = Field(default=None, max_length=50, title="单位性质（其他）")
    key_industries: list[KeyIndustry] = Field(default_factory=list, max_length=30, title="重点产业（可多选）")
    key_industry_other: str | None = Field(default=None, max_length=100, title="重点产业（其他）")
    key_domain: KeyDomain | None = Field(default=None, title="重点领域（单选）")
    team_name: str = Field(min_length=2, max_length=100, title="质量信得过班组名称")
    team_type: str | None = Field(
        default=None, min_length=1, max_length=50, title="班组类型",
        description="a unit's 2–3 entries are of different team types (推荐要求 2); the sources list no types",
    )
    team_leader: str | None = Field(default=None, max_length=50, title="班组长")
    team_size: Count = Field(ge=1, json_schema_extra={"minimum": 1}, title="班组人数")
    address: str = Field(min_length=2, max_length=200, title="详细地址")
    postcode: Postcode = Field(title="邮编")
    managing_department: str = Field(min_length=1, max_length=100, title="活动归口管理部门")
    promoter: ContactPerson | None = Field(default=None, title="活动推进者（姓名、部门及职务、手机、E-mail）")
    contact_name: str | None = Field(default=None, min_length=1, max_length=50, title="直接联系人")
    contact_mobile: Mobile | None = Field(default=None, title="手机")
    contact_phone: Phone | None = Field(default=None, title="电话")
    metrics: TeamMetrics
    basic_formal_unit: bool | None = Field(default=None, title="班组是企业最基础的正式组织单元（申报条件 2）")
    accidents_last_three_years: AccidentsLastThreeYears | None = Field(
        default=None, title="近三年质量、安全、环保事故（申报条件 6）"
    )
    commitments: Commitments | None = Field(default=None, title="组织承诺")
    materials: TeamMaterials = Field(title="质量信得过班组主要创建材料")
    attachments: list[Attachment] = Field(max_length=20, title="附件（单位简称+班组名称）")

    def natural_key(self) -> tuple[str, ...]:
        return (self.kind.value, self.team_name)

    @property
    def display_name(self) -> str:
        return self.team_name


EntryFormVariant = Annotated[QcAchievementForm | TeamExperienceForm, Field(discriminator="kind")]


# ---------------------------------------------------------------- entry events


@contract("EntrySubmitted", family=FAMILY, version=1)
class EntrySubmitted(ProfileStamped):
    season_id: str
    entry_id: str
    form: EntryFormVariant


@contract("EntryAmended", family=FAMILY, version=1)
class EntryAmended(ProfileStamped):
    """The whole form as amended, and which of its fields changed."""

    season_id: str
    entry_id: str
    form: EntryFormVariant
    changed: list[str] = Field(min_length=1)


class Withdrawal(Payload):
    reason: str = Field(min_length=2, max_length=500, title="撤回原因")


@contract("EntryWithdrawn", family=FAMILY, version=1)
class EntryWithdrawn(Withdrawal):
    season_id: str
    entry_id: str
    credit_code: CreditCode


class Confirmation(Payload):
    """单位通道: the unit's self-evaluation, its 申报推荐意见 and the sealed form (成果评分与推荐意见表)."""

    self_evaluation: str = Field(min_length=2, max_length=5000, title="自我评价")
    self_score: Decimal | None = Field(default=None, ge=0, le=100, max_digits=5, decimal_places=2, title="成果评分")
    opinion: str = Field(min_length=2, max_length=2000, title="本单位申报推荐意见")
    sealed_form: Attachment = Field(title="加盖公章的申报推荐意见")
    sealed_on: date | None = Field(default=None, title="盖章日期")


@contract("UnitConfirmed", family=FAMILY, version=1)
class UnitConfirmed(Confirmation):
    season_id: str
    entry_id: str
    credit_code: CreditCode
