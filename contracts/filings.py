"""The `submitted` family's filings: what recommending units file through 推荐通道 (or the organizer for the direct
channel): the statistics tables (统计表: the QC variant of the 2024 Shandong notice, the team variant of the 2024
Shanghai notice) and the work summary (工作总结). Their values' formats are the family's (`contracts.submitted`);
the rates are derived by `contracts.rates`.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from contracts.codes import ActivityKind, LabelledEnum, ReviewForm
from contracts.common import Payload
from contracts.identity import Email, Mobile, Postcode
from contracts.profiles import ProfileStamped
from contracts.rates import RATE_FIGURES, RATE_FORMULAS, DerivedRate
from contracts.registered import RecommenderId
from contracts.registry import contract
from contracts.submitted import FAMILY, Amount, Count, GroupCount, Percentage, Text, refused

# ---------------------------------------------------------------- statistics tables

MONTH = r"^\d{4}-(0[1-9]|1[0-2])$"


class Period(Payload):
    """统计期: e.g. 2023-07 to 2024-06 (Shandong) or 2023-01 to 2023-12 (Shanghai)."""

    first_month: str = Field(pattern=MONTH, title="起始年月")
    last_month: str = Field(pattern=MONTH, title="截止年月")

    @property
    def key(self) -> str:
        return f"{self.first_month}..{self.last_month}"

    @property
    def months(self) -> int:
        def index(value: str) -> int:
            year, month = value.split("-")
            return int(year) * 12 + int(month)

        return index(self.last_month) - index(self.first_month) + 1


class StatisticsContact(Payload):
    """工作归口部门及负责人, 联系人, 手机, 邮箱, 通信地址, 邮编."""

    department: str = Field(min_length=1, max_length=100, title="工作归口部门")
    head: str = Field(min_length=1, max_length=50, title="负责人")
    name: str = Field(min_length=1, max_length=50, title="联系人")
    mobile: Mobile = Field(title="联系人手机")
    email: Email = Field(title="联系人邮箱")
    address: str = Field(min_length=2, max_length=200, title="通信地址")
    postcode: Postcode = Field(title="邮编")


class FilingForm(Payload):
    period: Period = Field(title="统计期")
    contact: StatisticsContact
    filled_by: str | None = Field(default=None, max_length=50, title="填表人")
    filled_on: date | None = Field(default=None, title="填表日期")

    @model_validator(mode="before")
    @classmethod
    def no_typed_rates(cls, data: Any) -> Any:
        """A rate is typed in or derived, never both: given with the counts behind it, a typed rate is refused,
        naming what to give instead (whether the season's form asks for typed rates is its profile's to say)."""
        if isinstance(data, dict):
            typed = [
                key for key in data
                if key == "derived" or (
                    key in RATE_FIGURES and data[key] is not None
                    and all(data.get(figure) is not None for figure in RATE_FIGURES[key])
                )
            ]
            if typed:
                raise refused(
                    "stats.rate.derived",
                    "rates are computed by the platform from the counts behind them ("
                    + "; ".join(RATE_FORMULAS.values()) + "); leave out " + ", ".join(typed),
                    *((key,) for key in typed),
                )
        return data


class QcStatisticsForm(FilingForm):
    """质量管理小组活动统计表 (Shandong 附件2). By the season's profile: counts of groups in 个 with the two rates
    derived from the counts behind them (the default), or as the Shandong table prints it, in 万个 with the
    rates typed in as percentages."""

    kind: Literal[ActivityKind.QC_GROUP] = ActivityKind.QC_GROUP
    registered_groups_cumulative: GroupCount = Field(title="历年来已登记注册QC小组累计数（个）")
    registered_groups: GroupCount = Field(title="本年度已登记注册QC小组数（个）")
    participants: Count | None = Field(default=None, title="参加QC小组人数")
    total_staff: Count | None = Field(default=None, title="职工总数")
    participation_rate: Percentage | None = Field(default=None, title="本年度QC小组普及率（%）")
    active_groups: GroupCount = Field(title="本年度坚持活动的QC小组数（个）")
    groups_with_results: Count | None = Field(default=None, title="取得成果小组数（个）")
    achievement_rate: Percentage | None = Field(default=None, title="本年度QC小组成果率（%）")
    economic_benefit_cumulative: Amount = Field(title="历年来累计QC小组创可计算的经济效益（万元）")
    economic_benefit: Amount = Field(title="本年度QC小组创可计算的经济效益（万元）")
    funding: Amount = Field(title="本年度企业对QC小组活动经费投入（培训、交流、书籍等费用）（万元）")
    rewards: Amount = Field(title="本年度企业对QC小组活动奖励费用（万元）")
    training_sessions: Count = Field(title="参加省、市、行业质协组织的培训/交流次数")
    training_participants: Count = Field(title="参加省、市、行业质协组织的培训/交流人数")
    features_and_suggestions: Text = Field(title="本年度QC小组活动主要特点与建议")


class ExchangeArrangement(LabelledEnum):
    """How the team experiences' exchange is held (the statistics table's last two boxes)."""

    JOINT_WITH_QC = "joint_with_qc", "与QC小组合开"
    SEPARATE = "separate", "单独举办"


class PresentationMeeting(Payload):
    """是否组织发表会: 是, with its figures."""

    registered_teams: Count = Field(title="发表会报名班组数")
    presented_teams: Count = Field(title="发表班组数")
    held_on: str = Field(min_length=1, max_length=50, title="发表会时间")
    place: str = Field(min_length=1, max_length=200, title="发表会地点")
    attendees: Count = Field(title="参会人数")


class TeamStatisticsForm(FilingForm):
    """“质量信得过班组”建设活动成果统计表 (Shanghai 附件6; Shandong 附件5 asks for a subset)."""

    kind: Literal[ActivityKind.TEAM] = ActivityKind.TEAM
    enterprises: Count | None = Field(default=None, title="本年度开展质量信得过班组企业数（个）")
    teams: Count = Field(title="本年度开展质量信得过班组数（个）")
    teams_cumulative: Count = Field(title="历年质量信得过班组累计数（个）")
    participating_staff: Count = Field(title="本年度参与质量信得过班组活动员工数（人次）")
    teams_recommended: Count = Field(title="本年度推荐上海市质量信得过班组数（个）")
    funding: Amount = Field(title="本年度对质量信得过班组活动经费投入（培训、交流、规范化等）（万元）")
    rewards: Amount = Field(title="本年度对质量信得过班组活动奖励费用（万元）")
    caq_certified_judges: Count | None = Field(default=None, title="取得中国质协评委证书人数（0 为无）")
    features_and_problems: Text = Field(title="本年度开展质量信得过班组建设活动主要特点与问题")
    review_forms: list[ReviewForm] = Field(default_factory=list, max_length=3, title="评审形式（发表评审、资料评审、现场评审）")
    exchange: ExchangeArrangement | None = Field(default=None, title="交流形式（与QC小组合开、单独举办）")
    presentation_meeting: PresentationMeeting | None = Field(default=None, title="发表会（未组织则不填）")


StatisticsFormVariant = Annotated[QcStatisticsForm | TeamStatisticsForm, Field(discriminator="kind")]


@contract("StatisticsFiled", family=FAMILY, version=1)
class StatisticsFiled(ProfileStamped):
    season_id: str
    recommender_id: RecommenderId
    kind: ActivityKind
    form: StatisticsFormVariant
    derived: dict[str, DerivedRate] = Field(default_factory=dict)


@contract("StatisticsAmended", family=FAMILY, version=1)
class StatisticsAmended(StatisticsFiled):
    """The same period's table filed again: it replaces the earlier figures."""


