"""The `registered` family: seasons, unit registrations, recommending units and judges.

The payload models carry the shape of each event (types, codes, formats); the rules that
relate fields to each other or to what is stored are the registration service's domain
(services/registration/domain), so a rule added later never makes an old event unreadable.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints, WithJsonSchema, model_validator
from pydantic_core import PydanticCustomError

from contracts.codes import (
    ActivityKind,
    Channel,
    KeyDomain,
    KeyIndustry,
    QcAchievementType,
    RecommenderCategory,
    RegistrationIntent,
    Stage,
    UnitNature,
)
from contracts.common import Contact, ContactPerson, Payload, Window
from contracts.identity import CreditCode, Email, Mobile, Postcode, RegionCode
from contracts.profiles import ProfileRef, ProfileStamped
from contracts.registry import contract, upcaster
from contracts.review_rounds import (
    Code,
    GradeBand,
    ReviewRound,
    Rubric,
    rounds_of_v2,
)

FAMILY = "registered"

SEASON_ID_PATTERN = r"^([0-9]{6}|CAQ)-[0-9]{4}-(qc_group|team)$"

RECOMMENDER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
RecommenderId = Annotated[str, StringConstraints(pattern=RECOMMENDER_ID_PATTERN)]


def _compact_certificate(value: object) -> object:
    return re.sub(r"\s+", "", value).upper() if isinstance(value, str) else value


def _certificate_format(value: str) -> str:
    if not re.fullmatch(r"[0-9A-Z\u4e00-\u9fff][0-9A-Z\u4e00-\u9fff\-/]{2,49}", value):
        raise PydanticCustomError(
            "judge.certificate_no.format",
            "TGQ 评委证书号 is 3 to 50 letters, digits or hyphens, as printed on the judge's certificate",
        )
    return value


CertificateNo = Annotated[
    str,
    BeforeValidator(_compact_certificate),
    AfterValidator(_certificate_format),
    WithJsonSchema({"type": "string", "minLength": 3, "maxLength": 50, "description": "TGQ 评委证书号",
                    "pattern": "^[0-9A-Za-z\u4e00-\u9fff][0-9A-Za-z\u4e00-\u9fff/-]{2,49}$"}),
]


# --- seasons -----------------------------------------------------------------------------


class QuotaRule(Payload):
    """推荐名额: how many entries a recommending unit may recommend per participating unit.

    QC groups (Shanghai 2020): at most 2 per unit, one 问题解决型 and one 创新型.
    Teams (Shanghai 2024): 2-3 per unit, of different team types; the organizer may grant
    a strong recommending unit more (RecommenderQuotaRaised).
    """

    per_unit_min: int = Field(default=0, ge=0, le=50)
    per_unit_max: int = Field(ge=1, le=50)
    per_type_max: dict[QcAchievementType, Annotated[int, Field(ge=0, le=50)]] = Field(default_factory=dict)
    distinct_team_types: bool = False


def default_quota(kind: ActivityKind | str) -> QuotaRule:
    """The quota the sources state for the activity kind."""
    if ActivityKind(kind) is ActivityKind.QC_GROUP:
        return QuotaRule(
            per_unit_max=2, per_type_max={QcAchievementType.PROBLEM_SOLVING: 1, QcAchievementType.INNOVATION: 1}
        )
    return QuotaRule(per_unit_min=2, per_unit_max=3, distinct_team_types=True)


class ProvinceQuota(Payload):
    """全国推荐名额: how many entries each province may recommend to a national season (CAQ allots them)."""

    per_province: int = Field(ge=1, le=1000, description="every province's quota unless named below")
    provinces: dict[Annotated[str, Field(pattern=r"^[0-9]{6}$")], Annotated[int, Field(ge=0, le=1000)]] = Field(
        default_factory=dict, description="a province's own quota where it differs, by GB/T 2260 code"
    )

    def of(self, province: str) -> int:
        return self.provinces.get(province, self.per_province)


@contract("SeasonOpened", family=FAMILY, version=3)
class SeasonOpened(ProfileStamped):
    season_id: str = Field(pattern=SEASON_ID_PATTERN)
    profile: ProfileRef | None = Field(
        default=None,
        description="the season's form profile, a built-in one (contracts.builtin_profiles); left out, Shanghai's of "
        "the season's kind, the forms before profiles",
    )
    organizer: RegionCode
    organizer_name: str = Field(min_length=2, max_length=100)
    year: int = Field(ge=2000, le=2100)
    kind: ActivityKind
    title: str = Field(min_length=2, max_length=200)
    time_zone: str = "Asia/Shanghai"
    windows: dict[Stage, Window]
    channels: list[Channel] = Field(min_length=1)
    quota: QuotaRule = Field(description="the kind's quota (default_quota) when not given")
    rubrics: list[Rubric] = Field(default_factory=list, max_length=20)
    grade_bands: list[GradeBand] = Field(default_factory=list, max_length=10)
    # --- review rounds (schema version 3) ---
    formal_review: Window | None = Field(
        default=None,
        description="形式审查: its own window (e.g. Shanghai 2020: by 07-20); left out, from the 推荐 window's opening "
        "to the 评审 window's closing",
    )
    rounds: list[ReviewRound] = Field(
        default_factory=lambda: [ReviewRound.model_validate(item) for item in rounds_of_v2(None, None)],
        min_length=1,
        max_length=10,
        description="the review rounds in their order; left out, 文审 then 发表赛 in the 评审 window",
    )
    grade_not_advanced: bool = Field(
        default=False,
        description="成果等级 of entries a gate did not advance: graded from the rounds they took part in (true), "
        "or not graded (false, e.g. Shandong: only entries that pass 初审 present and are graded)",
    )
    # --- end of review rounds ---
    # --- rules of the source documents a season may switch on (optional; left out, none applies) ---
    filings_before_recommending: bool = Field(
        default=False,
        description="基础性条件 (2020 Shanghai QC notice, 推荐要求 2): a recommending unit files its 统计表 and 工作总结 "
        "before its recommendations are taken",
    )
    entries_per_unit_max: int | None = Field(
        default=None, ge=1, le=50,
        description="申报 limit per participating unit (2024 Shanghai team notice: 每家活动单位申报成果数量为 2-3 个); "
        "withdrawn entries do not count; left out, no limit",
    )
    # --- national flow (issue 10): optional, so seasons opened before read as before
    province_quota: ProvinceQuota | None = Field(
        default=None, description="a national season's quota per recommending province; no quota when left out"
    )

    @model_validator(mode="before")
    @classmethod
    def quota_of_the_kind(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("quota") is None and data.get("kind") in {k.value for k in ActivityKind}:
            return data | {"quota": default_quota(data["kind"]).model_dump(mode="json")}
        return data

    @model_validator(mode="before")
    @classmethod
    def rounds_of_stage_fields(cls, data: Any) -> Any:
        """Stage weights and judges per entry, as a season was opened before rounds, still open one: they become
        its two rounds (the same as the upcaster gives a stored version 2 season)."""
        if isinstance(data, dict) and ("stage_weights" in data or "judges_per_entry" in data) and not data.get("rounds"):
            data = dict(data)
            data["rounds"] = rounds_of_v2(data.pop("stage_weights", None), data.pop("judges_per_entry", None))
        return data

    def round(self, code: str) -> ReviewRound | None:
        return next((item for item in self.rounds if item.code == code), None)


@upcaster("SeasonOpened", from_version=1)
def season_opened_v1_to_v2(payload: dict[str, Any]) -> dict[str, Any]:
    """Version 1 had no quota, rubrics or grade bands: the kind's quota applies, none of the others."""
    return payload | {"quota": default_quota(payload["kind"]).model_dump(mode="json"), "rubrics": [], "grade_bands": []}


