"""The `recommended` family: recommendations (推荐表) by recommending units, the secretariat's direct
acceptance, revocations, and the organizer's formal review (资料形式审查).

The recommendation form is the 推荐表 of the 2024 Shanghai notices (附件5): per entry the material
evaluation (符合标准程度 / 特色 / 不足之处), 打分, 排序, 评委 and 推荐意见; the judges with their TGQ
certificate numbers; the signed 推荐声明; 填表人, 电话, 填表日期. The payload models carry the shape;
the rules (quotas, windows, who recommends whom) are the review service's domain.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from contracts.codes import ActivityKind, LabelledEnum, QcAchievementType
from contracts.common import Payload
from contracts.identity import CreditCode, Email, Mobile, Phone
from contracts.registered import CertificateNo
from contracts.registry import contract

FAMILY = "recommended"

# 推荐声明, as printed on the 推荐表 (2024 Shanghai team notice, 附件5; the QC form carries the same).
RECOMMENDATION_DECLARATION = (
    "本单位遵守上海市群众性质量提升活动的有关规定，承诺遵守评审工作纪律，所提供的推荐申报材料真实有效，"
    "且不存在任何违反《中华人民共和国保守国家秘密法》等相关法律法规及侵犯他人知识产权的情形。"
    "如存在争议，将积极调查处理。如存在材料虚假或违纪行为，将承担相应责任。"
)


def _two_places(value: Decimal) -> Decimal:
    if not value.is_finite() or value.as_tuple().exponent < -2:  # type: ignore[operator]
        raise PydanticCustomError("score.precision", "a score has at most 2 decimal places; {value} has more",
                                  {"value": str(value)})
    return value


RecommenderScore = Annotated[Decimal, Field(ge=0, le=100), AfterValidator(_two_places)]


class RecommendationJudge(Payload):
    """评委名单: 姓名, 工作单位, TGQ 评委证书号, 通讯地址, E-mail, 手机."""

    name: str = Field(min_length=1, max_length=50, title="姓名")
    work_unit: str = Field(min_length=2, max_length=100, title="工作单位")
    certificate_no: CertificateNo = Field(title="TGQ 评委证书号")
    address: str | None = Field(default=None, max_length=200, title="通讯地址")
    email: Email | None = Field(default=None, title="E-mail")
    mobile: Mobile | None = Field(default=None, title="手机")


class Declaration(Payload):
    """推荐声明: accepted as printed, signed by a named person on a date."""

    accepted: bool = Field(title="已阅读并接受推荐声明")
    signer: str = Field(min_length=1, max_length=50, title="签署人")
    signed_on: date = Field(title="签署日期")


class RecommendationForm(Payload):
    """One entry's line of the 推荐表, with the form's judges, declaration and filler."""

    conformance: str = Field(min_length=2, max_length=2000, title="材料评价：符合标准程度")
    features: str = Field(min_length=2, max_length=2000, title="材料评价：特色")
    shortcomings: str = Field(min_length=2, max_length=2000, title="材料评价：不足之处")
    score: RecommenderScore = Field(title="打分")
    rank: int = Field(ge=1, le=10_000, title="排序")
    opinion: str = Field(min_length=2, max_length=2000, title="推荐意见")
    judges: list[RecommendationJudge] = Field(min_length=1, max_length=30, title="评委")
    declaration: Declaration = Field(title="推荐声明")
    filled_by: str = Field(min_length=1, max_length=50, title="填表人")
    phone: Phone = Field(title="电话")
    filled_on: date = Field(title="填表日期")


class EntrySummary(Payload):
    """What the recommendation names of the entry, as review's projection knew it then."""

    season_id: str = Field(min_length=1, max_length=64)
    entry_id: str = Field(min_length=1, max_length=64)
    credit_code: CreditCode = Field(title="统一社会信用代码")
    unit_name: str = Field(min_length=2, max_length=100, title="企业名称")
    entry_name: str = Field(min_length=1, max_length=300, title="小组/班组名称（课题）")
    kind: ActivityKind
    qc_type: QcAchievementType | None = Field(default=None, title="课题类型")
    team_type: str | None = Field(default=None, max_length=50, title="班组类型")
    team_size: int | None = Field(default=None, ge=1, title="班组人数 / 小组人数")


@contract("EntryRecommended", family=FAMILY, version=1)
class EntryRecommended(EntrySummary, RecommendationForm):
    """推荐通道: a recommending unit recommends one of its units' entries within its quota."""

    recommender_id: str = Field(min_length=1, max_length=64)
    declaration_text: str = Field(default=RECOMMENDATION_DECLARATION, max_length=2000, title="推荐声明（文本）")