# ---------------------------------------------------------------- work summary


class PromotionActivity(Payload):
    """推进活动开展情况 (列表说明): 活动时间、地点、名称、内容/形式、参与人数."""

    held_on: str = Field(min_length=1, max_length=50, title="活动时间")
    place: str = Field(min_length=1, max_length=200, title="地点")
    name: str = Field(min_length=1, max_length=200, title="名称")
    form: str = Field(min_length=1, max_length=500, title="内容/形式")
    participants: Count = Field(title="参与人数")


SUMMARY_PARTS = {
    "basics": "一、基本情况",
    "methods_and_results": "二、推进经验和做法",
    "problems_and_next_steps": "三、存在问题及改进方向",
}


def summary_characters(*parts: str) -> int:
    """字数: the characters of the text, not counting white space."""
    return sum(len(re.sub(r"\s", "", part)) for part in parts)


class WorkSummaryForm(Payload):
    """推进工作总结: three parts (一、基本情况; 二、推进经验和做法; 三、存在问题及改进方向)."""

    period: Period = Field(title="总结期")
    basics: str = Field(max_length=100_000, title=SUMMARY_PARTS["basics"])
    methods_and_results: str = Field(max_length=100_000, title=SUMMARY_PARTS["methods_and_results"])
    problems_and_next_steps: str = Field(max_length=100_000, title=SUMMARY_PARTS["problems_and_next_steps"])
    activities: list[PromotionActivity] = Field(default_factory=list, max_length=200, title="推进活动一览")

    @property
    def characters(self) -> int:
        return summary_characters(*(getattr(self, name) for name in SUMMARY_PARTS))


@contract("WorkSummaryFiled", family=FAMILY, version=1)
class WorkSummaryFiled(ProfileStamped):
    season_id: str
    recommender_id: RecommenderId
    kind: ActivityKind
    form: WorkSummaryForm
    characters: int = Field(ge=0, description="字数 without white space, as counted when filed")


@contract("WorkSummaryAmended", family=FAMILY, version=1)
class WorkSummaryAmended(WorkSummaryFiled):
    """The same period's summary filed again: it replaces the earlier text."""