@upcaster("SeasonOpened", from_version=2)
def season_opened_v2_to_v3(payload: dict[str, Any]) -> dict[str, Any]:
    """Version 2 had stage weights and judges per entry for the two fixed stages: they become its two rounds."""
    data = dict(payload)
    rounds = rounds_of_v2(data.pop("stage_weights", None), data.pop("judges_per_entry", None))
    return data | {"formal_review": None, "rounds": rounds, "grade_not_advanced": False}

# 申报表 note 3 (2024 Shanghai team notice): 需以“**班”、“**组”、“**工段”或“**室”等为名; never “**班组”.
DEFAULT_TEAM_NAME_SUFFIXES = ("班", "组", "工段", "室")
REFUSED_TEAM_NAME_SUFFIX = "班组"


@contract("TeamNameSuffixApproved", family=FAMILY, version=1)
class TeamNameSuffixApproved(Payload):
    """The organizer approves a further ending of team names for a team season (申报表 note 3: 以“**班”、“**组”、
    “**工段”或“**室”等为名; 等 leaves room for 车间, 站, 队 …). A name ending in 班组 stays refused."""

    season_id: str
    suffix: str = Field(min_length=1, max_length=4, pattern=r"^[\u4e00-\u9fff]{1,4}$", title="班组名称结尾")
    reason: str = Field(min_length=2, max_length=500)