class DirectEligibility(LabelledEnum):
    """Why a member unit may use the direct channel (2024 Shanghai team notice, 成果推荐: 本会会员单位属外商企业
    与“专精特新”类、高新技术类的民营企业)."""

    FOREIGN_INVESTED = "foreign_invested", "外商投资企业"
    SPECIALIZED_PRIVATE = "specialized_private", "“专精特新”类民营企业"
    HIGH_TECH_PRIVATE = "high_tech_private", "高新技术类民营企业"


class DirectAcceptance(Payload):
    """The secretariat's acceptance of an entry of the direct channel (经市质协秘书处确认后直接申报)."""

    opinion: str = Field(min_length=2, max_length=2000, title="秘书处确认意见")
    eligibility: DirectEligibility | None = Field(
        default=None,
        title="直接受理依据",
        description="why the unit may use the direct channel; derived from its 报名表 when left out (外资/合资: "
        "外商投资企业; 民营 with 重点领域 “专精特新”: “专精特新”类民营企业). The 报名表 has no high-tech box: the "
        "secretariat names high_tech_private when it has checked it. Events before this rule carry none.",
    )


@contract("EntryAcceptedDirectly", family=FAMILY, version=1)
class EntryAcceptedDirectly(EntrySummary, DirectAcceptance):
    """其他-市质协会员与质量推进部: the secretariat accepts an entry that no recommending unit recommends."""

    recommender_id: str | None = Field(default=None, max_length=64, description="the season's direct channel, if registered")


class Revocation(Payload):
    reason: str = Field(min_length=2, max_length=500, title="撤销推荐原因")


@contract("RecommendationRevoked", family=FAMILY, version=1)
class RecommendationRevoked(Revocation):
    """The recommendation (or direct acceptance) is withdrawn while the recommendation window is open; its quota is freed."""

    season_id: str
    entry_id: str
    recommender_id: str | None = None


@contract("RecommendationWithdrawn", family=FAMILY, version=1)
class RecommendationWithdrawn(Payload):
    """推荐无效: compensating, recorded by review when the organizer cancelled the recommending unit's right to
    recommend (RecommenderCancelled, 取消推荐资格); its quota is freed. Names the cancellation it follows."""

    season_id: str = Field(min_length=1, max_length=64)
    entry_id: str = Field(min_length=1, max_length=64)
    recommender_id: str = Field(min_length=1, max_length=64)
    reason: str = Field(min_length=2, max_length=500, title="取消推荐资格原因")
    previous_progress: str = Field(min_length=1, max_length=40, description="where the entry stood in review")
    cause_event_id: str = Field(min_length=1, max_length=64, description="the RecommenderCancelled event's id")
    rule: str = Field(default="recommendation.recommender.cancelled", max_length=80)


@contract("FormalReviewPassed", family=FAMILY, version=1)
class FormalReviewPassed(Payload):
    """资料形式审查 passed: the entry goes on to the expert panel (judge assignment starts from this event)."""

    season_id: str = Field(min_length=1, max_length=64)
    entry_id: str = Field(min_length=1, max_length=64)
    credit_code: CreditCode = Field(description="the entry's unit (conflicts of interest)")
    recommender_id: str | None = Field(default=None, max_length=64, description="the recommending unit, if any")
    kind: ActivityKind


Reason = Annotated[str, Field(min_length=2, max_length=500)]


class FormalReviewDecision(Payload):
    """The organizer's 资料形式审查 of one entry: passed, or failed with its reasons."""

    outcome: Literal["passed", "failed"] = Field(title="形式审查结论")
    reasons: list[Reason] = Field(default_factory=list, max_length=20, title="不通过原因")


class FormalReviewFailure(Payload):
    reasons: list[Reason] = Field(min_length=1, max_length=20, title="不通过原因")


@contract("FormalReviewFailed", family=FAMILY, version=1)
class FormalReviewFailed(FormalReviewFailure):
    """资料形式审查 failed, with its reasons; the entry may be corrected and resubmitted."""

    season_id: str
    entry_id: str
    credit_code: CreditCode
    recommender_id: str | None = None
    entry_version: int = Field(ge=1, description="the entry's version (submission's) that was reviewed")


class Resubmission(Payload):
    note: str | None = Field(default=None, max_length=1000, title="更正说明")


@contract("FormalReviewResubmitted", family=FAMILY, version=1)
class FormalReviewResubmitted(Resubmission):
    """The corrected entry goes back to formal review."""

    season_id: str
    entry_id: str
    entry_version: int = Field(ge=1, description="the corrected entry's version (submission's)")