@contract("SeasonWindowChanged", family=FAMILY, version=1)
class SeasonWindowChanged(Payload):
    season_id: str
    stage: Stage
    window: Window
    reason: str = Field(min_length=2, max_length=500)
    round: Code | None = Field(
        default=None,
        description="a review round's own window (stage review), or formal_review for 形式审查; none for the stage's",
    )


# --- unit registrations (报名表) ------------------------------------------------------------


class Promoter(Contact):
    """活动推进者: name, 部门及职务, 手机, E-mail."""

    mobile: Mobile
    email: Email


class UnitRegistrationForm(Payload):
    """报名表: the registration form of a participating unit (2024 Shanghai 报名表). The season's profile
    (contracts.profiles) says which fields its 报名表 asks for."""

    credit_code: CreditCode
    unit_name: str = Field(min_length=2, max_length=100, description="单位名称: 全称，与公章一致，不挂上级单位")
    short_name: str | None = Field(default=None, max_length=30, description="单位简称 (attachment names)")
    member: bool | None = Field(default=None, description="会员单位 是/否")
    unit_nature: UnitNature | None = None
    unit_nature_other: str | None = Field(default=None, max_length=50, description="单位性质 其他: ____")
    key_industries: list[KeyIndustry] = Field(default_factory=list, max_length=30, description="重点产业 (可多选)")
    key_industry_other: str | None = Field(default=None, max_length=100, description="重点产业 其他: ____")
    key_domain: KeyDomain | None = Field(default=None, description="重点领域 (单选)")
    address: str = Field(min_length=2, max_length=200, description="详细地址")
    postcode: Postcode
    managing_department: str | None = Field(default=None, max_length=100, description="活动归口管理部门")
    promoter: Promoter
    intents: list[RegistrationIntent] = Field(
        default_factory=list, min_length=1, max_length=3, description="申报意向 (可多选)"
    )
    recommender_id: RecommenderId | None = Field(default=None, description="推荐单位, registered for the season")


def _industries_as_codes(data: dict[str, Any]) -> dict[str, Any]:
    """Free-text key industries of older versions become codes; what matches no code goes to 其他."""
    data = dict(data)
    codes: list[str] = []
    unknown: list[str] = []
    for item in data.get("key_industries") or []:
        member = KeyIndustry.from_label(str(item))
        if member is None:
            unknown.append(str(item))
        elif member.value not in codes:
            codes.append(member.value)
    if unknown:
        if KeyIndustry.OTHER.value not in codes:
            codes.append(KeyIndustry.OTHER.value)
        data["key_industry_other"] = "、".join(filter(None, [data.get("key_industry_other"), *unknown]))[:100]
    data["key_industries"] = codes
    return data


@contract("UnitRegistered", family=FAMILY, version=3)
class UnitRegistered(ProfileStamped, UnitRegistrationForm):
    season_id: str
    intents: list[RegistrationIntent] = Field(
        default_factory=list, max_length=3, description="申报意向 (可多选); none where the season's 报名表 has no such box"
    )


@upcaster("UnitRegistered", from_version=1)
def unit_registered_v1_to_v2(payload: dict[str, Any]) -> dict[str, Any]:
    """Version 1 carried one key industry as a string; the form allows several."""
    data = dict(payload)
    single = data.pop("key_industry", None)
    data["key_industries"] = [single] if single else []
    return data


@upcaster("UnitRegistered", from_version=2)
def unit_registered_v2_to_v3(payload: dict[str, Any]) -> dict[str, Any]:
    """Version 2 carried key industries as free strings; version 3 as the form's codes."""
    return _industries_as_codes(payload)


@contract("UnitRegistrationAmended", family=FAMILY, version=2)
class UnitRegistrationAmended(ProfileStamped, UnitRegistrationForm):
    season_id: str
    intents: list[RegistrationIntent] = Field(
        default_factory=list, max_length=3, description="申报意向 (可多选); none where the season's 报名表 has no such box"
    )


@upcaster("UnitRegistrationAmended", from_version=1)
def unit_registration_amended_v1_to_v2(payload: dict[str, Any]) -> dict[str, Any]:
    """Version 1 carried key industries as free strings; version 2 as the form's codes."""
    return _industries_as_codes(payload)


# --- recommending units (推荐单位) ----------------------------------------------------------


class RecommenderForm(Payload):
    """A recommending unit as the organizer registers it for a season."""

    recommender_id: RecommenderId | None = Field(
        default=None, description="a short code of the organizer's choice; derived from the name when left out"
    )
    name: str = Field(min_length=2, max_length=100, description="推荐单位名称, e.g. 徐汇区市场监督管理局")
    category: RecommenderCategory
    region_code: RegionCode | None = Field(default=None, description="区/市: its GB/T 2260 code")
    contacts: list[ContactPerson] = Field(default_factory=list, max_length=10, description="联系人")
    address: str | None = Field(default=None, max_length=200, description="通信地址")
    postcode: Postcode | None = None


@contract("RecommenderRegistered", family=FAMILY, version=2)
class RecommenderRegistered(Payload):
    season_id: str
    recommender_id: RecommenderId
    name: str = Field(min_length=2, max_length=100)
    category: RecommenderCategory
    region_code: RegionCode | None = None
    contacts: list[ContactPerson] = Field(default_factory=list, max_length=10)
    address: str | None = Field(default=None, max_length=200)
    postcode: Postcode | None = None


@upcaster("RecommenderRegistered", from_version=1)
def recommender_registered_v1_to_v2(payload: dict[str, Any]) -> dict[str, Any]:
    """Version 1 had a name and category only."""
    return {"contacts": [], "region_code": None, "address": None, "postcode": None} | payload


@contract("RecommenderCancelled", family=FAMILY, version=1)
class RecommenderCancelled(Payload):
    """取消推荐资格: the organizer voids a recommending unit's right to recommend (e.g. it charged fees: 2020 Shanghai QC
    notice 推荐要求 4, CAQ 2024 notice 其他要求 (一)); review withdraws its recommendations (RecommendationWithdrawn)."""

    season_id: str
    recommender_id: RecommenderId
    reason: str = Field(min_length=2, max_length=500, title="取消推荐资格原因")


@contract("RecommenderQuotaRaised", family=FAMILY, version=1)
class RecommenderQuotaRaised(Payload):
    """The organizer grants one recommending unit a larger quota than the season's (推荐成果名额可适当增加)."""

    season_id: str
    recommender_id: RecommenderId
    quota: QuotaRule
    previous: QuotaRule
    reason: str = Field(min_length=2, max_length=500)


# --- judges (评委) ---------------------------------------------------------------------------


class JudgeForm(Payload):
    """评委名单 (推荐表): 姓名, 工作单位, TGQ 评委证书号, 通讯地址, E-mail, 手机."""

    name: str = Field(min_length=1, max_length=50)
    work_unit: str = Field(min_length=2, max_length=100, description="工作单位 (conflicts of interest)")
    work_unit_credit_code: CreditCode | None = Field(default=None, description="the work unit's 统一社会信用代码, if known")
    certificate_no: CertificateNo
    address: str = Field(min_length=2, max_length=200, description="通讯地址")
    email: Email
    mobile: Mobile
    recommender_id: RecommenderId | None = Field(
        default=None, description="the recommending unit whose panel the judge sits on; none for the organizer's"
    )


@contract("JudgeRegistered", family=FAMILY, version=2)
class JudgeRegistered(Payload):
    season_id: str
    judge_id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=50)
    work_unit: str = Field(min_length=2, max_length=100)
    work_unit_credit_code: CreditCode | None = None
    certificate_no: str = Field(min_length=1, max_length=50, description="TGQ 评委证书号")
    address: str | None = Field(default=None, max_length=200)
    mobile: Mobile
    email: Email
    recommender_id: RecommenderId | None = None


@upcaster("JudgeRegistered", from_version=1)
def judge_registered_v1_to_v2(payload: dict[str, Any]) -> dict[str, Any]:
    """Version 1 had no address, work unit code or recommending unit."""
    return {"address": None, "work_unit_credit_code": None, "recommender_id": None} | payload
